/**
 * Outlier detection as a unit, with a fake clock: consecutive 5xx / gateway / local-origin
 * detectors, max_ejection_percent (current Envoy: counted after the ejection), ejection time
 * growing with each ejection and capped, un-ejection on the interval, success rate and failure
 * percentage, and un-ejection by a successful active health check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsStore } from '../../../src/stats/stats-store.js';
import { ClusterStats } from '../../../src/proxy/telemetry/stats-cluster.js';
import { Host } from '../../../src/proxy/upstream/host.js';
import { parseOutlierDetection, type OutlierConfig } from '../../../src/proxy/upstream/outlier-config.js';
import { OutlierDetector } from '../../../src/proxy/upstream/outlier-detector.js';

function setup(od: Record<string, unknown>, n = 3) {
  const store = new StatsStore();
  const stats = new ClusterStats(store, 'c');
  const clock = { t: 0 };
  const changes: Array<[string, boolean]> = [];
  const cfg = parseOutlierDetection('c', od) as OutlierConfig;
  const d = new OutlierDetector(cfg, stats.outlier(), { now: () => clock.t, random: () => 0, onChange: (h, e) => changes.push([h.key, e]) });
  const hosts = Array.from({ length: n }, (_, i) => new Host('10.0.0.' + (i + 1), 80));
  d.setHosts(hosts);
  const stat = (name: string) => (store.byFlatName(`cluster.c.outlier_detection.${name}`) as { value: number } | undefined)?.value ?? 0;
  return { d, hosts, clock, changes, stat, od: stats.outlier() };
}

test('defaults are Envoy\'s: 10 s interval, 30 s base ejection, 10 %, consecutive 5xx 5 enforced, gateway 5 not enforced', () => {
  const c = parseOutlierDetection('c', {})!;
  assert.equal(c.intervalMs, 10_000);
  assert.equal(c.baseEjectionMs, 30_000);
  assert.equal(c.maxEjectionMs, 300_000);
  assert.equal(c.maxEjectionPercent, 10);
  assert.equal(c.consecutive5xx, 5);
  assert.equal(c.enforcingConsecutive5xx, 100);
  assert.equal(c.consecutiveGatewayFailure, 5);
  assert.equal(c.enforcingConsecutiveGatewayFailure, 0);
  assert.equal(c.alwaysEjectOneHost, false);
  assert.equal(parseOutlierDetection('c', undefined), undefined);
  assert.throws(() => parseOutlierDetection('c', { max_ejection_percent: { value: 101 } }), /max_ejection_percent/);
});

test('consecutive 5xx: ejects exactly at the threshold; a success in between resets the count', () => {
  const { d, hosts, stat } = setup({ consecutive_5xx: { value: 3 }, max_ejection_percent: { value: 100 } });
  const [a] = hosts;
  d.onResult(a, 'response', 500);
  d.onResult(a, 'response', 502);
  d.onResult(a, 'response', 404); // not a 5xx: resets
  d.onResult(a, 'response', 500);
  d.onResult(a, 'response', 500);
  assert.equal(a.ejected, false);
  d.onResult(a, 'response', 503);
  assert.equal(a.ejected, true);
  assert.equal(a.available, false);
  assert.equal(a.healthFlags(), '/failed_outlier_check');
  assert.equal(stat('ejections_active'), 1);
  assert.equal(stat('ejections_enforced_total'), 1);
  assert.equal(stat('ejections_enforced_consecutive_5xx'), 1);
  assert.equal(stat('ejections_detected_consecutive_5xx'), 1);
  assert.equal(stat('ejections_consecutive_5xx'), 1);
  assert.equal(stat('ejections_total'), 1);
  // further errors while ejected do not eject again
  for (let i = 0; i < 5; i++) d.onResult(a, 'response', 500);
  assert.equal(stat('ejections_enforced_total'), 1);
});

test('local-origin failures count as 503/504 without split; with split only towards consecutive_local_origin_failure', () => {
  const plain = setup({ consecutive_5xx: { value: 2 }, max_ejection_percent: { value: 100 } });
  plain.d.onResult(plain.hosts[0], 'connect_failure');
  plain.d.onResult(plain.hosts[0], 'timeout');
  assert.equal(plain.hosts[0].ejected, true, 'connect failure + timeout are two 5xx');

  const split = setup({ consecutive_5xx: { value: 2 }, split_external_local_origin_errors: true, consecutive_local_origin_failure: { value: 3 }, max_ejection_percent: { value: 100 } });
  const [a, b] = split.hosts;
  split.d.onResult(a, 'connect_failure');
  split.d.onResult(a, 'reset');
  assert.equal(a.ejected, false, 'local-origin errors do not count as 5xx when split');
  split.d.onResult(a, 'response', 200); // a response means the connection worked: resets the local count
  split.d.onResult(a, 'connect_failure');
  split.d.onResult(a, 'connect_failure');
  assert.equal(a.ejected, false);
  split.d.onResult(a, 'timeout');
  assert.equal(a.ejected, true);
  assert.equal(split.stat('ejections_enforced_consecutive_local_origin_failure'), 1);
  split.d.onResult(b, 'response', 500);
  split.d.onResult(b, 'response', 500);
  assert.equal(b.ejected, true, 'real 5xx responses still count when split');
});

test('consecutive gateway failure: detected but not enforced by default; enforced when enforcing is 100', () => {
  const off = setup({ consecutive_5xx: { value: 100 }, consecutive_gateway_failure: { value: 2 }, max_ejection_percent: { value: 100 } });
  off.d.onResult(off.hosts[0], 'response', 502);
  off.d.onResult(off.hosts[0], 'response', 504);
  assert.equal(off.hosts[0].ejected, false);
  assert.equal(off.stat('ejections_detected_consecutive_gateway_failure'), 1);
  assert.equal(off.stat('ejections_enforced_consecutive_gateway_failure'), 0);

  const on = setup({ consecutive_5xx: { value: 100 }, consecutive_gateway_failure: { value: 2 }, enforcing_consecutive_gateway_failure: { value: 100 }, max_ejection_percent: { value: 100 } });
  on.d.onResult(on.hosts[0], 'response', 502);
  on.d.onResult(on.hosts[0], 'response', 500); // 5xx but not a gateway error: resets the gateway count
  on.d.onResult(on.hosts[0], 'response', 503);
  assert.equal(on.hosts[0].ejected, false);
  on.d.onResult(on.hosts[0], 'response', 503);
  assert.equal(on.hosts[0].ejected, true);
  assert.equal(on.stat('ejections_enforced_consecutive_gateway_failure'), 1);
});

test('max_ejection_percent is checked after the ejection (Envoy >= 1.27): 10 % of 3 hosts ejects none unless always_eject_one_host', () => {
  const dflt = setup({ consecutive_5xx: { value: 1 } });
  dflt.d.onResult(dflt.hosts[0], 'response', 500);
  assert.equal(dflt.hosts[0].ejected, false);
  assert.equal(dflt.stat('ejections_overflow'), 1);
  assert.equal(dflt.stat('ejections_detected_consecutive_5xx'), 1);

  const one = setup({ consecutive_5xx: { value: 1 }, always_eject_one_host: { value: true } });
  one.d.onResult(one.hosts[0], 'response', 500);
  one.d.onResult(one.hosts[1], 'response', 500);
  assert.deepEqual(one.hosts.map((h) => h.ejected), [true, false, false]);
  assert.equal(one.stat('ejections_overflow'), 1);

  const half = setup({ consecutive_5xx: { value: 1 }, max_ejection_percent: { value: 50 } });
  for (const h of half.hosts) half.d.onResult(h, 'response', 500);
  assert.deepEqual(half.hosts.map((h) => h.ejected), [true, false, false], '2 of 3 would be 67 % > 50 %');
});

test('ejection time is base × times ejected, capped by max_ejection_time; the interval un-ejects and resets counters', () => {
  const { d, hosts, clock, stat, changes } = setup({
    consecutive_5xx: { value: 1 }, max_ejection_percent: { value: 100 }, interval: { seconds: 1 }, base_ejection_time: { seconds: 10 }, max_ejection_time: { seconds: 25 },
  });
  const a = hosts[0];
  const eject = () => d.onResult(a, 'response', 500);
  const runUntilUneject = (): number => {
    const from = clock.t;
    while (a.ejected) {
      clock.t += 1000;
      d.onInterval();
    }
    return clock.t - from;
  };
  eject();
  assert.equal(d.ejectionDurationMs(a), 10_000);
  assert.equal(runUntilUneject(), 10_000);
  assert.equal(stat('ejections_active'), 0);
  eject();
  assert.equal(d.ejectionDurationMs(a), 20_000, 'second ejection in a row: 2 × base');
  assert.equal(runUntilUneject(), 20_000);
  eject();
  assert.equal(d.ejectionDurationMs(a), 25_000, 'capped by max_ejection_time');
  assert.equal(runUntilUneject(), 25_000);
  // healthy intervals shrink the multiplier one step each
  for (let i = 0; i < 2; i++) {
    clock.t += 1000;
    d.onInterval();
  }
  eject();
  assert.equal(d.ejectionDurationMs(a), 20_000);
  assert.deepEqual(changes.slice(0, 2), [[a.key, true], [a.key, false]]);
  assert.equal(d.monitor(a)!.numEjections, 4);
});

test('default 30 s base ejection and 10 s interval: un-ejected at the first interval after 30 s', () => {
  const { d, hosts, clock } = setup({ consecutive_5xx: { value: 1 }, max_ejection_percent: { value: 100 } });
  clock.t = 5_000;
  d.onResult(hosts[0], 'response', 500);
  for (const t of [10_000, 20_000, 30_000]) {
    clock.t = t;
    d.onInterval();
    assert.equal(hosts[0].ejected, true, `still ejected at ${t}`);
  }
  clock.t = 40_000;
  d.onInterval();
  assert.equal(hosts[0].ejected, false);
});

test('success rate (when enforced) and failure percentage eject at the interval', () => {
  const sr = setup({ consecutive_5xx: { value: 1000 }, max_ejection_percent: { value: 100 }, success_rate_minimum_hosts: { value: 5 }, success_rate_request_volume: { value: 10 } }, 5);
  for (const h of sr.hosts) for (let i = 0; i < 10; i++) sr.d.onResult(h, 'response', h === sr.hosts[4] && i < 6 ? 500 : 200);
  sr.d.onInterval();
  assert.deepEqual(sr.hosts.map((h) => h.ejected), [false, false, false, false, true]);
  assert.equal(sr.stat('ejections_enforced_success_rate'), 1);
  assert.equal(sr.d.successRateAverage, 88);

  const fp = setup({ consecutive_5xx: { value: 1000 }, max_ejection_percent: { value: 100 }, enforcing_success_rate: { value: 0 }, enforcing_failure_percentage: { value: 100 }, failure_percentage_minimum_hosts: { value: 3 }, failure_percentage_request_volume: { value: 10 } });
  for (const h of fp.hosts) for (let i = 0; i < 10; i++) fp.d.onResult(h, 'response', h === fp.hosts[1] && i < 9 ? 503 : 200);
  fp.d.onInterval();
  assert.deepEqual(fp.hosts.map((h) => h.ejected), [false, true, false]);
  assert.equal(fp.stat('ejections_enforced_failure_percentage'), 1);
  assert.equal(fp.d.monitor(fp.hosts[0])!.successRate, 100);
});

test('a successful active health check un-ejects; removed hosts drop their ejection', () => {
  const { d, hosts, stat } = setup({ consecutive_5xx: { value: 1 }, max_ejection_percent: { value: 100 } });
  d.onResult(hosts[0], 'response', 500);
  d.onResult(hosts[1], 'response', 500);
  assert.equal(stat('ejections_active'), 2);
  d.onSuccessfulHealthCheck(hosts[0]);
  assert.equal(hosts[0].ejected, false);
  assert.equal(stat('ejections_active'), 1);
  d.setHosts([hosts[0], hosts[2]]);
  assert.equal(stat('ejections_active'), 0);
});

test('TcpProxy results: a connect failure counts as a 503, a final connect success as a 200', () => {
  const { d, hosts } = setup({ consecutive_5xx: { value: 2 }, max_ejection_percent: { value: 100 } });
  const [a] = hosts;
  d.onResult(a, 'connect_failure');
  d.onResult(a, 'connect_success_final');
  d.onResult(a, 'connect_failure');
  assert.equal(a.ejected, false);
  d.onResult(a, 'connect_failure');
  assert.equal(a.ejected, true);
});
