/** Load balancers as units: round robin, weights, least request, random, ring hash, priorities. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Host } from '../../../src/proxy/upstream/host.js';
import { createLoadBalancer, type LbPolicy } from '../../../src/proxy/upstream/load-balancer.js';
import { buildPrioritySet } from '../../../src/proxy/upstream/load-balancer-priority.js';
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
  const pick = () => buildPrioritySet([p0, p1], opts('ROUND_ROBIN'), 0).pick(undefined);
  assert.equal(pick(), p0);
  p0.healthy = false;
  assert.equal(pick(), p1);
  p0.healthy = true;
  p0.ejected = true;
  assert.equal(pick(), p1);
});

test('priority spillover: P0 at 1.4 × healthy share, the rest goes to P1 (Envoy priority load)', () => {
  const p0 = [new Host('a', 1, 1, 0), new Host('b', 1, 1, 0), new Host('c', 1, 1, 0), new Host('d', 1, 1, 0)];
  const p1 = [new Host('x', 1, 1, 1), new Host('y', 1, 1, 1)];
  p0[0].ejected = true;
  p0[1].ejected = true;
  const ps = buildPrioritySet([...p0, ...p1], opts('ROUND_ROBIN'), 0);
  assert.deepEqual(ps.levels.map((l) => [l.health, l.load]), [[70, 70], [100, 30]]);
  let toP1 = 0;
  for (let i = 0; i < 2000; i++) if (ps.pick(undefined)!.priority === 1) toP1++;
  assert.ok(toP1 > 480 && toP1 < 720, `P1 got ${toP1} of 2000 (expected ~600)`);
});

test('panic threshold: below it the priority uses all its hosts (lb_healthy_panic); 0 disables panic', () => {
  const hs = hosts(4);
  hs[0].ejected = true;
  hs[1].healthy = false;
  hs[2].failedActiveHc = true;
  let panics = 0;
  const counter = { inc: () => panics++ };
  // 1 of 4 healthy = 25 % < 50 %: panic, every host is picked
  const panic = buildPrioritySet(hs, opts('ROUND_ROBIN'), 50, counter);
  assert.equal(panic.levels[0].panic, true);
  const seen = new Set(Array.from({ length: 8 }, () => panic.pick(undefined)!.key));
  assert.equal(seen.size, 4);
  assert.equal(panics, 8);
  // 25 % >= 20 %: no panic, only the healthy host
  const calm = buildPrioritySet(hs, opts('ROUND_ROBIN'), 20, counter);
  assert.equal(calm.levels[0].panic, false);
  for (let i = 0; i < 5; i++) assert.equal(calm.pick(undefined), hs[3]);
  // nothing healthy: threshold 0 picks nothing (UH), threshold > 0 is total panic over all hosts
  hs[3].ejected = true;
  assert.equal(buildPrioritySet(hs, opts('ROUND_ROBIN'), 0).pick(undefined), undefined);
  const total = buildPrioritySet(hs, opts('ROUND_ROBIN'), 1);
  assert.ok(total.pick(undefined));
  assert.deepEqual(total.levels.map((l) => l.load), [100]);
});

test('EDS health: HEALTHY, UNKNOWN and DEGRADED are used; UNHEALTHY, DRAINING, TIMEOUT are not; flags as Envoy prints them', () => {
  const statuses = ['HEALTHY', 'UNKNOWN', 'DEGRADED', 'UNHEALTHY', 'DRAINING', 'TIMEOUT'] as const;
  const hs = statuses.map((s, i) => {
    const h = new Host('10.0.1.' + i, 80);
    h.edsHealth = s;
    return h;
  });
  const ps = buildPrioritySet(hs, opts('ROUND_ROBIN'), 0);
  const used = new Set(Array.from({ length: 12 }, () => ps.pick(undefined)!.edsHealth));
  assert.deepEqual([...used].sort(), ['DEGRADED', 'HEALTHY', 'UNKNOWN']);
  assert.deepEqual(hs.map((h) => h.healthFlags()), ['healthy', 'healthy', '/degraded_eds_health', '/failed_eds_health', '/eds_status_draining', '/failed_eds_health']);
  const h = new Host('h', 1);
  h.failedActiveHc = true;
  h.pendingActiveHc = true;
  h.ejected = true;
  assert.equal(h.healthFlags(), '/failed_active_hc/failed_outlier_check/pending_active_hc');
});
