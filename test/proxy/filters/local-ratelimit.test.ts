/**
 * local_ratelimit parsing and behaviour on a real proxy: a bucket of 2, then 429 with flag RL and
 * x-ratelimit-* headers (DRAFT_VERSION_03); enabled-but-not-enforced only counts; what is not
 * implemented (descriptors, per-connection buckets, per-route buckets) is NACKed. The list of
 * HTTP filter types EnvoyFilter may insert is the proxy's registry.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamInfo } from '../../../src/proxy/core/stream-info.js';
import { HTTP_FILTER_FACTORIES } from '../../../src/proxy/filters/registry.js';
import { parseLocalRateLimit } from '../../../src/proxy/filters/local-ratelimit/local-ratelimit-filter.js';
import { SharedResources } from '../../../src/proxy/filter-api/shared-resources.js';
import { LISTENER_TYPE, LOCAL_RATELIMIT_TYPE, PROXY_HTTP_FILTER_TYPES } from '../../../src/xds/type-urls.js';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, routerFilter, vhost, virtualOutbound } from '../helpers/resources.js';
import { setAll, startHarness, viaProxy, waitFor, type Harness } from '../helpers/harness.js';
import { startEcho, type EchoServer } from '../helpers/upstreams.js';

const C = 'outbound|9080||ratings.default.svc.cluster.local';
let echo: EchoServer;
let h: Harness;
const infos: StreamInfo[] = [];
const rl = (cfg: Record<string, unknown>) => ({ name: 'envoy.filters.http.local_ratelimit', typed_config: { '@type': LOCAL_RATELIMIT_TYPE, stat_prefix: 'rl', ...cfg } });
const pct100 = { default_value: { numerator: 100 }, runtime_key: 'k' };

function resources(listenerFilters: Record<string, unknown>[]) {
  return {
    clusters: [edsCluster(C), passthroughCluster()],
    endpoints: [assignment(C, [['127.0.0.1', echo.port]])],
    listeners: [virtualOutbound(0), outboundHttpListener(9080, listenerFilters), outboundHttpListener(9081, [rl({ token_bucket: { max_tokens: 1, fill_interval: { seconds: 3600 } }, filter_enabled: pct100 }), routerFilter])],
    routes: [routeConfig('9080', [vhost('r', ['*'], [route({ prefix: '/' }, C)])]), routeConfig('9081', [vhost('r', ['*'], [route({ prefix: '/' }, C)])])],
  };
}

before(async () => {
  echo = await startEcho('ratings');
  h = await startHarness(resources([rl({
    token_bucket: { max_tokens: 2, tokens_per_fill: { value: 2 }, fill_interval: { seconds: 3600 } },
    filter_enabled: pct100, filter_enforced: pct100, enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    response_headers_to_add: [{ append_action: 'OVERWRITE_IF_EXISTS_OR_ADD', header: { key: 'x-limited', value: 'yes' } }],
  }), routerFilter]), { observer: { onRequestComplete: (i) => infos.push(i) } });
});

after(async () => {
  await h.close();
  await echo.close();
});

test('a bucket of 2: two pass with x-ratelimit headers, the third is 429 local_rate_limited, flag RL', async () => {
  const a = await viaProxy(h.outbound, 'http://ratings:9080/1');
  assert.equal(a.status, 200);
  assert.equal(a.headers['x-ratelimit-limit'], '2');
  assert.equal(a.headers['x-ratelimit-remaining'], '1');
  assert.equal((await viaProxy(h.outbound, 'http://ratings:9080/2')).status, 200);
  const c = await viaProxy(h.outbound, 'http://ratings:9080/3');
  assert.equal(c.status, 429);
  assert.equal(c.body, 'local_rate_limited');
  assert.equal(c.headers['x-limited'], 'yes');
  await waitFor(() => infos.some((i) => i.path === '/3'));
  const info = infos.find((i) => i.path === '/3')!;
  assert.ok(info.responseFlags.has('RL'));
  assert.equal(info.responseCodeDetails, 'local_rate_limited');
  const stats = (await h.admin('/stats')).body;
  assert.match(stats, /^rl\.http_local_rate_limit\.rate_limited: 1$/m);
});

test('enabled but not enforced (filter_enforced absent = 0%): counted, never refused', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await viaProxy(h.outbound, `http://ratings:9081/n${i}`)).status, 200);
  const stats = (await h.admin('/stats')).body;
  assert.match(stats, /^rl\.http_local_rate_limit\.rate_limited: [3-9]$/m);
});

test('NACKs: descriptors, per-connection buckets, stages, per-route buckets', async () => {
  const parse = (c: Record<string, unknown>) => parseLocalRateLimit({ stat_prefix: 'x', ...c }, 'rl', new SharedResources(), undefined, 'k');
  assert.throws(() => parse({ descriptors: [{ entries: [{ key: 'a', value: 'b' }], token_bucket: { max_tokens: 1, fill_interval: { seconds: 1 } } }] }), /descriptors is not implemented/);
  assert.throws(() => parse({ local_rate_limit_per_downstream_connection: true }), /per_downstream_connection is not implemented/);
  assert.throws(() => parse({ stage: 2 }), /only stage 0/);
  assert.throws(() => parse({ token_bucket: { max_tokens: 0, fill_interval: { seconds: 1 } } }), /max_tokens: must be at least 1/);
  const before = h.xds.nacks.length;
  const r = resources([rl({ token_bucket: { max_tokens: 2, fill_interval: { seconds: 1 } } }), routerFilter]);
  r.routes[0] = routeConfig('9080', [vhost('r', ['*'], [route({ prefix: '/' }, C, {}, { typed_per_filter_config: { 'envoy.filters.http.local_ratelimit': { '@type': LOCAL_RATELIMIT_TYPE, stat_prefix: 'route' } } })])]);
  setAll(h.xds, r);
  await waitFor(() => h.xds.nacks.length > before, 3000, 'a NACK for the per-route bucket');
  assert.match(h.xds.nacks.at(-1)!.error!, /typed_per_filter_config envoy\.filters\.http\.local_ratelimit: type .*LocalRateLimit is not implemented/);
  assert.notEqual(h.xds.nacks.at(-1)!.typeUrl, LISTENER_TYPE);
});

test("the HTTP filter types EnvoyFilter may insert are exactly the proxy's registry", () => {
  const registry = HTTP_FILTER_FACTORIES.flatMap((f) => f.typeUrls).sort();
  assert.deepEqual([...PROXY_HTTP_FILTER_TYPES].sort(), registry);
});
