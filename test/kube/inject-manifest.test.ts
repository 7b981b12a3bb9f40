/**
 * Injection without an API server: the policy (namespace labels, the pod's own label or
 * annotation, already injected), manifests of several kinds through `clew kube-inject`, bad
 * annotations refused with the file and resource named; and the validating webhook's decision for
 * kinds outside the table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CLEW_BIN } from '../helpers/paths.js';
import { injectionPolicy } from '../../src/kube/inject/inject-policy.js';
import { DEFAULT_INJECT_SETTINGS, injectPod } from '../../src/kube/inject/inject-pod.js';
import { validateAdmission } from '../../src/kube/webhook/webhook-validate.js';

const pod = (labels: Record<string, string> = {}, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels, annotations },
  spec: { containers: [{ name: 'app', image: 'app', ports: [{ containerPort: 8080 }] }] },
});

test('injection policy: namespace labels, the pod\'s own opt-in/opt-out, already injected, host network', () => {
  assert.deepEqual(injectionPolicy(pod(), { 'istio-injection': 'enabled' }), { inject: true });
  assert.deepEqual(injectionPolicy(pod(), { 'istio.io/rev': 'default' }), { inject: true });
  assert.equal(injectionPolicy(pod(), {}).inject, false);
  assert.equal(injectionPolicy(pod(), { 'istio-injection': 'disabled' }).inject, false);
  assert.equal(injectionPolicy(pod({ 'sidecar.istio.io/inject': 'false' }), { 'istio-injection': 'enabled' }).inject, false);
  assert.equal(injectionPolicy(pod({}, { 'sidecar.istio.io/inject': 'false' }), { 'istio-injection': 'enabled' }).inject, false);
  assert.equal(injectionPolicy(pod({ 'sidecar.istio.io/inject': 'true' }), {}).inject, true);
  assert.equal(injectionPolicy(injectPod(pod()), { 'istio-injection': 'enabled' }).inject, false, 'injected twice');
  assert.equal(injectionPolicy({ ...pod(), spec: { hostNetwork: true, containers: [] } }, { 'istio-injection': 'enabled' }).inject, false);
});

test('injectPod: a regular sidecar container without native sidecars; holdApplicationUntilProxyStarts puts it first and waits', () => {
  const plain = injectPod(pod(), { ...DEFAULT_INJECT_SETTINGS, nativeSidecar: false });
  assert.deepEqual(plain.spec.initContainers.map((c: any) => c.name), ['istio-init']);
  assert.deepEqual(plain.spec.containers.map((c: any) => c.name), ['app', 'istio-proxy']);
  const held = injectPod(pod({}, { 'proxy.istio.io/config': 'holdApplicationUntilProxyStarts: true' }), { ...DEFAULT_INJECT_SETTINGS, nativeSidecar: false });
  assert.deepEqual(held.spec.containers.map((c: any) => c.name), ['istio-proxy', 'app']);
  assert.ok(held.spec.containers[0].lifecycle.postStart.exec.command.join(' ').includes('/healthz/ready'));
  const tproxy = injectPod(pod({}, { 'sidecar.istio.io/interceptionMode': 'TPROXY', 'traffic.sidecar.istio.io/excludeInboundPorts': '9000' }));
  const args = tproxy.spec.initContainers[0].args;
  assert.equal(args[args.indexOf('-m') + 1], 'TPROXY');
  assert.equal(args[args.indexOf('-d') + 1], '15090,15021,15020,9000');
  assert.ok(tproxy.spec.initContainers[1].args.includes('TPROXY'));
});

test('clew kube-inject: every pod template of a multi-document manifest; opt-out kept; a bad annotation names file and resource', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-kube-inject-'));
  try {
    const file = path.join(dir, 'm.yaml');
    fs.writeFileSync(file, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {sidecar.istio.io/inject: "false"}}
        spec: {restartPolicy: Never, containers: [{name: job, image: job}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
`);
    const r = spawnSync(process.execPath, [CLEW_BIN, 'kube-inject', '-f', file, '--image', 'registry.example/clew:1']);
    assert.equal(r.status, 0, r.stderr.toString());
    const docs = parseAllDocuments(r.stdout.toString()).map((d) => d.toJS());
    assert.equal(docs.length, 3);
    const web = docs[0].spec.template;
    assert.deepEqual(web.spec.initContainers.map((c: any) => [c.name, c.image]), [['istio-init', 'registry.example/clew:1'], ['istio-proxy', 'registry.example/clew:1']]);
    assert.equal(web.metadata.name, undefined, 'a template gets no name');
    assert.equal(docs[1].spec.jobTemplate.spec.template.spec.initContainers, undefined);
    assert.match(r.stderr.toString(), /CronJob\/nightly not injected: sidecar\.istio\.io\/inject=false/);
    assert.deepEqual(docs[2], { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } });

    fs.writeFileSync(file, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  annotations: {traffic.sidecar.istio.io/includeInboundPorts: "80,http"}\nspec: {containers: [{name: a, image: a}]}\n');
    const bad = spawnSync(process.execPath, [CLEW_BIN, 'kube-inject', '-f', file]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr.toString(), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:1: Pod/bad: annotation traffic\\.sidecar\\.istio\\.io/includeInboundPorts: "80,http" is not a valid list`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('validating webhook: a kind of an Istio group Clew does not implement, or an unknown version, is refused; other groups and DELETE pass', () => {
  const req = (group: string, version: string, kind: string, operation = 'CREATE') => ({
    uid: 'u', operation, kind: { group, version, kind }, namespace: 'default',
    object: { apiVersion: `${group}/${version}`, kind, metadata: { name: 'x' }, spec: {} },
  });
  const proxyConfig = validateAdmission(req('networking.istio.io', 'v1beta1', 'ProxyConfig'));
  assert.equal(proxyConfig.allowed, false);
  assert.match(proxyConfig.status!.message, /ProxyConfig\.networking\.istio\.io is not implemented by Clew/);
  const v9 = validateAdmission(req('networking.istio.io', 'v9', 'VirtualService'));
  assert.equal(v9.allowed, false);
  assert.match(v9.status!.message, /version not accepted \(v1alpha3, v1beta1, v1\)/);
  assert.equal(validateAdmission(req('apps', 'v1', 'Deployment')).allowed, true);
  assert.equal(validateAdmission({ ...req('networking.istio.io', 'v1', 'VirtualService', 'DELETE'), object: null }).allowed, true);
});
