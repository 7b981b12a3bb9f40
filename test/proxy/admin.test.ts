/** Admin endpoints: help, server_info, config_dump, clusters, listeners, memory, stats, prometheus, logging. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, virtualOutbound, vhost } from './helpers/resources.js';
import { httpRequest, startHarness, viaProxy, type Harness } from './helpers/harness.js';
import { startEcho, type EchoServer } from './helpers/upstreams.js';

const C = 'outbound|9080||reviews.default.svc.cluster.local';
let echo: EchoServer;
let h: Harness;

before(async () => {
  echo = await startEcho('reviews');
  h = await startHarness({
    clusters: [edsCluster(C), passthroughCluster()],
    endpoints: [assignment(C, [['127.0.0.1', echo.port]])],
    listeners: [virtualOutbound(0), outboundHttpListener(9080)],
    routes: [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [route({ prefix: '/' }, C)])])],
  });
  for (let i = 0; i < 3; i++) await viaProxy(h.outbound, 'http://reviews:9080/');
  await viaProxy(h.outbound, 'http://reviews:9080/status/500');
});

after(async () => {
  await h.close();
  await echo.close();
});

test('/help lists the commands; unknown path 404', async () => {
  const r = await h.admin('/help');
  assert.equal(r.status, 200);
  for (const p of ['/config_dump', '/clusters', '/stats/prometheus', '/quitquitquit']) assert.ok(r.body.includes(p), p);
  assert.equal((await h.admin('/nope')).status, 404);
});

test('/server_info and /ready report LIVE', async () => {
  const info = JSON.parse((await h.admin('/server_info')).body);
  assert.equal(info.state, 'LIVE');
  assert.equal(info.node.id, h.proxy.nodeId);
  const r = await h.admin('/ready');
  assert.equal(r.status, 200);
});

test('/config_dump is Envoy-shaped with versions and resources', async () => {
  const dump = JSON.parse((await h.admin('/config_dump')).body);
  const byType = (t: string) => dump.configs.find((c: { '@type': string }) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${t}`);
  const clusters = byType('ClustersConfigDump');
  const dc = clusters.dynamic_active_clusters.find((c: any) => c.cluster.name === C);
  assert.equal(dc.version_info, h.xds.version('type.googleapis.com/envoy.config.cluster.v3.Cluster'));
  assert.equal(dc.cluster['@type'], 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
  assert.equal(dc.cluster.connect_timeout, '1s');
  const listeners = byType('ListenersConfigDump');
  assert.ok(listeners.dynamic_listeners.some((l: any) => l.name === '0.0.0.0_9080' && l.active_state.listener.name === '0.0.0.0_9080'));
  const routes = byType('RoutesConfigDump');
  assert.equal(routes.dynamic_route_configs[0].route_config.name, '9080');
  const eps = byType('EndpointsConfigDump');
  assert.equal(eps.dynamic_endpoint_configs[0].endpoint_config.cluster_name, C);
});

test('/clusters text format has per-host counters', async () => {
  const body = (await h.admin('/clusters')).body;
  const host = `${C}::127.0.0.1:${echo.port}`;
  assert.ok(body.includes(`${host}::health_flags::healthy`), body);
  assert.ok(body.includes(`${host}::rq_success::3`), body);
  assert.ok(body.includes(`${host}::rq_error::1`), body);
  assert.ok(body.includes(`${host}::rq_active::0`), body);
  assert.ok(body.includes(`${host}::cx_active::1`), body);
  const json = JSON.parse((await h.admin('/clusters?format=json')).body);
  assert.ok(json.cluster_statuses.some((c: any) => c.name === C));
});

test('/listeners shows bound addresses', async () => {
  const body = (await h.admin('/listeners')).body;
  assert.ok(body.includes(`virtualOutbound::127.0.0.1:${h.outbound}`), body);
});

test('/stats and /stats/prometheus use Envoy names', async () => {
  const stats = (await h.admin('/stats')).body;
  assert.ok(stats.includes(`cluster.${C}.upstream_rq_total: 4\n`), stats);
  assert.ok(stats.includes(`cluster.${C}.upstream_rq_2xx: 3\n`));
  assert.ok(stats.includes(`cluster.${C}.upstream_rq_5xx: 1\n`));
  assert.ok(stats.includes(`cluster.${C}.upstream_cx_total: 1\n`));
  const prom = (await h.admin('/stats/prometheus')).body;
  assert.ok(prom.includes(`envoy_cluster_upstream_rq_total{cluster_name="${C}"} 4`), prom);
  assert.ok(prom.includes('# TYPE envoy_cluster_upstream_rq_total counter'));
  assert.ok(prom.includes('# TYPE envoy_cluster_upstream_cx_active gauge'));
  const onStatsPort = await httpRequest({ port: h.proxy.ports.stats, path: '/stats/prometheus' });
  assert.ok(onStatsPort.body.includes('envoy_cluster_upstream_rq_total'));
});

test('/logging sets the level; POST-only endpoints refuse GET', async () => {
  assert.equal((await h.admin('/logging?level=debug')).status, 200);
  assert.equal((await h.admin('/logging?level=bogus')).status, 400);
  await h.admin('/logging?level=off');
  assert.equal((await h.admin('/quitquitquit')).status, 405);
});

test('/memory reports the V8 heap and RSS; POST /memory?gc collects first, GET ?gc is refused', async () => {
  const m = JSON.parse((await h.admin('/memory')).body) as Record<string, string> & { spaces: Record<string, { size: number; used: number }> };
  const allocated = Number(m.allocated);
  assert.ok(allocated > 1 << 20 && allocated <= Number(m.heap_size), `allocated ${m.allocated} of heap_size ${m.heap_size}`);
  assert.ok(Number(m.total_physical_bytes) > Number(m.heap_size) / 2);
  assert.ok(m.spaces.old_space.used > 0 && m.spaces.new_space.size > 0);
  assert.equal((await h.admin('/memory?gc')).status, 405);
  // garbage made by requests is gone after the collection
  for (let i = 0; i < 50; i++) await viaProxy(h.outbound, 'http://reviews:9080/');
  const r = await h.admin('/memory?gc', 'POST');
  assert.equal(r.status, 200);
  const after = JSON.parse(r.body) as { allocated: string; spaces: Record<string, { size: number; used: number }> };
  assert.ok(after.spaces.new_space.used < 1 << 20, `young generation emptied: ${after.spaces.new_space.used} bytes`);
});
