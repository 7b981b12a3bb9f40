/** Router behaviour against real upstreams: timeouts, retries, local replies and flags, mirroring. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamInfo } from '../../src/proxy/core/stream-info.js';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, staticCluster, virtualOutbound, vhost } from './helpers/resources.js';
import { startHarness, viaProxy, waitFor, type Harness } from './helpers/harness.js';
import { closedPort, startEcho, type EchoServer } from './helpers/upstreams.js';

const MAIN = 'outbound|9080||svc.default.svc.cluster.local';
const FLAKY = 'outbound|9080|flaky|svc.default.svc.cluster.local';
const SHADOW = 'outbound|9080||shadow.default.svc.cluster.local';
const EMPTY = 'outbound|9080||empty.default.svc.cluster.local';
const DEAD = 'outbound|9080||dead.default.svc.cluster.local';
const LIMITED = 'outbound|9080||limited.default.svc.cluster.local';
let main: EchoServer;
let flaky: EchoServer;
let shadow: EchoServer;
let h: Harness;
const infos: StreamInfo[] = [];

function lastInfo(path: string): StreamInfo | undefined {
  return [...infos].reverse().find((i) => i.path === path);
}

before(async () => {
  main = await startEcho('main');
  flaky = await startEcho('flaky');
  shadow = await startEcho('shadow');
  const dead = await closedPort();
  const retry = { retry_on: '5xx,connect-failure', num_retries: { value: 2 }, retry_back_off: { base_interval: { nanos: 5_000_000 } } };
  h = await startHarness(
    {
      clusters: [
        edsCluster(MAIN),
        edsCluster(FLAKY),
        edsCluster(SHADOW),
        edsCluster(EMPTY),
        staticCluster(DEAD, [['127.0.0.1', dead]]),
        staticCluster(LIMITED, [['127.0.0.1', 0]], {
          circuit_breakers: { thresholds: [{ max_connections: { value: 1 }, max_pending_requests: { value: 1 }, max_requests: { value: 1 } }] },
        }),
        passthroughCluster(),
      ],
      endpoints: [
        assignment(MAIN, [['127.0.0.1', main.port]]),
        assignment(FLAKY, [['127.0.0.1', flaky.port]]),
        assignment(SHADOW, [['127.0.0.1', shadow.port]]),
        assignment(EMPTY, []),
      ],
      listeners: [virtualOutbound(0), outboundHttpListener(9080)],
      routes: [
        routeConfig('9080', [
          vhost('svc', ['svc:9080'], [
            route({ prefix: '/timeout' }, MAIN, { timeout: { nanos: 100_000_000 } }),
            route({ prefix: '/retry' }, FLAKY, { retry_policy: retry }),
            route({ prefix: '/codes' }, FLAKY, { retry_policy: { retry_on: 'retriable-status-codes', retriable_status_codes: [409], num_retries: { value: 1 } } }),
            route({ prefix: '/pertry' }, MAIN, { timeout: { seconds: 2 }, retry_policy: { retry_on: '5xx', num_retries: { value: 1 }, per_try_timeout: { nanos: 100_000_000 } } }),
            route({ prefix: '/noretry' }, FLAKY),
            route({ prefix: '/dead-retry' }, DEAD, { retry_policy: retry }),
            route({ prefix: '/dead' }, DEAD),
            route({ prefix: '/empty' }, EMPTY),
            route({ prefix: '/nocluster' }, 'outbound|1||missing'),
            route({ prefix: '/limited' }, LIMITED),
            route({ prefix: '/mirror' }, MAIN, { request_mirror_policies: [{ cluster: SHADOW, runtime_fraction: { default_value: { numerator: 100 } } }] }),
            route({ prefix: '/' }, MAIN),
          ]),
        ]),
      ],
    },
    { observer: { onRequestComplete: (i) => infos.push(i) } },
  );
});

after(async () => {
  await h.close();
  await Promise.all([main.close(), flaky.close(), shadow.close()]);
});

test('route timeout: 504 "upstream request timeout", flag UT, upstream_rq_timeout', async () => {
  const r = await viaProxy(h.outbound, 'http://svc:9080/timeout/delay/1000');
  assert.equal(r.status, 504);
  assert.equal(r.body, 'upstream request timeout');
  await waitFor(() => lastInfo('/timeout/delay/1000') !== undefined);
  assert.ok(lastInfo('/timeout/delay/1000')!.responseFlags.has('UT'));
  assert.equal(h.proxy.clusterStats(MAIN).upstream_rq_timeout.value, 1);
});

test('retries: upstream failing twice then succeeding gives 200 with attempt count 3', async () => {
  const before = flaky.requests.length;
  flaky.failNext(2);
  const r = await viaProxy(h.outbound, 'http://svc:9080/retry');
  assert.equal(r.status, 200);
  assert.equal(flaky.requests.length - before, 3);
  assert.equal(JSON.parse(r.body).headers['x-envoy-attempt-count'], '3');
  assert.ok(h.proxy.clusterStats(FLAKY).upstream_rq_retry.value >= 2);
});

test('retries exhausted: the last upstream response is returned', async () => {
  flaky.failNext(5);
  const r = await viaProxy(h.outbound, 'http://svc:9080/retry');
  assert.equal(r.status, 503);
  assert.equal(JSON.parse(r.body).name, 'flaky');
  flaky.failNext(0);
});

test('retriable-status-codes retries only the listed codes', async () => {
  flaky.failNext(1, 409);
  assert.equal((await viaProxy(h.outbound, 'http://svc:9080/codes')).status, 200);
  flaky.failNext(1, 500);
  assert.equal((await viaProxy(h.outbound, 'http://svc:9080/codes')).status, 500);
  flaky.failNext(0);
});

test('without a retry policy a 503 passes straight through', async () => {
  flaky.failNext(1);
  const before = flaky.requests.length;
  assert.equal((await viaProxy(h.outbound, 'http://svc:9080/noretry')).status, 503);
  assert.equal(flaky.requests.length - before, 1);
});

test('per_try_timeout retries a slow attempt', async () => {
  const r = await viaProxy(h.outbound, 'http://svc:9080/pertry/delay/300');
  assert.equal(r.status, 504);
  await waitFor(() => lastInfo('/pertry/delay/300') !== undefined);
  assert.equal(lastInfo('/pertry/delay/300')!.attemptCount, 2);
  assert.ok(h.proxy.clusterStats(MAIN).upstream_rq_per_try_timeout.value >= 2);
});

test('connection failure: 503 UF; with retries exhausted: URX', async () => {
  const r = await viaProxy(h.outbound, 'http://svc:9080/dead');
  assert.equal(r.status, 503);
  assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
  await waitFor(() => lastInfo('/dead') !== undefined);
  assert.ok(lastInfo('/dead')!.responseFlags.has('UF'));
  const r2 = await viaProxy(h.outbound, 'http://svc:9080/dead-retry');
  assert.equal(r2.status, 503);
  await waitFor(() => lastInfo('/dead-retry') !== undefined);
  assert.ok(lastInfo('/dead-retry')!.responseFlags.has('URX'));
  assert.equal(lastInfo('/dead-retry')!.attemptCount, 3);
});

test('no healthy upstream: 503 UH; unknown cluster: 503 NC', async () => {
  const r = await viaProxy(h.outbound, 'http://svc:9080/empty');
  assert.equal(r.status, 503);
  assert.equal(r.body, 'no healthy upstream');
  const r2 = await viaProxy(h.outbound, 'http://svc:9080/nocluster');
  assert.equal(r2.status, 503);
  await waitFor(() => lastInfo('/nocluster') !== undefined && lastInfo('/empty') !== undefined);
  assert.ok(lastInfo('/empty')!.responseFlags.has('UH'));
  assert.ok(lastInfo('/nocluster')!.responseFlags.has('NC'));
});

test('circuit breaker overflow: 503 UO at once, upstream_rq_pending_overflow', async () => {
  // LIMITED's only endpoint is port 0; point it at the slow echo for this test.
  h.xds.set('type.googleapis.com/envoy.config.cluster.v3.Cluster', [
    edsCluster(MAIN), edsCluster(FLAKY), edsCluster(SHADOW), edsCluster(EMPTY), staticCluster(DEAD, [['127.0.0.1', 1]]),
    staticCluster(LIMITED, [['127.0.0.1', main.port]], { circuit_breakers: { thresholds: [{ max_connections: { value: 1 }, max_pending_requests: { value: 1 }, max_requests: { value: 1 } }] } }),
    passthroughCluster(),
  ]);
  await waitFor(() => h.xds.acks.some((a) => a.typeUrl.endsWith('Cluster') && a.version === h.xds.version('type.googleapis.com/envoy.config.cluster.v3.Cluster')));
  const results = await Promise.all([0, 1, 2, 3].map(() => viaProxy(h.outbound, 'http://svc:9080/limited/delay/200')));
  const codes = results.map((r) => r.status).sort();
  assert.deepEqual(codes, [200, 200, 503, 503]);
  const uo = results.find((r) => r.status === 503)!;
  assert.equal(uo.body, 'upstream connect error or disconnect/reset before headers. reset reason: overflow');
  assert.equal(h.proxy.clusterStats(LIMITED).upstream_rq_pending_overflow.value, 2);
});

test('mirroring: shadow gets a copy with -shadow authority; main response unaffected', async () => {
  const before = shadow.requests.length;
  const r = await viaProxy(h.outbound, 'http://svc:9080/mirror', { method: 'POST', body: 'hello', headers: { 'content-length': '5' } });
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).name, 'main');
  await waitFor(() => shadow.requests.length > before, 2000, 'mirror');
  const m = shadow.requests[shadow.requests.length - 1];
  assert.equal(m.headers.host, 'svc-shadow:9080');
  assert.equal(m.body, 'hello');
});

test('a downstream disconnect cancels the upstream request and frees its slot (flag DR)', async () => {
  const stats = h.proxy.clusterStats(MAIN);
  const net = await import('node:net');
  const s = net.connect(h.outbound, '127.0.0.1');
  s.write('GET http://svc:9080/gone2/delay/3000 HTTP/1.1\r\nHost: svc:9080\r\n\r\n');
  await waitFor(() => stats.upstream_rq_active.value === 1, 2000, 'upstream active');
  s.destroy();
  await waitFor(() => stats.upstream_rq_active.value === 0, 2000, 'slot freed');
  await waitFor(() => lastInfo('/gone2/delay/3000') !== undefined, 2000, 'stream info');
  assert.ok(lastInfo('/gone2/delay/3000')!.responseFlags.has('DR'));
});
