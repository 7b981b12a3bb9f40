/** Load balancing end to end: ring hash stickiness by header/cookie, least request, EDS priority failover. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, virtualOutbound, vhost, socketAddress } from './helpers/resources.js';
import { startHarness, viaProxy, type Harness } from './helpers/harness.js';
import { startEcho, type EchoServer } from './helpers/upstreams.js';

const RING = 'outbound|9080||ring.default.svc.cluster.local';
const LR = 'outbound|9080||lr.default.svc.cluster.local';
const PRIO = 'outbound|9080||prio.default.svc.cluster.local';
let echos: EchoServer[];
let h: Harness;

before(async () => {
  echos = await Promise.all(['e0', 'e1', 'e2', 'e3'].map((n) => startEcho(n)));
  const eps = (list: EchoServer[], priority = 0) => ({ priority, lb_endpoints: list.map((e) => ({ endpoint: { address: socketAddress('127.0.0.1', e.port) } })) });
  h = await startHarness({
    clusters: [
      edsCluster(RING, { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 512 } } }),
      edsCluster(LR, { lb_policy: 'LEAST_REQUEST' }),
      edsCluster(PRIO),
      passthroughCluster(),
    ],
    endpoints: [
      { cluster_name: RING, endpoints: [eps(echos)] },
      { cluster_name: LR, endpoints: [eps(echos.slice(0, 2))] },
      { cluster_name: PRIO, endpoints: [{ ...eps([echos[0]], 0), lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', echos[0].port) }, health_status: 'UNHEALTHY' }] }, eps([echos[3]], 1)] },
    ],
    listeners: [virtualOutbound(0), outboundHttpListener(9080)],
    routes: [
      routeConfig('9080', [
        vhost('s', ['s:9080'], [
          route({ prefix: '/ring-cookie' }, RING, { hash_policy: [{ cookie: { name: 'user' } }] }),
          route({ prefix: '/ring-query' }, RING, { hash_policy: [{ query_parameter: { name: 'u' } }] }),
          route({ prefix: '/ring' }, RING, { hash_policy: [{ header: { header_name: 'x-user' } }] }),
          route({ prefix: '/lr' }, LR),
          route({ prefix: '/prio' }, PRIO),
        ]),
      ]),
    ],
  });
});

after(async () => {
  await h.close();
  await Promise.all(echos.map((e) => e.close()));
});

const name = async (path: string, headers: Record<string, string> = {}) => JSON.parse((await viaProxy(h.outbound, `http://s:9080${path}`, { headers })).body).name as string;

test('ring hash: a user sticks to one host (header, cookie, query), different users spread', async () => {
  const first = await name('/ring', { 'x-user': 'jason' });
  for (let i = 0; i < 10; i++) assert.equal(await name('/ring', { 'x-user': 'jason' }), first);
  const c = await name('/ring-cookie', { cookie: 'a=1; user=bob' });
  for (let i = 0; i < 5; i++) assert.equal(await name('/ring-cookie', { cookie: 'user=bob' }), c);
  const q = await name('/ring-query?u=7');
  for (let i = 0; i < 5; i++) assert.equal(await name('/ring-query?u=7'), q);
  const spread = new Set<string>();
  for (let i = 0; i < 40; i++) spread.add(await name('/ring', { 'x-user': `user-${i}` }));
  assert.ok(spread.size >= 3, [...spread].join());
});

test('least request: concurrent slow requests stay balanced across hosts', async () => {
  const before = [echos[0].requests.length, echos[1].requests.length];
  await Promise.all(Array.from({ length: 20 }, () => viaProxy(h.outbound, 'http://s:9080/lr/delay/150')));
  const got = [echos[0].requests.length - before[0], echos[1].requests.length - before[1]];
  assert.equal(got[0] + got[1], 20);
  assert.ok(Math.abs(got[0] - got[1]) <= 6, JSON.stringify(got));
});

test('priority failover: unhealthy priority 0 -> priority 1 serves', async () => {
  for (let i = 0; i < 5; i++) assert.equal(await name('/prio'), 'e3');
});
