/**
 * Health through a running proxy: EDS health_status honoured by load balancing, outlier ejection
 * and return, active health checks, each visible in /clusters (Envoy's health_flags) and in
 * /stats and Prometheus form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, socketAddress, staticCluster, virtualOutbound, vhost } from '../helpers/resources.js';
import { startHarness, viaProxy, waitFor, type Harness } from '../helpers/harness.js';
import { closedPort, startEcho, type EchoServer } from '../helpers/upstreams.js';

const C = 'outbound|9080||web.default.svc.cluster.local';

function mesh(cluster: EnvoyResource, endpoints: EnvoyResource[] = []) {
  return {
    clusters: [cluster, passthroughCluster()],
    endpoints,
    listeners: [virtualOutbound(0), outboundHttpListener(9080)],
    routes: [routeConfig('9080', [vhost('web', ['web:9080'], [route({ prefix: '/' }, C)])])],
  };
}

async function served(h: Harness, n: number, path = '/'): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await viaProxy(h.outbound, `http://web:9080${path}`);
    const who = r.status === 200 ? String(r.headers['x-served-by']) : String(r.status);
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}

function flags(body: string, port: number): string | undefined {
  return new RegExp(`^${C.replace(/\|/g, '\\|')}::127\\.0\\.0\\.1:${port}::health_flags::(.*)$`, 'm').exec(body)?.[1];
}

test('EDS health_status: HEALTHY and UNKNOWN serve; UNHEALTHY, DRAINING, TIMEOUT do not; /clusters shows the flags', async () => {
  const statuses = ['HEALTHY', 'UNKNOWN', 'UNHEALTHY', 'DRAINING', 'TIMEOUT'];
  const echoes = await Promise.all(statuses.map((s) => startEcho(s)));
  const cla = {
    cluster_name: C,
    endpoints: [{ lb_endpoints: echoes.map((e, i) => ({ endpoint: { address: socketAddress('127.0.0.1', e.port) }, health_status: statuses[i] })) }],
  };
  const h = await startHarness(mesh(edsCluster(C, { common_lb_config: { healthy_panic_threshold: { value: 0 } } }), [cla]));
  try {
    assert.deepEqual(Object.keys(await served(h, 20)).sort(), ['HEALTHY', 'UNKNOWN']);
    const body = (await h.admin('/clusters')).body;
    assert.deepEqual(echoes.map((e) => flags(body, e.port)), ['healthy', 'healthy', '/failed_eds_health', '/eds_status_draining', '/failed_eds_health']);
    const json = JSON.parse((await h.admin('/clusters?format=json')).body);
    const hs = json.cluster_statuses.find((c: { name: string }) => c.name === C).host_statuses;
    assert.deepEqual(hs.map((x: any) => x.health_status.eds_health_status), ['HEALTHY', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'UNHEALTHY']);
    const stats = (await h.admin('/stats')).body;
    assert.ok(stats.includes(`cluster.${C}.membership_healthy: 2\n`), 'membership_healthy');
    assert.ok(stats.includes(`cluster.${C}.membership_total: 5\n`), 'membership_total');
  } finally {
    await h.close();
    await Promise.all(echoes.map((e) => e.close()));
  }
});

test('outlier detection: consecutive 5xx eject a host (/failed_outlier_check, ejection stats), it returns after base_ejection_time', async () => {
  const a = await startEcho('a');
  const b = await startEcho('b');
  const cluster = staticCluster(C, [['127.0.0.1', a.port], ['127.0.0.1', b.port]], {
    outlier_detection: { consecutive_5xx: { value: 2 }, interval: { nanos: 100_000_000 }, base_ejection_time: { seconds: 1 }, max_ejection_percent: { value: 50 }, enforcing_success_rate: { value: 0 } },
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
  });
  const h = await startHarness(mesh(cluster));
  try {
    b.failNext(2, 500);
    const before = Date.now();
    const first = await served(h, 6);
    assert.equal(first['500'], 2, 'b answered two 500s before it was ejected');
    let body = (await h.admin('/clusters')).body;
    assert.equal(flags(body, b.port), '/failed_outlier_check');
    assert.equal(flags(body, a.port), 'healthy');
    assert.match(body, new RegExp(`${C.replace(/\|/g, '\\|')}::outlier::success_rate_average::-1\n`));
    assert.deepEqual(await served(h, 6), { a: 6 });
    const stats = (await h.admin('/stats')).body;
    for (const line of ['ejections_active: 1', 'ejections_enforced_total: 1', 'ejections_enforced_consecutive_5xx: 1', 'ejections_detected_consecutive_5xx: 1', 'ejections_total: 1']) {
      assert.ok(stats.includes(`cluster.${C}.outlier_detection.${line}\n`), line);
    }
    const prom = (await h.admin('/stats/prometheus')).body;
    assert.ok(prom.includes(`envoy_cluster_outlier_detection_ejections_active{cluster_name="${C}"} 1\n`), prom);
    assert.ok(prom.includes(`envoy_cluster_outlier_detection_ejections_enforced_total{cluster_name="${C}"} 1\n`));
    await waitFor(async () => flags((await h.admin('/clusters')).body, b.port) === 'healthy', 3000, 'b back');
    const back = Date.now() - before;
    assert.ok(back >= 1000 && back < 3000, `back after ${back} ms (base 1 s, interval 100 ms)`);
    assert.ok((await served(h, 6)).b! > 0);
    body = (await h.admin('/stats')).body;
    assert.ok(body.includes(`cluster.${C}.outlier_detection.ejections_active: 0\n`));
  } finally {
    await h.close();
    await a.close();
    await b.close();
  }
});

test('active health checks: a host that fails them gets no traffic and shows /failed_active_hc; health_check stats', async () => {
  const good = await startEcho('good');
  const dead = await closedPort();
  const cluster = staticCluster(C, [['127.0.0.1', good.port], ['127.0.0.1', dead]], {
    health_checks: [{
      timeout: { nanos: 200_000_000 }, interval: { nanos: 50_000_000 }, no_traffic_interval: { nanos: 50_000_000 },
      unhealthy_threshold: { value: 2 }, healthy_threshold: { value: 1 }, http_health_check: { path: '/healthz' },
    }],
  });
  const h = await startHarness(mesh(cluster));
  try {
    assert.deepEqual(await served(h, 6), { good: 6 });
    const body = (await h.admin('/clusters')).body;
    assert.equal(flags(body, good.port), 'healthy');
    assert.equal(flags(body, dead), '/failed_active_hc');
    assert.ok(good.requests.some((r) => r.url === '/healthz' && r.headers['user-agent'] === 'Envoy/HC' && r.headers.host === C));
    const stats = (await h.admin('/stats')).body;
    assert.ok(stats.includes(`cluster.${C}.health_check.healthy: 1\n`));
    assert.match(stats, new RegExp(`cluster\\.${C.replace(/\|/g, '\\|')}\\.health_check\\.network_failure: [1-9]`));
  } finally {
    await h.close();
    await good.close();
  }
});
