/** Fault filter: abort (FI), delay (DI), percentages, per-route override. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamInfo } from '../../src/proxy/core/stream-info.js';
import { FAULT_TYPE } from '../../src/xds/type-urls.js';
import { assignment, edsCluster, faultFilter, outboundHttpListener, passthroughCluster, route, routeConfig, routerFilter, virtualOutbound, vhost } from './helpers/resources.js';
import { startHarness, viaProxy, waitFor, type Harness } from './helpers/harness.js';
import { startEcho, type EchoServer } from './helpers/upstreams.js';

const C = 'outbound|9080||ratings.default.svc.cluster.local';
let echo: EchoServer;
let h: Harness;
const infos: StreamInfo[] = [];

const fault = (f: Record<string, unknown>) => ({ 'envoy.filters.http.fault': { '@type': FAULT_TYPE, ...f } });

before(async () => {
  echo = await startEcho('ratings');
  h = await startHarness(
    {
      clusters: [edsCluster(C), passthroughCluster()],
      endpoints: [assignment(C, [['127.0.0.1', echo.port]])],
      listeners: [
        virtualOutbound(0),
        outboundHttpListener(9080, [{ ...faultFilter, typed_config: { '@type': FAULT_TYPE, abort: { http_status: 500, percentage: { numerator: 0 } } } }, routerFilter]),
      ],
      routes: [
        routeConfig('9080', [
          vhost('ratings', ['ratings:9080'], [
            route({ prefix: '/abort' }, C, {}, { typed_per_filter_config: fault({ abort: { http_status: 503, percentage: { numerator: 100, denominator: 'HUNDRED' } } }) }),
            route({ prefix: '/delay' }, C, {}, { typed_per_filter_config: fault({ delay: { fixed_delay: { nanos: 200_000_000 }, percentage: { numerator: 1_000_000, denominator: 'MILLION' } } }) }),
            route({ prefix: '/half' }, C, {}, { typed_per_filter_config: fault({ abort: { http_status: 418, percentage: { numerator: 5000, denominator: 'TEN_THOUSAND' } } }) }),
            route({ prefix: '/jason' }, C, {}, {
              typed_per_filter_config: fault({ abort: { http_status: 500, percentage: { numerator: 100 } }, headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] }),
            }),
            route({ prefix: '/' }, C),
          ]),
        ]),
      ],
    },
    { observer: { onRequestComplete: (i) => infos.push(i) } },
  );
});

after(async () => {
  await h.close();
  await echo.close();
});

test('abort: per-route 100% abort answers 503 "fault filter abort" with flag FI, never reaching the upstream', async () => {
  const before = echo.requests.length;
  const r = await viaProxy(h.outbound, 'http://ratings:9080/abort');
  assert.equal(r.status, 503);
  assert.equal(r.body, 'fault filter abort');
  assert.equal(echo.requests.length, before);
  await waitFor(() => infos.some((i) => i.path === '/abort'));
  assert.ok(infos.find((i) => i.path === '/abort')!.responseFlags.has('FI'));
});

test('delay: fixed 200 ms delay then the upstream answers, flag DI', async () => {
  const t0 = performance.now();
  const r = await viaProxy(h.outbound, 'http://ratings:9080/delay');
  const took = performance.now() - t0;
  assert.equal(r.status, 200);
  assert.ok(took >= 190, `took ${took}`);
  await waitFor(() => infos.some((i) => i.path === '/delay'));
  assert.ok(infos.find((i) => i.path === '/delay')!.responseFlags.has('DI'));
});

test('percentages: 50% (TEN_THOUSAND) aborts about half; listener-level 0% never', async () => {
  let aborted = 0;
  for (let i = 0; i < 100; i++) if ((await viaProxy(h.outbound, 'http://ratings:9080/half')).status === 418) aborted++;
  assert.ok(aborted > 25 && aborted < 75, `aborted ${aborted}`);
  for (let i = 0; i < 20; i++) assert.equal((await viaProxy(h.outbound, 'http://ratings:9080/plain')).status, 200);
});

test('header-matched fault applies only to matching requests', async () => {
  assert.equal((await viaProxy(h.outbound, 'http://ratings:9080/jason', { headers: { 'end-user': 'jason' } })).status, 500);
  assert.equal((await viaProxy(h.outbound, 'http://ratings:9080/jason', { headers: { 'end-user': 'bob' } })).status, 200);
});
