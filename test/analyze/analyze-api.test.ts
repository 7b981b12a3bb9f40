/**
 * `GET /apis/v1/analyze` through the real debug server over a fixed ControlPlaneView: it analyzes
 * what the view says runs (resources, refused files, registry workloads, mesh config), filters by
 * namespace, and answers what `clew analyze` would for the same input.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startDebugServer, type DebugServer } from '../../src/control-plane/debug-server.js';
import type { ControlPlaneView, ControlPlaneWrites } from '../../src/control-plane/api/control-plane-view.js';
import { API_PATHS } from '../../src/api/api-paths.js';
import type { AnalyzeResponse } from '../../src/api/api-types.js';
import { defaultMeshConfig, parseConfigText, type MeshConfig, type ValidationMessage } from '../../src/config/index.js';
import { analyze } from '../../src/analyze/analyze.js';
import type { Workload } from '../../src/registry/types.js';

const running = parseConfigText(`
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ratings-a, namespace: team-a}
spec:
  workloadSelector: {labels: {app: ratings}}
  egress: [{hosts: ["./*"]}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ratings-b, namespace: team-a}
spec:
  workloadSelector: {labels: {version: v1}}
  egress: [{hosts: ["./*"]}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: logs, namespace: team-b}
spec:
  accessLogging: [{filter: {expression: "response.code >= 500"}}]
`, 'running.yaml').resources;

const refused: ValidationMessage = {
  file: 'broken.yaml', line: 3, kind: 'VirtualService', namespace: 'team-b', name: 'broken', field: 'spec.http[0].route[0].weight',
  message: 'must be >= 0', severity: 'error', code: 'CLEW_SCHEMA_RANGE',
};
let mesh: MeshConfig = defaultMeshConfig();
const workload: Workload = {
  name: 'ratings-v1-abc', namespace: 'team-a', labels: { app: 'ratings', version: 'v1' }, serviceAccount: 'ratings', address: '10.0.0.9', namedPorts: {}, origin: 'proxy',
};

const view: ControlPlaneView = {
  isReady: () => true, metricsText: () => '', streams: () => [], configDump: () => ({}), meshConfig: () => mesh,
  services: () => [], instances: () => [], workloads: () => [workload], clusterOf: () => undefined, configRevision: () => 4,
  configResources: () => running, listResources: () => running, rejectedFiles: () => [{ file: 'broken.yaml', messages: [refused] }],
  meshWarnings: () => [], rootCertPem: () => '', traffic: () => ({ rows: [], coveredSeconds: 60, timestamp: 0 }), scrapeStatus: () => undefined,
};
const writes = {} as ControlPlaneWrites;
let server: DebugServer;
let base: string;

before(async () => {
  server = await startDebugServer(view, writes, 'token', '127.0.0.1', 0);
  base = `http://127.0.0.1:${server.port}`;
});
after(() => server.close());

async function get(path: string): Promise<AnalyzeResponse> {
  const r = await request(`${base}${path}`);
  assert.equal(r.statusCode, 200);
  return (await r.body.json()) as AnalyzeResponse;
}

const codes = (r: AnalyzeResponse): string[] => r.messages.map((m) => `${m.code} ${m.kind}/${m.namespace}/${m.resourceName}`).sort();

test('the running config, its refused files and its registry workloads are analyzed', async () => {
  const all = await get(API_PATHS.analyze);
  assert.equal(all.revision, 4);
  assert.deepEqual(codes(all), [
    'IST0106 VirtualService/team-b/broken', // the refused file's message
    'IST0110 Sidecar/team-a/ratings-a', // both select the registry's workload ratings-v1-abc
    'IST0110 Sidecar/team-a/ratings-b',
    'IST0157 Telemetry/team-b/logs', // no provider, and the mesh has no default access log provider
  ]);
  assert.match(all.messages.find((m) => m.code === 'IST0110')!.message, /select the same workload pod "ratings-v1-abc"/);
  assert.equal(all.messages.find((m) => m.code === 'IST0106')!.level, 'Error');
  // the same engine as the CLI, on the same input
  const local = analyze({ files: [], loadMessages: [refused], running, workloads: [workload], mesh });
  assert.deepEqual(all.messages, JSON.parse(JSON.stringify(local)));
});

test('namespace filter, and the mesh config in force', async () => {
  assert.deepEqual(codes(await get(`${API_PATHS.analyze}?namespace=team-a`)), ['IST0110 Sidecar/team-a/ratings-a', 'IST0110 Sidecar/team-a/ratings-b']);
  assert.deepEqual((await get(`${API_PATHS.analyze}?namespace=nobody`)).messages, []);
  mesh = { ...defaultMeshConfig(), defaultProviders: { ...defaultMeshConfig().defaultProviders, accessLogging: ['envoy'] } };
  assert.deepEqual(codes(await get(`${API_PATHS.analyze}?namespace=team-b`)), ['IST0106 VirtualService/team-b/broken']);
});
