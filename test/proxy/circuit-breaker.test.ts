/**
 * Circuit breakers (Envoy cluster thresholds): the Istio circuit-breaking task shape (1 connection,
 * 1 pending request, 1 request per connection), then each threshold tripping exactly at its limit
 * (max_connections + max_pending_requests, max_requests on HTTP/2 and HTTP/1.1, max_retries), and
 * the stats under Envoy's names in /stats and Prometheus form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { StreamInfo } from '../../src/proxy/core/stream-info.js';
import { outboundHttpListener, passthroughCluster, route, routeConfig, staticCluster, virtualOutbound, vhost } from './helpers/resources.js';
import { startHarness, viaProxy, waitFor, type Harness } from './helpers/harness.js';
import { startEcho } from './helpers/upstreams.js';

const C = 'outbound|8000||httpbin.default.svc.cluster.local';

test('maxConnections 1 + http1MaxPendingRequests 1 + maxRequestsPerConnection 1: concurrent callers see 200s and 503 UO', async () => {
  const echo = await startEcho('httpbin');
  const h = await startHarness({
    clusters: [
      staticCluster(C, [['127.0.0.1', echo.port]], {
        circuit_breakers: { thresholds: [{ max_connections: { value: 1 }, max_pending_requests: { value: 1 }, max_requests: { value: 4294967295 }, max_retries: { value: 4294967295 } }] },
        typed_extension_protocol_options: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
            common_http_protocol_options: { max_requests_per_connection: { value: 1 } },
            explicit_http_config: { http_protocol_options: {} },
          },
        },
      }),
      passthroughCluster(),
    ],
    endpoints: [],
    listeners: [virtualOutbound(0), outboundHttpListener(8000)],
    routes: [routeConfig('8000', [vhost('httpbin', ['httpbin:8000'], [route({ prefix: '/' }, C)])])],
  });
  try {
    const codes: number[] = [];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
    await Promise.all([0, 1, 2].map(async () => {
      for (let i = 0; i < 15; i++) codes.push((await viaProxy(h.outbound, 'http://httpbin:8000/get', { agent })).status);
    }));
    agent.destroy();
    const ok = codes.filter((c) => c === 200).length;
    const uo = codes.filter((c) => c === 503).length;
    assert.equal(ok + uo, 45);
    assert.ok(ok > 0 && uo > 0, `200: ${ok}, 503: ${uo}`);
    assert.equal(h.proxy.clusterStats(C).upstream_rq_pending_overflow.value, uo);
    // every connection carried one request
    assert.equal(h.proxy.clusterStats(C).upstream_cx_total.value, ok);
  } finally {
    await h.close();
    await echo.close();
  }
});

// ---- Each threshold trips exactly at its limit (must-show 1). Upstreams hold requests until the
// test releases them, so "N in flight" is a fact the upstream reports, not a timing guess.

interface HoldServer {
  port: number;
  /** requests the upstream is holding right now */
  held(): number;
  /** most TCP connections open at once */
  maxConnections: number;
  release(): void;
  close(): Promise<void>;
}

/** HTTP/1.1 or h2c upstream: `/hold` waits for release(); with failFirst, a first attempt answers 503 at once. */
async function startHoldServer(opts: { h2?: boolean; failFirst?: boolean } = {}): Promise<HoldServer> {
  const waiting: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  let maxConnections = 0;
  const handle = (attempt: string | undefined, respond: (status: number, body: string) => void): void => {
    if (opts.failFirst && attempt === '1') return respond(503, 'first attempt fails');
    waiting.push(() => respond(200, 'released'));
  };
  const server: net.Server = opts.h2
    ? http2.createServer((req, res) => handle(req.headers['x-envoy-attempt-count'] as string | undefined, (s, b) => res.writeHead(s).end(b)))
    : http.createServer((req, res) => handle(req.headers['x-envoy-attempt-count'] as string | undefined, (s, b) => res.writeHead(s, { 'content-length': Buffer.byteLength(b) }).end(b)));
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    maxConnections = Math.max(maxConnections, sockets.size);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    held: () => waiting.length,
    get maxConnections() {
      return maxConnections;
    },
    release: () => waiting.splice(0).forEach((f) => f()),
    close: () => new Promise<void>((r) => {
      waiting.splice(0).forEach((f) => f());
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

const LIMITED = 'outbound|8000||limited.default.svc.cluster.local';
const MAX = 4294967295;

function thresholds(t: { cx?: number; pending?: number; rq?: number; retries?: number }) {
  return { thresholds: [{ max_connections: { value: t.cx ?? MAX }, max_pending_requests: { value: t.pending ?? MAX }, max_requests: { value: t.rq ?? MAX }, max_retries: { value: t.retries ?? MAX }, track_remaining: true }] };
}

async function limitedHarness(port: number, cluster: Record<string, unknown>, routeExtra: Record<string, unknown> = {}) {
  const infos: StreamInfo[] = [];
  const h = await startHarness(
    {
      clusters: [staticCluster(LIMITED, [['127.0.0.1', port]], cluster), passthroughCluster()],
      endpoints: [],
      listeners: [virtualOutbound(0), outboundHttpListener(8000)],
      routes: [routeConfig('8000', [vhost('limited', ['limited:8000'], [route({ prefix: '/' }, LIMITED, routeExtra)])])],
    },
    { observer: { onRequestComplete: (i) => infos.push(i) } },
  );
  return { h, infos, stats: h.proxy.clusterStats(LIMITED) };
}

const send = (h: Harness, path = '/hold') => viaProxy(h.outbound, `http://limited:8000${path}`);

async function expectOverflow(h: Harness, infos: StreamInfo[], path = '/hold/overflow'): Promise<void> {
  const r = await send(h, path);
  assert.equal(r.status, 503);
  assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: overflow');
  await waitFor(() => infos.some((i) => i.path === path), 2000, 'access info');
  assert.ok(infos.find((i) => i.path === path)!.responseFlags.has('UO'));
}

for (const [N, P] of [[1, 1], [3, 2]]) {
  test(`max_connections ${N}: ${N} requests on ${N} connections, more wait (cx_overflow); max_pending_requests ${P}: ${P} wait, the next is 503 UO at once`, async () => {
    const up = await startHoldServer();
    const { h, infos, stats } = await limitedHarness(up.port, { circuit_breakers: thresholds({ cx: N, pending: P }) });
    try {
      const inFlight = Array.from({ length: N }, () => send(h));
      await waitFor(() => up.held() === N, 3000, `${N} held upstream`);
      assert.equal(stats.cb_cx_open.value, 1);
      assert.equal(stats.cb_remaining_cx.value, 0);
      assert.equal(stats.upstream_cx_overflow.value, 0);
      const pending = Array.from({ length: P }, () => send(h));
      await waitFor(() => stats.upstream_rq_pending_active.value === P, 3000, `${P} pending`);
      assert.equal(stats.upstream_cx_overflow.value, P, 'each waiting request wanted one more connection');
      assert.equal(stats.cb_rq_pending_open.value, 1);
      assert.equal(stats.cb_remaining_pending.value, 0);
      assert.equal(up.held(), N, 'pending requests never reach the upstream');
      await expectOverflow(h, infos);
      assert.equal(stats.upstream_rq_pending_overflow.value, 1);
      assert.equal(stats.upstream_rq_pending_total.value, P);
      // releasing lets the pending ones through, still on N connections at most
      const all = Promise.all([...inFlight, ...pending]);
      let settled = false;
      void all.finally(() => (settled = true)).catch(() => undefined);
      while (!settled) {
        up.release();
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual((await all).map((r) => r.status), Array(N + P).fill(200));
      assert.equal(up.maxConnections, N);
      await waitFor(() => stats.cb_cx_open.value === 0 && stats.cb_rq_pending_open.value === 0, 2000, 'breakers closed');
    } finally {
      await h.close();
      await up.close();
    }
  });
}

for (const h2 of [true, false]) {
  test(`max_requests 3 (${h2 ? 'HTTP/2, http2MaxRequests' : 'HTTP/1.1'}): 3 in flight, the 4th is 503 UO at once (upstream_rq_pending_overflow, rq_open)`, async () => {
    const up = await startHoldServer({ h2 });
    const cluster: Record<string, unknown> = { circuit_breakers: thresholds({ rq: 3 }) };
    if (h2) cluster.http2_protocol_options = {};
    const { h, infos, stats } = await limitedHarness(up.port, cluster);
    try {
      const inFlight = Array.from({ length: 3 }, () => send(h));
      await waitFor(() => up.held() === 3, 3000, '3 held upstream');
      assert.equal(stats.cb_rq_open.value, 1);
      assert.equal(stats.cb_remaining_rq.value, 0);
      await expectOverflow(h, infos);
      assert.equal(stats.upstream_rq_pending_overflow.value, 1);
      assert.equal(up.held(), 3);
      up.release();
      assert.deepEqual((await Promise.all(inFlight)).map((r) => r.status), [200, 200, 200]);
      if (h2) assert.equal(up.maxConnections, 1, 'one HTTP/2 connection carries the streams');
      await waitFor(() => stats.cb_rq_open.value === 0, 2000, 'rq breaker closed');
      // the slot frees: a new request goes through
      const again = send(h);
      await waitFor(() => up.held() === 1, 2000, 'held again');
      up.release();
      assert.equal((await again).status, 200);
    } finally {
      await h.close();
      await up.close();
    }
  });
}

test('max_retries 2: two retries in flight; a third is not retried: the upstream 503 goes back flagged UO (upstream_rq_retry_overflow)', async () => {
  const up = await startHoldServer({ failFirst: true });
  const retry = { retry_policy: { retry_on: '5xx', num_retries: { value: 1 }, retry_back_off: { base_interval: { nanos: 1_000_000 } } } };
  const { h, infos, stats } = await limitedHarness(up.port, { circuit_breakers: thresholds({ retries: 2 }) }, retry);
  try {
    const retried = [send(h, '/hold/a'), send(h, '/hold/b')];
    await waitFor(() => up.held() === 2, 3000, 'two retries held upstream');
    assert.equal(stats.upstream_rq_retry.value, 2);
    assert.equal(stats.cb_rq_retry_open.value, 1);
    assert.equal(stats.cb_remaining_retries.value, 0);
    const r = await send(h, '/hold/c');
    assert.equal(r.status, 503);
    assert.equal(r.body, 'first attempt fails', 'the upstream response is passed through');
    await waitFor(() => infos.some((i) => i.path === '/hold/c'), 2000, 'access info');
    const info = infos.find((i) => i.path === '/hold/c')!;
    assert.ok(info.responseFlags.has('UO'));
    assert.equal(info.attemptCount, 1);
    assert.equal(stats.upstream_rq_retry_overflow.value, 1);
    up.release();
    assert.deepEqual((await Promise.all(retried)).map((x) => x.status), [200, 200]);
    await waitFor(() => stats.cb_rq_retry_open.value === 0 && stats.cb_remaining_retries.value === 2, 2000, 'retry slots returned');
    // with the slots back, a failing first attempt is retried again
    const again = send(h, '/hold/d');
    await waitFor(() => up.held() === 1, 2000, 'retry held');
    up.release();
    assert.equal((await again).status, 200);
    assert.equal(stats.upstream_rq_retry.value, 3);
  } finally {
    await h.close();
    await up.close();
  }
});

test('circuit breaker stats have Envoy names in /stats and in Prometheus form', async () => {
  const up = await startHoldServer();
  const { h, stats } = await limitedHarness(up.port, { circuit_breakers: thresholds({ cx: 1, pending: 1 }) });
  try {
    const a = send(h);
    a.catch(() => undefined);
    await waitFor(() => up.held() === 1, 3000, 'held');
    const b = send(h);
    b.catch(() => undefined);
    await waitFor(() => stats.upstream_rq_pending_active.value === 1, 3000, 'pending');
    assert.equal((await send(h)).status, 503);
    const text = (await h.admin('/stats')).body;
    const p = `cluster.${LIMITED}.`;
    for (const line of [
      'upstream_cx_overflow: 1', 'upstream_rq_pending_overflow: 1', 'upstream_rq_pending_active: 1', 'upstream_rq_pending_total: 1',
      'upstream_rq_retry_overflow: 0', 'circuit_breakers.default.cx_open: 1', 'circuit_breakers.default.rq_pending_open: 1',
      'circuit_breakers.default.rq_open: 0', 'circuit_breakers.default.rq_retry_open: 0', 'circuit_breakers.default.remaining_pending: 0',
    ]) assert.ok(text.includes(`${p}${line}\n`), `${p}${line} in /stats`);
    const prom = (await h.admin('/stats/prometheus')).body;
    const label = `{cluster_name="${LIMITED}"}`;
    for (const line of [
      `envoy_cluster_upstream_cx_overflow${label} 1`, `envoy_cluster_upstream_rq_pending_overflow${label} 1`,
      `envoy_cluster_upstream_rq_pending_active${label} 1`, `envoy_cluster_upstream_rq_pending_total${label} 1`,
      `envoy_cluster_upstream_rq_retry_overflow${label} 0`, `envoy_cluster_circuit_breakers_default_cx_open${label} 1`,
      `envoy_cluster_circuit_breakers_default_rq_pending_open${label} 1`, `envoy_cluster_circuit_breakers_default_rq_open${label} 0`,
      `envoy_cluster_circuit_breakers_default_rq_retry_open${label} 0`,
    ]) assert.ok(prom.includes(`${line}\n`), `${line} in Prometheus text`);
    up.release();
    await a;
    up.release();
    await waitFor(() => up.held() === 1, 2000, 'second held');
    up.release();
    await b;
  } finally {
    await h.close();
    await up.close();
  }
});
