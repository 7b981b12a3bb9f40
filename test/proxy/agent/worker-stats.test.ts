/**
 * Worker 0's view of a multi-worker proxy's stats: traffic series summed over the workers,
 * per-process gauges shown once, series only another worker has included, stale pushes ignored.
 * And the follower side of the config feed: a forwarded update is applied as worker 0 applied it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsStore } from '../../../src/stats/stats-store.js';
import { prometheusText } from '../../../src/stats/stats-prometheus.js';
import { envoyStatsText } from '../../../src/proxy/telemetry/stats-envoy-text.js';
import { snapshotStats, WorkerStatsStore } from '../../../src/proxy/agent/worker-stats.js';
import { FollowerConfigSource, forwardingApplier } from '../../../src/proxy/agent/worker-config-feed.js';
import type { ChildMessage, ConfigUpdate } from '../../../src/proxy/agent/agent-messages.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';

const C = 'cluster.outbound|9080||inventory.default.svc.cluster.local.';

function worker(rq: number, cx: number, members: number, latencies: number[]): StatsStore {
  const s = new StatsStore();
  const sc = s.scope(C);
  sc.counter('upstream_rq_total').inc(rq);
  sc.gauge('upstream_cx_active').set(cx);
  sc.gauge('membership_total').set(members);
  s.scope('').gauge('server.live').set(1);
  for (const v of latencies) s.histogram('istio_request_duration_milliseconds', { response_code: '200' }).record(v);
  return s;
}

test('worker 0 shows counters, traffic gauges and histograms summed, per-process gauges once', () => {
  const w0 = new WorkerStatsStore();
  const sc = w0.scope(C);
  sc.counter('upstream_rq_total').inc(5);
  sc.gauge('upstream_cx_active').set(2);
  sc.gauge('membership_total').set(3);
  w0.scope('').gauge('server.live').set(1);
  w0.histogram('istio_request_duration_milliseconds', { response_code: '200' }).record(3);

  const w1 = worker(7, 4, 3, [3, 40]);
  w1.counter('only_on_worker_1_total').inc(2);
  w1.counter('never_incremented_total');
  const snap1 = snapshotStats(w1);
  assert.ok(!snap1.some((r) => r.p === 'never_incremented_total'), 'zero-valued series are not pushed');
  w0.setRemote(1, snap1);
  w0.setRemote(2, snapshotStats(worker(1, 1, 3, [])));

  const flat = envoyStatsText(w0);
  assert.match(flat, new RegExp(`${C.replace(/[|.]/g, '\\$&')}upstream_rq_total: 13\n`));
  assert.match(flat, /upstream_cx_active: 7\n/);
  assert.match(flat, /membership_total: 3\n/, 'the same membership in every worker is not tripled');
  assert.match(flat, /server\.live: 1\n/);
  const prom = prometheusText(w0);
  assert.match(prom, /istio_request_duration_milliseconds_count\{response_code="200"\} 3\n/);
  assert.match(prom, /istio_request_duration_milliseconds_sum\{response_code="200"\} 46\n/);
  assert.match(prom, /only_on_worker_1_total 2\n/);
  assert.deepEqual(w0.remoteWorkers(), [1, 2]);
  // worker 0's own handles are untouched by the merge
  assert.equal(sc.counter('upstream_rq_total').value, 5);

  // a worker that stopped pushing drops out after 10 s
  w0.setRemote(2, snapshotStats(worker(100, 0, 3, [])), Date.now() - 11_000);
  assert.deepEqual(w0.remoteWorkers(), [1]);
  assert.match(envoyStatsText(w0), /upstream_rq_total: 12\n/);
});

test('config feed: worker 0 forwards what it accepted (as received), not what it rejected; a follower applies it', () => {
  const sent: ChildMessage[] = [];
  const applied: Array<[string, string, Map<string, EnvoyResource>]> = [];
  let reject = false;
  const leader = forwardingApplier({
    apply(t, r, v) {
      if (reject) throw new Error('bad cluster');
      for (const x of r.values()) x.annotated = true; // an applier that touches its input
      applied.push([t, v, r]);
    },
  }, (m) => sent.push(m));
  const res = new Map<string, EnvoyResource>([['a', { name: 'a', connect_timeout: '1s' }]]);
  leader.apply('type.googleapis.com/envoy.config.cluster.v3.Cluster', res, '3');
  reject = true;
  assert.throws(() => leader.apply('type.googleapis.com/envoy.config.cluster.v3.Cluster', res, '4'), /bad cluster/);
  assert.equal(sent.length, 1, 'only the accepted update is forwarded');
  const u = sent[0] as ConfigUpdate;
  assert.equal(u.version, '3');
  assert.deepEqual(JSON.parse(u.resources), [['a', { name: 'a', connect_timeout: '1s' }]]);

  const got: Array<[string, string, EnvoyResource[]]> = [];
  const failures: ChildMessage[] = [];
  const follower = new FollowerConfigSource({
    apply(t, r, v) {
      if (v === 'bad') throw new Error('nope');
      got.push([t, v, [...r.values()]]);
    },
  }, (m) => failures.push(m), () => undefined);
  follower.apply(u);
  assert.deepEqual(got, [[u.typeUrl, '3', [{ name: 'a', connect_timeout: '1s' }]]]);
  assert.equal(follower.connected, true);
  follower.apply({ ...u, version: 'bad' });
  assert.deepEqual(failures, [{ clew: 'apply-failed', typeUrl: u.typeUrl, version: 'bad', error: 'nope' }]);
});
