/** Load balancers as units: round robin, weights, least request, random, ring hash, priorities. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Host } from '../../../src/proxy/upstream/host.js';
import { createLoadBalancer, selectHosts, type LbPolicy } from '../../../src/proxy/upstream/load-balancer.js';
import { RingHashLb } from '../../../src/proxy/upstream/load-balancer-ring-hash.js';
import { murmur3 } from '../../../src/proxy/upstream/hash.js';

const opts = (policy: LbPolicy) => ({ policy, minimumRingSize: 1024, maximumRingSize: 8 * 1024 * 1024, choiceCount: 2 });
const hosts = (n: number) => Array.from({ length: n }, (_, i) => new Host('10.0.0.' + (i + 1), 80));

test('round robin visits every host in turn', () => {
  const hs = hosts(3);
  const lb = createLoadBalancer(opts('ROUND_ROBIN'), hs);
  const seen = Array.from({ length: 6 }, () => lb.pick(undefined)!.key);
  assert.equal(new Set(seen.slice(0, 3)).size, 3);
  assert.deepEqual(seen.slice(0, 3), seen.slice(3));
});

test('weighted round robin follows weights', () => {
  const hs = [new Host('a', 1, 3), new Host('b', 1, 1)];
  const lb = createLoadBalancer(opts('ROUND_ROBIN'), hs);
  const counts: Record<string, number> = { 'a:1': 0, 'b:1': 0 };
  for (let i = 0; i < 400; i++) counts[lb.pick(undefined)!.key]++;
  assert.deepEqual(counts, { 'a:1': 300, 'b:1': 100 });
});

test('least request prefers the host with fewer active requests', () => {
  const hs = hosts(2);
  hs[0].rqActive = 10;
  const lb = createLoadBalancer(opts('LEAST_REQUEST'), hs);
  let busy = 0;
  for (let i = 0; i < 200; i++) if (lb.pick(undefined) === hs[0]) busy++;
  // P(both choices land on the busy host) = 1/4
  assert.ok(busy < 80, `busy host picked ${busy} times`);
});

test('ring hash: same hash -> same host; minimum_ring_size respected; keys spread', () => {
  const hs = hosts(4);
  const lb = new RingHashLb(hs, 256);
  assert.ok(lb.ringSize >= 256);
  for (const k of ['u1', 'u2', 'u3']) {
    const first = lb.pick({ hash: murmur3(k) });
    for (let i = 0; i < 10; i++) assert.equal(lb.pick({ hash: murmur3(k) }), first);
  }
  const used = new Set(Array.from({ length: 200 }, (_, i) => lb.pick({ hash: murmur3(`user-${i}`) })!.key));
  assert.equal(used.size, 4);
  // removing one host only moves that host's keys (same replicas per host: 4x64 vs 3x64)
  const lb3 = new RingHashLb(hs.slice(0, 3), 192);
  for (let i = 0; i < 100; i++) {
    const hsh = murmur3(`k${i}`);
    const before = lb.pick({ hash: hsh })!;
    if (before !== hs[3]) assert.equal(lb3.pick({ hash: hsh }), before);
  }
});

test('murmur3 is stable (known vectors)', () => {
  assert.equal(murmur3(''), 0);
  assert.equal(murmur3('hello'), 0x248bfa47);
});

test('priorities: lowest priority with available hosts serves; unhealthy/ejected hosts are skipped', () => {
  const p0 = new Host('p0', 1, 1, 0);
  const p1 = new Host('p1', 1, 1, 1);
  assert.deepEqual(selectHosts([p0, p1]), [p0]);
  p0.healthy = false;
  assert.deepEqual(selectHosts([p0, p1]), [p1]);
  p0.healthy = true;
  p0.ejected = true;
  assert.deepEqual(selectHosts([p0, p1]), [p1]);
});
