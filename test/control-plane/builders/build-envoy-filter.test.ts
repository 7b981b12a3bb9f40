/**
 * EnvoyFilter HTTP_FILTER patches on built listeners: context, port and workload selection, root
 * namespace first, priority order, INSERT_FIRST/BEFORE/AFTER and REMOVE around named sub-filters;
 * the TypedStruct value goes out as a protobuf Struct (round trip). VIRTUAL_HOST MERGE on RDS and
 * inline inbound route configurations, narrowed by port, route configuration and vhost name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildListeners, buildRoutes } from '../../../src/control-plane/builders/index.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { LISTENER_TYPE, LOCAL_RATELIMIT_TYPE, RATELIMIT_TYPE, ROUTE_TYPE, TYPED_STRUCT_TYPE } from '../../../src/xds/type-urls.js';
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

const rateLimits = [{ actions: [{ request_headers: { header_name: ':path', descriptor_key: 'PATH' } }] }];
const vhostPatch = (context: string, routeConfiguration: Record<string, unknown> = { vhost: { name: '', route: { action: 'ANY' } } }) => ({
  applyTo: 'VIRTUAL_HOST', match: { context, routeConfiguration }, patch: { operation: 'MERGE', value: { rate_limits: rateLimits } },
});

test('VIRTUAL_HOST MERGE: rate_limits added to the outbound RDS virtual hosts (lists appended) and to the inbound inline route configuration, by context', () => {
  const pc = makePc([...SVC, ef('rl', { configPatches: [vhostPatch('SIDECAR_OUTBOUND'), vhostPatch('SIDECAR_OUTBOUND'), vhostPatch('SIDECAR_INBOUND')] })]);
  const [rc] = buildRoutes(pc, PP, ['9080']);
  assertRoundTrip(ROUTE_TYPE, rc);
  const vhosts = rc.virtual_hosts as EnvoyResource[];
  assert.ok(vhosts.length >= 2);
  for (const v of vhosts) assert.deepEqual(v.rate_limits, [...rateLimits, ...rateLimits], `${v.name}: two patches, two entries`);
  const ls = buildListeners(pc, PP);
  const inbound = byName(ls, `${PP.address}_9080`).filter_chains[0].filters[0].typed_config;
  for (const v of inbound.route_config.virtual_hosts as EnvoyResource[]) assert.deepEqual(v.rate_limits, rateLimits);
  const gatewayOnly = makePc([...SVC, ef('gw', { configPatches: [vhostPatch('GATEWAY')] })]);
  for (const v of buildRoutes(gatewayOnly, PP, ['9080'])[0].virtual_hosts as EnvoyResource[]) assert.equal(v.rate_limits, undefined);
});

test('VIRTUAL_HOST MERGE narrowed by route configuration port and name and by virtual host name', () => {
  const rcOf = (routeConfiguration: Record<string, unknown>) => buildRoutes(makePc([...SVC, ef('rl', { configPatches: [vhostPatch('ANY', routeConfiguration)] })]), PP, ['9080'])[0];
  const limited = (rc: EnvoyResource) => (rc.virtual_hosts as EnvoyResource[]).filter((v) => v.rate_limits !== undefined).map((v) => v.name as string);
  const all = (rcOf({}).virtual_hosts as EnvoyResource[]).map((v) => v.name as string);
  assert.deepEqual(limited(rcOf({ portNumber: 9080 })), all);
  assert.deepEqual(limited(rcOf({ portNumber: 8080 })), []);
  assert.deepEqual(limited(rcOf({ name: '9080' })), all);
  assert.deepEqual(limited(rcOf({ name: '8080' })), []);
  const one = all.find((n) => n.startsWith('reviews'))!;
  assert.deepEqual(limited(rcOf({ vhost: { name: one } })), [one]);
});

test("the global rate limit filter's value as Istio's task writes it ('10s' timeout) goes out as a Duration", () => {
  const value = {
    name: 'envoy.filters.http.ratelimit',
    typed_config: {
      '@type': RATELIMIT_TYPE, domain: 'ratelimit', failure_mode_deny: true, timeout: '10s',
      rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: 'outbound|8081||ratelimit.default.svc.cluster.local' } }, transport_api_version: 'V3' },
    },
  };
  const ls = buildListeners(makePc([...SVC, ef('rl', { configPatches: [patch('SIDECAR_INBOUND', 'INSERT_BEFORE', { subFilter: { name: 'envoy.filters.http.router' } }, value)] })]), PP);
  const l = byName(ls, `${PP.address}_9080`);
  assertRoundTrip(LISTENER_TYPE, l);
  const f = (l.filter_chains[0].filters[0].typed_config.http_filters as EnvoyResource[]).find((x) => x.name === 'envoy.filters.http.ratelimit')!;
  assert.deepEqual(f.typed_config.timeout, { seconds: 10 });
});
