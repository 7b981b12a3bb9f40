/**
 * Observability config through the control plane: `--mesh-config` reaches the proxies' LDS,
 * a Telemetry apply (real CLI) pushes new LDS and CDS to a connected ADS client, mesh config
 * file edits reload (bad ones are refused), and a bad mesh config stops `clew control-plane`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { runClew } from '../helpers/run-clew.js';
import { tokenForNode } from '../helpers/workload-token.js';
import { TestAdsClient, CLUSTER_TYPE, LISTENER_TYPE } from '../helpers/ads-client.js';
import { typesForKinds } from '../../src/control-plane/push-scheduler.js';
import type { EnvoyResource } from '../../src/xds/codec.js';

let cp: ControlPlane;
let dir: string;
let client: TestAdsClient;
const logs: string[] = [];

const SERVICES = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
`;

const MESH = `accessLogFile: /dev/stdout
extensionProviders:
- name: local-zipkin
  zipkin: {service: 127.0.0.9, port: 9411}
`;

const TELEMETRY = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: local-zipkin}]
    randomSamplingPercentage: 100
  accessLogging:
  - disabled: true
`;

function outboundHcm(): EnvoyResource | undefined {
  const l = client.latest.get(LISTENER_TYPE)?.resources.find((r) => r.name === '0.0.0.0_9080');
  return l?.filter_chains[0].filters[0].typed_config;
}

const clusterNames = () => (client.latest.get(CLUSTER_TYPE)?.resources ?? []).map((c) => c.name as string);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-cp-tel-'));
  fs.mkdirSync(path.join(dir, 'config'));
  fs.writeFileSync(path.join(dir, 'config', 'services.yaml'), SERVICES);
  fs.writeFileSync(path.join(dir, 'mesh.yaml'), MESH);
  cp = new ControlPlane({
    configDir: path.join(dir, 'config'), meshConfigFile: path.join(dir, 'mesh.yaml'),
    xdsPort: 0, secureXdsPort: 0, debugPort: 0, debounceMs: 20, pollMs: 100, log: (l) => logs.push(l),
  });
  await cp.start();
  const node = {
    id: 'sidecar~127.0.3.1~productpage-v1.default~default.svc.cluster.local',
    metadata: { NAME: 'productpage-v1', NAMESPACE: 'default', LABELS: { app: 'productpage' }, INSTANCE_IPS: '127.0.3.1' },
  };
  client = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, node, { token: await tokenForNode(cp, node) });
});

after(async () => {
  client.close();
  await cp.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--mesh-config: the proxy\'s listeners carry the mesh access log and the istio.stats filter', async () => {
  await client.until(() => outboundHcm() !== undefined);
  const hcm = outboundHcm()!;
  assert.equal(hcm.access_log[0].typed_config.path, '/dev/stdout');
  assert.deepEqual(hcm.http_filters.map((f: EnvoyResource) => f.name).slice(-2), ['istio.stats', 'envoy.filters.http.router']);
  assert.equal(hcm.tracing, undefined);
  const mesh = await request(`http://127.0.0.1:${cp.debugPort}/debug/mesh`);
  const body = await mesh.body.json() as { accessLogFile: string; extensionProviders: { name: string }[] };
  assert.equal(body.accessLogFile, '/dev/stdout');
  assert.deepEqual(body.extensionProviders.map((p) => p.name), ['prometheus', 'stackdriver', 'envoy', 'local-zipkin']);
  assert.match(logs.join('\n'), /control plane ready: .*mesh config .*mesh\.yaml/);
});

test('a Telemetry change pushes LDS and CDS only', () => {
  assert.deepEqual(typesForKinds(['Telemetry']), [LISTENER_TYPE, CLUSTER_TYPE]);
});

test('clew apply of a Telemetry pushes LDS (tracing on, access log off) and CDS (the collector cluster); delete reverts', async () => {
  await client.until(() => outboundHcm() !== undefined);
  const file = path.join(dir, 'telemetry.yaml');
  fs.writeFileSync(file, TELEMETRY);
  const cpUrl = `http://127.0.0.1:${cp.debugPort}`;
  const r = await runClew(['apply', '-f', file, '--control-plane', cpUrl]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'telemetry.telemetry.istio.io/mesh-default created');
  await client.until(() => outboundHcm()?.tracing !== undefined && clusterNames().includes('outbound|9411||127.0.0.9'));
  const hcm = outboundHcm()!;
  assert.deepEqual(hcm.tracing.random_sampling, { value: 100 });
  assert.equal(hcm.tracing.provider.typed_config.collector_cluster, 'outbound|9411||127.0.0.9');
  assert.equal(hcm.access_log, undefined);

  const d = await runClew(['delete', 'telemetry', 'mesh-default', '-n', 'istio-system', '--control-plane', cpUrl]);
  assert.equal(d.code, 0, d.stderr);
  await client.until(() => outboundHcm()?.tracing === undefined && !clusterNames().includes('outbound|9411||127.0.0.9'));
  assert.equal(outboundHcm()!.access_log[0].typed_config.path, '/dev/stdout');
});

test('a Telemetry naming an unknown provider is applied; clew apply prints the IST0101 warning', async () => {
  const file = path.join(dir, 'typo.yaml');
  fs.writeFileSync(file, TELEMETRY.replace('mesh-default', 'typo').replace('local-zipkin', 'local-zipkn'));
  try {
    const r = await runClew(['apply', '-f', file, '--control-plane', `http://127.0.0.1:${cp.debugPort}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'telemetry.telemetry.istio.io/typo created\n');
    assert.equal(r.stderr, `${file}:6: warning: Telemetry istio-system/typo: spec.tracing[0].providers[0].name: provider "local-zipkn" is not defined in the mesh config's extensionProviders (prometheus, stackdriver, envoy, local-zipkin); it is ignored\n`);
    assert.ok(logs.some((l) => l.startsWith(`config warning: ${file}:6: warning: Telemetry istio-system/typo`)), logs.join('\n'));
  } finally {
    await cp.store.deleteKeys([{ key: 'Telemetry/istio-system/typo', kind: 'Telemetry', namespace: 'istio-system', name: 'typo' }]);
  }
});

test('an edited mesh config file is reloaded and pushed; an edit with errors keeps the last good one', async () => {
  await client.until(() => outboundHcm() !== undefined);
  const meshFile = path.join(dir, 'mesh.yaml');
  fs.writeFileSync(meshFile, 'accessLogFile: /tmp/clew-access.log\naccessLogEncoding: JSON\n');
  await client.until(() => outboundHcm()?.access_log?.[0].typed_config.path === '/tmp/clew-access.log');
  assert.ok(outboundHcm()!.access_log[0].typed_config.log_format.json_format);
  const version = client.latest.get(LISTENER_TYPE)!.version;
  fs.writeFileSync(meshFile, 'accessLogFile: /tmp/other.log\naccessLogEncoding: CSV\n');
  const deadline = Date.now() + 5000;
  while (!logs.some((l) => l.includes('mesh config rejected')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(logs.some((l) => l.includes(`mesh config rejected, keeping the last good version: ${meshFile}:2: accessLogEncoding: must be one of TEXT, JSON; got "CSV"`)), logs.join('\n'));
  assert.equal(cp.meshConfig().accessLogFile, '/tmp/clew-access.log');
  assert.equal(client.latest.get(LISTENER_TYPE)!.version, version);
});

test('clew control-plane with a bad --mesh-config exits 1 naming file, line and field', async () => {
  const bad = path.join(dir, 'bad-mesh.yaml');
  fs.writeFileSync(bad, 'accessLogFile: /dev/stdout\ndefaultConfig:\n  tracing:\n    sampling: 300\n');
  const r = await runClew(['control-plane', '--config-dir', path.join(dir, 'other'), '--mesh-config', bad, '--xds-port', '0', '--secure-xds-port', '0', '--debug-port', '0']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `clew: invalid mesh config ${bad}: 1 error(s); not starting:\n  ${bad}:4: defaultConfig.tracing.sampling: must be between 0 and 100\n`);
  const missing = await runClew(['control-plane', '--config-dir', path.join(dir, 'other'), '--mesh-config', path.join(dir, 'nope.yaml'), '--xds-port', '0', '--secure-xds-port', '0', '--debug-port', '0']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, `clew: mesh config ${path.join(dir, 'nope.yaml')}: no such file or directory\n`);
});
