/**
 * EnvoyFilter HTTP_FILTER patches on built listeners: context, port and workload selection, root
 * namespace first, priority order, INSERT_FIRST/BEFORE/AFTER and REMOVE around named sub-filters;
 * the TypedStruct value goes out as a protobuf Struct (round trip).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildListeners } from '../../../src/control-plane/builders/index.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { LISTENER_TYPE, LOCAL_RATELIMIT_TYPE, TYPED_STRUCT_TYPE } from '../../../src/xds/type-urls.js';
import { structToJson } from '../../../src/xds/struct.js';
import { assertRoundTrip, byName, kubeService, makePc, proxy, res } from './fixtures.js';

const SVC = [kubeService('productpage', [{ name: 'http', port: 9080 }]), kubeService('reviews', [{ name: 'http', port: 9080 }])];
const PP = proxy();
const rlValue = { name: 'envoy.filters.http.local_ratelimit', typed_config: { '@type': TYPED_STRUCT_TYPE, type_url: LOCAL_RATELIMIT_TYPE, value: { stat_prefix: 'rl', token_bucket: { max_tokens: 4, fill_interval: '60s' } } } };
const ef = (name: string, spec: unknown, namespace = 'istio-system') => res('EnvoyFilter', name, spec, namespace);
const patch = (context: string, operation: string, extra: Record<string, unknown> = {}, value: unknown = rlValue) => ({
  applyTo: 'HTTP_FILTER',
  match: { context, listener: { filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager', ...extra } } } },
  patch: { operation, value },
});

function names(configs: ReturnType<typeof ef>[], p = PP): { inbound: string[]; outbound: string[]; rl: EnvoyResource | undefined } {
  const ls = buildListeners(makePc([...SVC, ...configs]), p);
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  const http = (l: EnvoyResource) => l.filter_chains[0].filters[0].typed_config.http_filters as EnvoyResource[];
  const inbound = http(byName(ls, `${p.address}_9080`));
  return {
    inbound: inbound.map((f) => f.name),
    outbound: http(byName(ls, '0.0.0.0_9080')).map((f) => f.name),
    rl: inbound.find((f) => f.name === 'envoy.filters.http.local_ratelimit'),
  };
}

test("Istio's local rate limit patch: INSERT_BEFORE without a sub-filter puts it first on inbound only; the value is a Struct", () => {
  const v = names([ef('rl', { workloadSelector: { labels: { app: 'productpage' } }, configPatches: [patch('SIDECAR_INBOUND', 'INSERT_BEFORE')] })]);
  assert.deepEqual(v.inbound, ['envoy.filters.http.local_ratelimit', 'istio.stats', 'envoy.filters.http.router']);
  assert.ok(!v.outbound.includes('envoy.filters.http.local_ratelimit'));
  assert.deepEqual(structToJson(v.rl!.typed_config.value), { stat_prefix: 'rl', token_bucket: { max_tokens: 4, fill_interval: '60s' } });
});

test('selection: another workload, another namespace and another port are not patched', () => {
  const filters = [
    ef('other-app', { workloadSelector: { labels: { app: 'reviews' } }, configPatches: [patch('ANY', 'INSERT_FIRST')] }),
    ef('other-ns', { configPatches: [patch('ANY', 'INSERT_FIRST')] }, 'other'),
    ef('other-port', { configPatches: [{ ...patch('SIDECAR_INBOUND', 'INSERT_FIRST'), match: { context: 'SIDECAR_INBOUND', listener: { portNumber: 9999 } } }] }),
  ];
  const v = names(filters);
  assert.ok(!v.inbound.includes('envoy.filters.http.local_ratelimit'));
  assert.ok(!v.outbound.includes('envoy.filters.http.local_ratelimit'));
});

test('INSERT_AFTER / INSERT_BEFORE a named sub-filter, REMOVE, in priority order', () => {
  const fault = { name: 'my.fault', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } };
  const v = names([
    ef('b-later', { priority: 10, configPatches: [patch('SIDECAR_OUTBOUND', 'REMOVE', { subFilter: { name: 'envoy.filters.http.cors' } })] }),
    ef('a-first', { priority: -1, configPatches: [patch('SIDECAR_OUTBOUND', 'INSERT_AFTER', { subFilter: { name: 'envoy.filters.http.cors' } }, fault)] }),
    ef('c-ns', { configPatches: [patch('SIDECAR_OUTBOUND', 'INSERT_BEFORE', { subFilter: { name: 'envoy.filters.http.router' } })] }, 'default'),
  ]);
  // A sidecar's outbound chain starts with istio.alpn (mTLS ALPN override), untouched by these patches.
  assert.deepEqual(v.outbound, ['istio.alpn', 'envoy.filters.http.fault', 'my.fault', 'istio.stats', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
});
