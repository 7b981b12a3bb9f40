/**
 * Telemetry accessLogging filter.expression → the access_log entry's CEL extension filter, as
 * Istio emits it (envoy.access_loggers.extension_filters.cel with an ExpressionFilter), on HCM and
 * TcpProxy loggers; the entry that enables a provider decides its filter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildListeners } from '../../../src/control-plane/builders/index.js';
import { applyMeshConfig } from '../../../src/config/mesh-config.js';
import { CEL_EXPRESSION_FILTER_TYPE, LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import type { ConfigResource } from '../../../src/config/types.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import type { ProxyIdentity } from '../../../src/xds/node-metadata.js';
import { assertRoundTrip, BOOKINFO_SERVICES, byName, kubeService, makePc, proxy, res } from './fixtures.js';

const CONFIG = [...BOOKINFO_SERVICES, kubeService('mongo', [{ name: 'mongo', port: 27017 }])];
const MESH = applyMeshConfig({
  extensionProviders: [{ name: 'errors-file', envoyFileAccessLog: { path: '/tmp/errors.log' } }],
});
const PRODUCTPAGE = proxy();
const REVIEWS = proxy({ name: 'reviews-v1', address: '127.0.10.3', labels: { app: 'reviews', version: 'v1' } });
const tel = (name: string, spec: unknown, namespace = 'istio-system') => res('Telemetry', name, spec, namespace);

function logs(telemetries: ConfigResource[], p: ProxyIdentity = PRODUCTPAGE) {
  const ls = buildListeners(makePc([...CONFIG, ...telemetries], [], MESH), p);
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  const tcp = byName(ls, '0.0.0.0_27017').filter_chains[0].filters.find((f: EnvoyResource) => f.name === 'envoy.filters.network.tcp_proxy');
  return {
    out: byName(ls, '0.0.0.0_9080').filter_chains[0].filters[0].typed_config.access_log ?? [],
    in: byName(ls, `${p.address}_9080`).filter_chains[0].filters[0].typed_config.access_log ?? [],
    tcp: tcp?.typed_config.access_log ?? [],
  };
}

const celFilter = (expression: string) => ({
  extension_filter: {
    name: 'envoy.access_loggers.extension_filters.cel',
    typed_config: { '@type': CEL_EXPRESSION_FILTER_TYPE, expression },
  },
});

test('filter.expression becomes the CEL extension filter of the HCM and TcpProxy access logs', () => {
  const t = tel('mesh-default', { accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression: 'response.code >= 400' } }] });
  const v = logs([t]);
  for (const entries of [v.out, v.in, v.tcp]) {
    assert.equal(entries.length, 1);
    assert.equal(entries[0].name, 'envoy.access_loggers.file');
    assert.deepEqual(entries[0].filter, celFilter('response.code >= 400'));
  }
  // without an expression there is no filter (every request is logged)
  const plain = logs([tel('mesh-default', { accessLogging: [{ providers: [{ name: 'envoy' }] }] })]);
  assert.equal(plain.out[0].filter, undefined);
});

test('per provider and per level: the entry that enables a provider decides its filter', () => {
  const root = tel('mesh-default', { accessLogging: [
    { providers: [{ name: 'envoy' }] },
    { providers: [{ name: 'errors-file' }], filter: { expression: 'response.code >= 500' } },
  ] });
  const v = logs([root]);
  const byPath = (entries: EnvoyResource[]) => Object.fromEntries(entries.map((e) => [e.typed_config.path, e.filter]));
  assert.deepEqual(byPath(v.out), { '/dev/stdout': undefined, '/tmp/errors.log': celFilter('response.code >= 500') });
  // a workload Telemetry re-enabling envoy with its own filter (server side only) overrides the root's
  const reviews = tel('reviews', { selector: { matchLabels: { app: 'reviews' } }, accessLogging: [
    { providers: [{ name: 'envoy' }], match: { mode: 'SERVER' }, filter: { expression: "request.headers['x-debug'] == 'on'" } },
  ] }, 'default');
  const r = logs([root, reviews], REVIEWS);
  assert.deepEqual(byPath(r.in), { '/dev/stdout': celFilter("request.headers['x-debug'] == 'on'") });
  assert.deepEqual(byPath(r.out), { '/dev/stdout': undefined });
  // an entry without providers applies to the inherited ones, filter included
  const inherit = tel('ns', { accessLogging: [{ filter: { expression: 'connection.mtls' } }] }, 'default');
  const root1 = tel('mesh-default', { accessLogging: [{ providers: [{ name: 'envoy' }] }] });
  assert.deepEqual(byPath(logs([root1, inherit]).in), { '/dev/stdout': celFilter('connection.mtls') });
});
