/**
 * The debug server around the route table: every family answers through the view interfaces
 * (here a fixed view, as the proxy's admin tests use a backend), writes pass authorizeWrite before
 * a handler runs, pattern routes decode their parameters, and the 404 lists every endpoint.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startDebugServer, type DebugServer } from '../../../src/control-plane/debug-server.js';
import type { ControlPlaneView, ControlPlaneWrites } from '../../../src/control-plane/api/control-plane-view.js';
import { API_PATHS, resourcePath } from '../../../src/api/api-paths.js';
import type { ConfigzResponse, RegistryzEntry } from '../../../src/api/api-types.js';
import { defaultMeshConfig, type ConfigResource } from '../../../src/config/index.js';
import { TraceStore } from '../../../src/control-plane/traces/trace-store.js';

const TOKEN = 'test-admin-token';
const VS: ConfigResource = {
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'a b', namespace: 'default' }, spec: { hosts: ['a'] },
};
const deleted: string[] = [];
let ready = false;

const view: ControlPlaneView = {
  isReady: () => ready,
  metricsText: () => 'pilot_xds 0\n',
  streams: () => [],
  configDump: () => ({}),
  meshConfig: () => defaultMeshConfig(),
  services: () => [{
    hostname: 'a.default.svc.cluster.local', name: 'a', namespace: 'default', resolution: 'EDS', location: 'MESH_INTERNAL',
    addresses: [], origin: 'Service', ports: [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'HTTP' }],
  }],
  instances: (hostname, port) => [{
    service: view.services()[0], servicePort: view.services()[0].ports[0],
    endpoint: { address: '127.0.1.2', port, labels: { app: 'a' }, healthy: true, workloadName: hostname.split('.')[0] },
  }],
  workloads: () => [],
  clusterOf: () => undefined,
  configRevision: () => 7,
  configResources: () => [VS],
  listResources: (kind, namespace, name) => [VS].filter((r) => (!kind || r.kind.toLowerCase() === kind.toLowerCase()) && (!namespace || r.metadata.namespace === namespace) && (!name || r.metadata.name === name)),
  rejectedFiles: () => [],
  meshWarnings: () => [],
  rootCertPem: () => '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n',
  traffic: () => ({ rows: [], coveredSeconds: 60, timestamp: Date.now() }),
  scrapeStatus: () => ({ intervalMs: 5000, targets: 0, failedTargets: [], series: 0, droppedSeries: 0 }),
};
const spans = new TraceStore();
const writes: ControlPlaneWrites = {
  applyText: async () => ({ results: [], ignored: [] }),
  deleteText: async () => [],
  deleteKeys: async (items) => {
    deleted.push(...items.map((i) => i.key));
    return items.map((i) => ({ ...i, action: 'deleted' as const }));
  },
  configRejected: () => {},
  mintToken: async () => ({ token: 'minted', expiresAt: 0 }),
};

let server: DebugServer;
let base: string;

before(async () => {
  server = await startDebugServer(view, writes, TOKEN, '127.0.0.1', 0, {
    receiveSpans: (s, truncated) => void spans.add(s, truncated),
    spansRefused: () => spans.rejected(),
    maxSpanBodyBytes: () => spans.limits.maxBodyBytes,
    reader: () => spans,
  });
  base = `http://127.0.0.1:${server.port}`;
});
after(() => server.close());

async function call(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await request(`${base}${path}`, { method: method as 'GET', headers });
  const text = await r.body.text();
  return { status: r.statusCode, body: String(r.headers['content-type']).includes('json') ? JSON.parse(text) : text };
}

test('read families answer from the view', async () => {
  assert.equal((await call('GET', API_PATHS.ready)).status, 503);
  ready = true;
  assert.deepEqual(await call('GET', API_PATHS.ready), { status: 200, body: 'ready\n' });
  assert.equal((await call('GET', API_PATHS.metrics)).body, 'pilot_xds 0\n');
  const configz = (await call('GET', API_PATHS.configz)).body as ConfigzResponse;
  assert.equal(configz.revision, 7);
  assert.equal(configz.resources[0].key, 'VirtualService/default/a b');
  const registry = (await call('GET', API_PATHS.registryz)).body as RegistryzEntry[];
  assert.equal(registry[0].endpoints['9080'][0].address, '127.0.1.2');
  assert.equal((await call('GET', `${API_PATHS.resources}?kind=VirtualService&name=nope`)).body.items.length, 0);
  assert.deepEqual(await call('GET', API_PATHS.configDump), { status: 400, body: { error: 'proxyID is required' } });
  assert.equal((await call('GET', `${API_PATHS.configDump}?proxyID=x.default`)).status, 404);
});

test('a write is refused before its handler without the admin token; with it the pattern parameters are decoded', async () => {
  const path = resourcePath('VirtualService', 'default', 'a b');
  const refused = await call('DELETE', path);
  assert.equal(refused.status, 401);
  assert.equal(refused.body.code, 'CLEW_API_UNAUTHORIZED');
  assert.deepEqual(deleted, []);
  const done = await call('DELETE', path, { authorization: `Bearer ${TOKEN}` });
  assert.equal(done.status, 200);
  assert.deepEqual(deleted, ['VirtualService/default/a b']);
  const bad = await call('DELETE', '/apis/v1/resources/VirtualService/default/%E0%A4%A', { authorization: `Bearer ${TOKEN}` });
  assert.equal(bad.status, 404);
});

test('the Host check applies to reads; unknown paths list every endpoint', async () => {
  assert.equal((await call('GET', API_PATHS.ready, { host: 'evil.example' })).status, 403);
  const missing = await call('GET', '/nope');
  assert.equal(missing.status, 404);
  for (const p of Object.values(API_PATHS)) {
    assert.ok(missing.body.endpoints.some((e: string) => e.includes(p)), `404 lists ${p}`);
  }
  // GET-only endpoints do not answer other methods
  assert.equal((await call('POST', API_PATHS.configz, { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' })).status, 404);
});
