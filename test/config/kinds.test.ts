/**
 * The kinds table (src/config/kinds.ts) is the one place a kind is declared: loading, validation,
 * the push scheduler, the push context and the CLI all read it. Istio kinds outside it are
 * refused (exit 1, "not supported"); kinds outside Istio's API groups are ignored with a note.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  KINDS, classifyKind, formatMessage, kindByName, parseConfigText, qualifiedName, typesForKinds, Codes,
} from '../../src/config/index.js';
import { apiVersionsOf, isIstioGroup } from '../../src/config/kinds.js';
import { createPushContext } from '../../src/control-plane/push-context.js';
import { LocalRegistry } from '../../src/registry/index.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../src/xds/type-urls.js';
import { REPO_ROOT } from './fixtures.js';

function validate(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'clew-kinds-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const r = spawnSync(process.execPath, ['bin/clew.js', 'validate', '-f', dir], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 20_000 });
    return { code: r.status, stdout: r.stdout.replaceAll(`${dir}/`, ''), stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('names, plurals and short names are unique across the table', () => {
  const names = KINDS.flatMap((k) => [k.kind.toLowerCase(), k.plural, ...k.shortNames]);
  assert.equal(new Set(names).size, names.length);
  for (const k of KINDS) {
    assert.equal(kindByName(k.kind)?.kind, k.kind);
    assert.equal(kindByName(k.plural.toUpperCase())?.kind, k.kind);
    for (const s of k.shortNames) assert.equal(kindByName(s)?.kind, k.kind);
    if (k.group) assert.equal(kindByName(`${k.plural}.${k.group}`)?.kind, k.kind);
  }
  assert.equal(kindByName('vs')?.kind, 'VirtualService');
  assert.equal(kindByName('virtualservice.security.istio.io'), undefined);
  assert.equal(qualifiedName('VirtualService', 'r'), 'virtualservice.networking.istio.io/r');
  assert.equal(qualifiedName('Service', 'r'), 'service/r');
  assert.equal(qualifiedName('Telemetry', 't'), 'telemetry.telemetry.istio.io/t');
});

test('every version of every kind in the table loads without an apiVersion message', () => {
  for (const k of KINDS) {
    for (const apiVersion of apiVersionsOf(k)) {
      const r = parseConfigText(`apiVersion: ${apiVersion}\nkind: ${k.kind}\nmetadata: {name: x}\n`, 'k.yaml');
      assert.equal(r.resources.length, 1, `${apiVersion} ${k.kind}`);
      assert.deepEqual(r.messages.filter((m) => m.field === 'apiVersion'), [], `${apiVersion} ${k.kind}`);
    }
  }
});

test('refusal is computed as Istio groups minus the table: a table kind is known, any other Istio kind refused', () => {
  const istioGroups = [...new Set(KINDS.map((k) => k.group).filter(isIstioGroup)), 'security.istio.io', 'extensions.istio.io'];
  for (const group of istioGroups) {
    for (const kind of ['AuthorizationPolicy', 'PeerAuthentication', 'EnvoyFilter', 'WasmPlugin', 'NotAKind', ...KINDS.map((k) => k.kind)]) {
      const def = KINDS.find((k) => k.kind === kind && k.group === group);
      assert.equal(classifyKind(`${group}/v1`, kind).status, def ? 'known' : 'refused', `${group} ${kind}`);
    }
  }
  assert.equal(classifyKind('apps/v1', 'Deployment').status, 'ignored');
  assert.equal(classifyKind('v1', 'ServiceAccount').status, 'ignored');
  assert.equal(classifyKind('serving.knative.dev/v1', 'Service').status, 'ignored');
  assert.equal(classifyKind('v1', 'Service').status, 'known');
});

test('each kind pushes the xDS types its table entry names (a registry kind pushes everything)', () => {
  assert.deepEqual(typesForKinds(['VirtualService']), [LISTENER_TYPE, ROUTE_TYPE]);
  assert.deepEqual(typesForKinds(['DestinationRule']), [CLUSTER_TYPE, ENDPOINT_TYPE, ROUTE_TYPE]);
  assert.deepEqual(typesForKinds(['Gateway', 'VirtualService']), [LISTENER_TYPE, ROUTE_TYPE]);
  assert.deepEqual(typesForKinds(['Telemetry']), [LISTENER_TYPE, CLUSTER_TYPE]);
  for (const k of ['Service', 'ServiceEntry', 'WorkloadEntry', 'Sidecar', 'Unknown']) assert.equal(typesForKinds(['VirtualService', k]), undefined, k);
});

test('the push context indexes every kind of the table (ofKind)', () => {
  const config = KINDS.map((k) => ({
    apiVersion: apiVersionsOf(k).at(-1)!, kind: k.kind, metadata: { name: 'x', namespace: 'ns' }, spec: { host: 'h' },
  }));
  const pc = createPushContext({ config, registry: new LocalRegistry(), version: '1' });
  for (const k of KINDS) assert.deepEqual(pc.ofKind(k.kind).map((x) => `${x.kind}/${x.metadata.name}`), [`${k.kind}/x`]);
});

const VS = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [r]\n  http: [{route: [{destination: {host: r}}]}]\n';

test('clew validate: an Istio kind Clew does not implement is an error (exit 1) that says so', () => {
  const r = validate({
    'policy.yaml': 'apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: wasm, namespace: prod}\nspec: {}\n'
      + '---\napiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata: {name: default}\nspec: {}\n',
    'vs.yaml': VS,
  });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /^policy\.yaml:2: WasmPlugin prod\/wasm: extensions\.istio\.io\/v1alpha1 WasmPlugin is not supported by Clew \(it would have no effect\); Istio kinds Clew implements: VirtualService \(networking\.istio\.io\), /m);
  assert.match(r.stdout, /^policy\.yaml:7: WorkloadGroup default\/default: networking\.istio\.io\/v1 WorkloadGroup is not supported by Clew/m);
  assert.match(r.stdout, /validated 1 resource in 2 files: 2 errors/);
  const parsed = parseConfigText('apiVersion: networking.istio.io/v1alpha3\nkind: Sidecar2\nmetadata: {name: f}\nspec: {}\n', 'ef.yaml');
  assert.deepEqual(parsed.messages.map((m) => m.code), [Codes.unsupportedKind]);
  assert.deepEqual(parsed.ignored, []);
  assert.match(formatMessage(parsed.messages[0]), /^ef\.yaml:2: Sidecar2 default\/f: networking\.istio\.io\/v1alpha3 Sidecar2 is not supported by Clew/);
});

test('clew validate: kinds outside Istio\'s API groups are ignored with a note (exit 0)', () => {
  const r = validate({
    'app.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web}\n',
    'vs.yaml': VS,
  });
  assert.equal(r.code, 0, r.stdout);
  assert.equal(r.stdout,
    'app.yaml:2: ignored apps/v1 Deployment web (not an Istio configuration kind)\n'
    + 'app.yaml:6: ignored v1 ServiceAccount web (not an Istio configuration kind)\n'
    + 'validated 1 resource in 2 files: no errors\n');
});
