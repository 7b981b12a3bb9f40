/**
 * Active health checking against real loopback servers: HTTP (first success heals at once, a bad
 * status fails at once, thresholds for recovery / network failures / retriable statuses,
 * timeouts), TCP payloads, gRPC health, intervals, and cluster warming.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { StatsStore } from '../../../src/stats/stats-store.js';
import { ClusterStats, type HealthCheckStats } from '../../../src/proxy/telemetry/stats-cluster.js';
import { Host } from '../../../src/proxy/upstream/host.js';
import { parseHealthChecks, type HealthCheckConfig } from '../../../src/proxy/upstream/health-check-config.js';
import { HealthChecker } from '../../../src/proxy/upstream/health-checker.js';
import { parseCluster } from '../../../src/proxy/upstream/cluster-config.js';
import { Cluster } from '../../../src/proxy/upstream/cluster.js';
import { waitFor } from '../helpers/harness.js';

const ms = (n: number) => ({ seconds: Math.floor(n / 1000), nanos: (n % 1000) * 1e6 });

function hcConfig(extra: Record<string, unknown>): HealthCheckConfig {
  return parseHealthChecks('c', [{
    timeout: ms(500), interval: ms(20), no_traffic_interval: ms(20), unhealthy_threshold: { value: 3 }, healthy_threshold: { value: 2 }, ...extra,
  }])!;
}

interface Flip {
  failed: boolean;
  success: number;
  failure: number;
  network: number;
}

function checker(cfg: HealthCheckConfig, port: number) {
  const stats = new ClusterStats(new StatsStore(), 'c').healthCheck();
  const flips: Flip[] = [];
  const host = new Host('127.0.0.1', port);
  const hc = new HealthChecker(cfg, stats, {
    authority: 'outbound|80||svc.default.svc.cluster.local',
    hasTraffic: () => true,
    onChange: (h) => flips.push({ failed: h.failedActiveHc, success: stats.success.value, failure: stats.failure.value, network: stats.network_failure.value }),
  });
  hc.setHosts([host]);
  return { hc, host, stats, flips };
}

async function httpServer(): Promise<{ port: number; state: { status: number; delay: number }; seen: http.IncomingMessage[]; close(): Promise<void> }> {
  const state = { status: 200, delay: 0 };
  const seen: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req);
    const send = () => res.writeHead(state.status, { 'content-length': '2' }).end('ok');
    if (state.delay > 0) setTimeout(send, state.delay);
    else send();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    state,
    seen,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

test('HTTP: a new host is failed + pending until its first check, which heals it at once; a bad status fails it at once; healthy_threshold to recover', async () => {
  const srv = await httpServer();
  const { hc, host, flips, stats } = checker(hcConfig({ http_health_check: { path: '/healthz' } }), srv.port);
  try {
    assert.equal(host.healthFlags(), '/failed_active_hc/pending_active_hc');
    assert.equal(hc.warming, true);
    await waitFor(() => flips.length === 1, 2000, 'first check');
    assert.deepEqual(flips[0], { failed: false, success: 1, failure: 0, network: 0 });
    assert.equal(host.healthFlags(), 'healthy');
    assert.equal(hc.warming, false);
    const req = srv.seen[0];
    assert.equal(req.url, '/healthz');
    assert.equal(req.headers.host, 'outbound|80||svc.default.svc.cluster.local');
    assert.equal(req.headers['user-agent'], 'Envoy/HC');
    assert.equal(stats.healthy.value, 1);

    srv.state.status = 503;
    await waitFor(() => flips.length === 2, 2000, 'unhealthy');
    assert.equal(flips[1].failed, true);
    assert.equal(flips[1].failure, 1, 'a non-retriable status fails the host at its first occurrence');
    assert.equal(host.healthFlags(), '/failed_active_hc');
    assert.equal(stats.healthy.value, 0);

    const okBefore = stats.success.value;
    srv.state.status = 200;
    await waitFor(() => flips.length === 3, 2000, 'healthy again');
    assert.equal(flips[2].failed, false);
    assert.equal(flips[2].success - okBefore, 2, 'healthy_threshold successes in a row');
  } finally {
    hc.stop();
    await srv.close();
  }
});

test('HTTP: expected_statuses widen success; retriable_statuses need unhealthy_threshold', async () => {
  const srv = await httpServer();
  const { hc, host, flips, stats } = checker(hcConfig({
    http_health_check: { path: '/h', expected_statuses: [{ start: 200, end: 300 }], retriable_statuses: [{ start: 429, end: 430 }] },
  }), srv.port);
  try {
    srv.state.status = 204;
    await waitFor(() => flips.length === 1, 2000, 'first check');
    assert.equal(host.failedActiveHc, false);
    const failBefore = stats.failure.value;
    srv.state.status = 429;
    await waitFor(() => flips.length === 2, 2000, 'unhealthy');
    assert.equal(flips[1].failure - failBefore, 3);
    assert.equal(flips[1].network, 0);
  } finally {
    hc.stop();
    await srv.close();
  }
});

test('network failures and timeouts need unhealthy_threshold in a row; a timeout sets /active_hc_timeout', async () => {
  const srv = await httpServer();
  const { hc, host, flips, stats } = checker(hcConfig({ http_health_check: { path: '/h' } }), srv.port);
  try {
    await waitFor(() => flips.length === 1, 2000, 'first check');
    srv.state.delay = 800;
    await waitFor(() => flips.length === 2, 4000, 'unhealthy by timeouts');
    assert.equal(flips[1].network, 3);
    assert.equal(host.healthFlags(), '/failed_active_hc/active_hc_timeout');
    srv.state.delay = 0;
    await waitFor(() => flips.length === 3, 3000, 'healthy again');
    assert.equal(host.activeHcTimeout, false);
    await srv.close();
    const before = stats.network_failure.value;
    await waitFor(() => flips.length === 4, 3000, 'unhealthy by refused connections');
    assert.equal(flips[3].network - before, 3);
    assert.equal(host.healthFlags(), '/failed_active_hc');
  } finally {
    hc.stop();
    await srv.close().catch(() => undefined);
  }
});

test('TCP: connect only, or send a payload and find the expected ones in order', async () => {
  const sockets = new Set<net.Socket>();
  let reply = 'PONG';
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (d) => {
      if (d.toString() === 'PING') s.write(reply.slice(0, 2)), setTimeout(() => s.write(reply.slice(2)), 5);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const hex = (s: string) => Buffer.from(s).toString('hex');
  const plain = checker(hcConfig({ tcp_health_check: {} }), port);
  const payload = checker(hcConfig({ tcp_health_check: { send: { text: hex('PING') }, receive: [{ text: hex('PO') }, { text: hex('NG') }] } }), port);
  try {
    await waitFor(() => plain.flips.length === 1 && payload.flips.length === 1, 2000, 'first checks');
    assert.equal(plain.host.failedActiveHc, false);
    assert.equal(payload.host.failedActiveHc, false);
    reply = 'NOPE';
    await waitFor(() => payload.flips.length === 2, 3000, 'payload mismatch');
    assert.equal(payload.host.failedActiveHc, true);
    assert.equal(payload.host.activeHcTimeout, true, 'a reply that never matches ends in a timeout');
    assert.equal(plain.host.failedActiveHc, false);
  } finally {
    plain.hc.stop();
    payload.hc.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
  assert.throws(() => parseHealthChecks('c', [{ timeout: ms(1), interval: ms(1), unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: { send: { text: 'zz' } } }]), /hex/);
});

test('gRPC: grpc.health.v1 SERVING is healthy, NOT_SERVING fails at once', async () => {
  let serving = 1;
  let service = '';
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      service = body.subarray(7).toString();
      assert.equal(headers[':path'], '/grpc.health.v1.Health/Check');
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, serving]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const { hc, host, flips } = checker(hcConfig({ grpc_health_check: { service_name: 'echo.Echo' } }), port);
  try {
    await waitFor(() => flips.length === 1, 2000, 'first check');
    assert.equal(host.failedActiveHc, false);
    assert.equal(service, 'echo.Echo');
    serving = 2;
    await waitFor(() => flips.length === 2, 2000, 'not serving');
    assert.equal(flips[1].failure, 1);
  } finally {
    hc.stop();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('intervals: no_traffic_interval until the cluster had traffic, then interval / unhealthy_interval / edge intervals, plus jitter', () => {
  const cfg = parseHealthChecks('c', [{
    timeout: ms(1000), interval: ms(5000), unhealthy_interval: ms(7000), unhealthy_edge_interval: ms(3000), healthy_edge_interval: ms(2000),
    interval_jitter: ms(100), unhealthy_threshold: 2, healthy_threshold: 2, http_health_check: { path: '/' },
  }])!;
  assert.equal(cfg.noTrafficIntervalMs, 60_000);
  let traffic = false;
  const hc = new HealthChecker(cfg, new ClusterStats(new StatsStore(), 'c').healthCheck(), { authority: 'c', hasTraffic: () => traffic, onChange: () => undefined, random: () => 0.5 });
  assert.equal(hc.interval(true, 'unchanged'), 60_050);
  traffic = true;
  assert.equal(hc.interval(true, 'unchanged'), 5050);
  assert.equal(hc.interval(true, 'pending'), 2050);
  assert.equal(hc.interval(false, 'changed'), 7050);
  assert.equal(hc.interval(false, 'pending'), 3050);
  assert.throws(() => parseHealthChecks('c', [{ timeout: ms(1), interval: ms(1), unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: {} }]), /path/);
  assert.throws(() => parseHealthChecks('c', [{ interval: ms(1), unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }]), /timeout/);
  const two = { timeout: ms(1), interval: ms(1), unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} };
  assert.throws(() => parseHealthChecks('c', [two, two]), /multiple/);
});

test('a cluster with health checks warms until the first round; failed hosts get no traffic', async () => {
  const good = await httpServer();
  const bad = await httpServer();
  bad.state.status = 500;
  const cfg = parseCluster({
    name: 'hc', type: 'STATIC', connect_timeout: ms(1000),
    load_assignment: { cluster_name: 'hc', endpoints: [{ lb_endpoints: [good, bad].map((s) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: s.port } } } })) }] },
    health_checks: [{ timeout: ms(200), interval: ms(20), no_traffic_interval: ms(20), unhealthy_threshold: { value: 2 }, healthy_threshold: { value: 2 }, http_health_check: { path: '/' } }],
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
  });
  let initialized = 0;
  const store = new StatsStore();
  const c = new Cluster(cfg, new ClusterStats(store, 'hc'), { onInitialized: () => initialized++ });
  try {
    assert.equal(c.initialized, false, 'warming: first health check round pending');
    assert.equal(c.chooseHost(undefined), undefined, 'no host is healthy before its first check');
    await waitFor(() => c.initialized, 2000, 'warm');
    assert.equal(initialized, 1);
    for (let i = 0; i < 6; i++) assert.equal(c.chooseHost(undefined)!.port, good.port);
    assert.equal(c.hosts.find((h) => h.port === bad.port)!.healthFlags(), '/failed_active_hc');
    assert.equal(store.byFlatName('cluster.hc.health_check.healthy')!.flatName, 'cluster.hc.health_check.healthy');
    assert.equal((store.byFlatName('cluster.hc.membership_healthy') as { value: number }).value, 1);
  } finally {
    await c.close();
    await good.close();
    await bad.close();
  }
});
