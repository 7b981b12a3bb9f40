/**
 * holdApplicationUntilProxyStarts through `clew kube-inject` (the webhook runs the same function
 * with the control plane's mesh config): the MeshConfig default (`--mesh-config`, a file or the
 * istio ConfigMap) puts the sidecar first with a postStart hook that waits for its readiness
 * (regular sidecar) or relies on the native sidecar's startupProbe; the pod's
 * `proxy.istio.io/config` annotation overrides the default either way; a bad value is refused
 * with the file and resource named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CLEW_BIN } from '../helpers/paths.js';

const deployment = (name: string, annotations: Record<string, string> = {}) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata:
      labels: {app: ${name}}
      annotations: ${JSON.stringify(annotations)}
    spec:
      containers:
        - {name: app, image: app, ports: [{containerPort: 8080}]}
`;

function kubeInject(dir: string, manifest: string, args: string[]): { status: number | null; docs: any[]; stderr: string } {
  const file = path.join(dir, `m-${Math.random().toString(16).slice(2)}.yaml`);
  fs.writeFileSync(file, manifest);
  const r = spawnSync(process.execPath, [CLEW_BIN, 'kube-inject', '-f', file, ...args], { encoding: 'utf8' });
  return { status: r.status, docs: r.status === 0 ? parseAllDocuments(r.stdout).map((d) => d.toJS()) : [], stderr: r.stderr };
}

const names = (cs: any[] | undefined) => (cs ?? []).map((c) => c.name);

test('holdApplicationUntilProxyStarts: the mesh default and the pod annotation, regular and native sidecars', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-inject-hold-'));
  try {
    const meshOn = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(meshOn, 'defaultConfig:\n  holdApplicationUntilProxyStarts: true\n');
    const cm = path.join(dir, 'istio-cm.yaml');
    fs.writeFileSync(cm, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    defaultConfig:\n      holdApplicationUntilProxyStarts: true\n');
    const manifest = [
      deployment('plain'),
      deployment('off', { 'proxy.istio.io/config': 'holdApplicationUntilProxyStarts: false' }),
      deployment('on', { 'proxy.istio.io/config': '{"holdApplicationUntilProxyStarts": true}' }),
    ].join('---\n');
    const spec = (docs: any[], name: string) => docs.find((d) => d.metadata.name === name).spec.template.spec;
    const held = (s: any) => {
      assert.deepEqual(names(s.containers), ['istio-proxy', 'app'], 'the sidecar first');
      const cmd = s.containers[0].lifecycle.postStart.exec.command.join(' ');
      assert.match(cmd, /127\.0\.0\.1:15021\/healthz\/ready/, 'postStart waits for the sidecar\'s readiness');
    };
    const notHeld = (s: any) => {
      assert.deepEqual(names(s.containers), ['app', 'istio-proxy']);
      assert.equal(s.containers[1].lifecycle, undefined);
    };

    // no mesh config: only the annotation holds
    const none = kubeInject(dir, manifest, ['--no-native-sidecar']);
    assert.equal(none.status, 0, none.stderr);
    notHeld(spec(none.docs, 'plain'));
    notHeld(spec(none.docs, 'off'));
    held(spec(none.docs, 'on'));

    // the mesh default (a MeshConfig file, or the istio ConfigMap): held unless the pod says false
    for (const mesh of [meshOn, cm]) {
      const r = kubeInject(dir, manifest, ['--no-native-sidecar', '--mesh-config', mesh]);
      assert.equal(r.status, 0, r.stderr);
      held(spec(r.docs, 'plain'));
      notHeld(spec(r.docs, 'off'));
      held(spec(r.docs, 'on'));
    }

    // native sidecars: the sidecar is an init container with restartPolicy Always whose
    // startupProbe gates the app containers (Kubernetes starts them once it passes)
    const native = kubeInject(dir, manifest, ['--mesh-config', meshOn]);
    assert.equal(native.status, 0, native.stderr);
    for (const n of ['plain', 'off', 'on']) {
      const s = spec(native.docs, n);
      assert.deepEqual(names(s.initContainers), ['istio-init', 'istio-proxy'], n);
      assert.deepEqual(names(s.containers), ['app'], n);
      assert.equal(s.initContainers[1].restartPolicy, 'Always', n);
      assert.deepEqual(s.initContainers[1].startupProbe.httpGet, { path: '/healthz/ready', port: 15021 }, n);
    }

    // a value that is not a boolean: refused, naming the file and the resource
    const bad = kubeInject(dir, deployment('bad', { 'proxy.istio.io/config': 'holdApplicationUntilProxyStarts: soon' }), []);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /m-[0-9a-f]+\.yaml/);
    assert.match(bad.stderr, /bad/);
    assert.match(bad.stderr, /holdApplicationUntilProxyStarts: expected true or false, got "soon"/);
    // an invalid mesh config is refused before anything is injected
    const badMesh = path.join(dir, 'bad-mesh.yaml');
    fs.writeFileSync(badMesh, 'defaultConfig: [1, 2]\n');
    const r = kubeInject(dir, deployment('x'), ['--mesh-config', badMesh]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /invalid mesh config/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
