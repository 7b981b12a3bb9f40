/**
 * The control plane's metrics window: Prometheus text from a real proxy's stats store, rates over
 * windows, counter resets, a target's first scrape as baseline, the bounds, and the graph built
 * from it (Kiali's reporter choice, quantiles, health).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText, PromTextError } from '../../src/mesh-metrics/prom-text.js';
import { MetricsWindowStore, SCRAPED_FAMILIES } from '../../src/mesh-metrics/metrics-window.js';
import { buildGraph, bucketQuantile } from '../../src/mesh-metrics/graph-build.js';
import { StatsStore } from '../../src/stats/stats-store.js';
import { prometheusText } from '../../src/stats/stats-prometheus.js';

function labels(src: string, dst: string, code: number, reporter = 'source', extra: Record<string, string> = {}): Record<string, string> {
  return {
    reporter, source_workload: src, source_workload_namespace: 'default', source_canonical_service: src.replace(/-v\d$/, ''), source_canonical_revision: 'v1',
    destination_workload: dst, destination_workload_namespace: 'default', destination_canonical_service: dst.replace(/-v\d$/, ''), destination_canonical_revision: 'v1',
    destination_service: `${dst.replace(/-v\d$/, '')}.default.svc.cluster.local`, destination_service_name: dst.replace(/-v\d$/, ''), destination_service_namespace: 'default',
    request_protocol: 'http', response_code: String(code), grpc_response_status: '', response_flags: '-', connection_security_policy: 'mutual_tls', ...extra,
  };
}

/** A real stats store rendered as the proxy renders it. */
function proxyText(fill: (s: StatsStore) => void): string {
  const s = new StatsStore();
  fill(s);
  return prometheusText(s);
}

test('parsePromText reads wanted families with escapes and skips the rest', () => {
  const text = [
    '# TYPE istio_requests_total counter',
    'istio_requests_total{a="x\\"y",b="1\\\\2\\n"} 42',
    'envoy_cluster_upstream_rq{x="y"} 7',
    'istio_request_duration_milliseconds_bucket{le="+Inf"} 3',
    'istio_tcp_connections_opened_total 5 1700000000000',
    '',
  ].join('\n');
  const s = parsePromText(text, SCRAPED_FAMILIES);
  assert.deepEqual(s.map((x) => [x.name, x.value]), [['istio_requests_total', 42], ['istio_request_duration_milliseconds_bucket', 3], ['istio_tcp_connections_opened_total', 5]]);
  assert.deepEqual(s[0].labels, { a: 'x"y', b: '1\\2\n' });
  assert.throws(() => parsePromText('istio_requests_total{a="x} 1', SCRAPED_FAMILIES), (e: unknown) => e instanceof PromTextError && /line 1: label a: unterminated value/.test(e.message));
  assert.throws(() => parsePromText('istio_requests_total{a="x"} abc', SCRAPED_FAMILIES), /no numeric value/);
});

test('rates over the window from a real stats store: baseline, increase, reset, quantiles', () => {
  let now = 1_000_000;
  const store = new MetricsWindowStore({ now: () => now });
  const stats = new StatsStore();
  const ok = stats.counter('istio_requests_total', labels('productpage-v1', 'reviews-v1', 200));
  const bad = stats.counter('istio_requests_total', labels('productpage-v1', 'reviews-v1', 503));
  const dur = stats.histogram('istio_request_duration_milliseconds', labels('productpage-v1', 'reviews-v1', 200), [1, 5, 10, 50, 100]);
  ok.inc(1000); // history from before the first scrape
  const scrape = (): void => {
    store.addScrape('pp', parsePromText(prometheusText(stats), SCRAPED_FAMILIES));
    store.commit(now);
  };
  scrape();
  assert.equal(store.query(60_000).rows.length, 0, 'the first scrape of a proxy is its baseline, not traffic');
  now += 60_000;
  ok.inc(540);
  bad.inc(60);
  for (let i = 0; i < 100; i++) dur.record(i < 50 ? 3 : 40);
  scrape();
  const q = store.query(60_000);
  const byCode = new Map(q.rows.map((r) => [r.labels.response_code, r]));
  assert.equal(q.coveredSeconds, 60);
  assert.equal(byCode.get('200')!.rate, 9, '540 requests in 60 s');
  assert.equal(byCode.get('503')!.rate, 1, 'a series new on a known proxy counts from zero');
  const g = buildGraph(q, { workloads: [], services: [] }, '1m', 'control-plane');
  const e = g.edges.find((x) => x.source === 'wl:default/productpage-v1' && x.target === 'svc:reviews.default.svc.cluster.local')!;
  assert.equal(e.rate, 10);
  assert.equal(e.errorRate, 0.1);
  assert.equal(e.health, 'degraded');
  assert.equal(e.mtls, 1);
  assert.equal(e.p50, 5, 'half the observations are <= 5 ms');
  assert.ok(e.p99! > 10 && e.p99! <= 50, `p99 ${e.p99}`);
  assert.ok(g.edges.some((x) => x.source === 'svc:reviews.default.svc.cluster.local' && x.target === 'wl:default/reviews-v1'));
  assert.equal(g.nodes.find((n) => n.id === 'wl:default/reviews-v1')!.parent, 'app:default/reviews');

  // a restarted proxy: its counters start again; the new value is the increase
  now += 30_000;
  const restarted = proxyText((s) => s.counter('istio_requests_total', labels('productpage-v1', 'reviews-v1', 200)).inc(30));
  store.addScrape('pp', parsePromText(restarted, SCRAPED_FAMILIES));
  store.commit(now);
  const after = store.query(30_000).rows.find((r) => r.labels.response_code === '200')!;
  assert.equal(after.rate, 1, '30 requests after the restart, in 30 s');
  // an older window still holds the earlier traffic
  assert.equal(store.query(300_000).rows.find((r) => r.labels.response_code === '200')!.rate, (540 + 30) / 90);
});

test('the graph uses source reports, and destination reports only for callers outside the mesh', () => {
  let now = 0;
  const store = new MetricsWindowStore({ now: () => now });
  const fill = (n: number) => proxyText((s) => {
    s.counter('istio_requests_total', labels('reviews-v2', 'ratings-v1', 200, 'source')).inc(n);
    s.counter('istio_requests_total', labels('reviews-v2', 'ratings-v1', 200, 'destination')).inc(n);
    // an injected abort: reported by the caller only, no destination workload, the service as the Host named it
    s.counter('istio_requests_total', labels('reviews-v2', 'unknown', 500, 'source', { destination_service: 'ratings', destination_service_name: 'ratings', destination_service_namespace: 'unknown', response_flags: 'FI' })).inc(n);
    s.counter('istio_requests_total', labels('unknown', 'productpage-v1', 200, 'destination')).inc(n);
  });
  store.addScrape('p', parsePromText(fill(0), SCRAPED_FAMILIES));
  store.commit(now);
  now += 10_000;
  store.addScrape('p', parsePromText(fill(100), SCRAPED_FAMILIES));
  store.commit(now);
  const ratings = { hostname: 'ratings.default.svc.cluster.local', name: 'ratings', namespace: 'default' };
  const g = buildGraph(store.query(60_000), { workloads: [], services: [ratings] }, '1m', 'control-plane');
  const toRatings = g.edges.find((e) => e.id === 'wl:default/reviews-v2>svc:ratings.default.svc.cluster.local')!;
  assert.equal(toRatings.rate, 20, 'source-reported only: 100 ok + 100 aborted in 10 s, the destination report not added');
  assert.equal(toRatings.errorRate, 0.5);
  assert.equal(toRatings.health, 'failure');
  assert.deepEqual(toRatings.flags, { FI: 10 });
  assert.ok(g.edges.some((e) => e.id === 'unknown>svc:productpage.default.svc.cluster.local'), 'a caller outside the mesh, from the destination report');
});

test('bounds: rows and raw series past the limits are dropped and counted', () => {
  const store = new MetricsWindowStore({ maxRows: 3, maxRawSeries: 100 });
  const text = proxyText((s) => {
    for (let i = 0; i < 10; i++) s.counter('istio_requests_total', labels(`a${i}-v1`, 'b-v1', 200)).inc(1);
  });
  store.addScrape('x', parsePromText(text, SCRAPED_FAMILIES));
  assert.equal(store.rowCount, 3);
  assert.equal(store.droppedSeries, 7);
  const small = new MetricsWindowStore({ maxRawSeries: 4 });
  small.addScrape('x', parsePromText(text, SCRAPED_FAMILIES));
  assert.equal(small.droppedSeries, 6);
});

test('bucketQuantile interpolates like histogram_quantile', () => {
  assert.equal(bucketQuantile(0.5, [[10, 50], [20, 100], [Infinity, 100]]), 10);
  assert.equal(bucketQuantile(0.75, [[10, 50], [20, 100], [Infinity, 100]]), 15);
  assert.equal(bucketQuantile(0.99, [[10, 0], [Infinity, 10]]), 10, 'in the +Inf bucket: the highest finite bound');
  assert.equal(bucketQuantile(0.5, []), undefined);
});

test('200 services: one graph refresh costs under 50 ms of CPU', () => {
  let now = 0;
  const store = new MetricsWindowStore({ now: () => now });
  const services = Array.from({ length: 200 }, (_, i) => `svc${i}`);
  const texts = (n: number): Map<string, string> => new Map(services.map((svc, i) => [svc, proxyText((s) => {
    const next = services[(i + 1) % services.length];
    for (const code of [200, 503]) {
      s.counter('istio_requests_total', labels(`${svc}-v1`, `${next}-v1`, code)).inc(code === 200 ? n : n / 10);
      const h = s.histogram('istio_request_duration_milliseconds', labels(`${svc}-v1`, `${next}-v1`, code));
      for (let k = 0; k < n / 10; k++) h.record(k % 200);
    }
  })]));
  for (const [round, n] of [[0, 10], [1, 100], [2, 200]] as const) {
    for (const [svc, text] of texts(n)) store.addScrape(svc, parsePromText(text, SCRAPED_FAMILIES));
    now = round * 5000;
    store.commit(now);
  }
  const topology = {
    services: services.map((s) => ({ hostname: `${s}.default.svc.cluster.local`, name: s, namespace: 'default' })),
    workloads: services.map((s) => ({ name: `${s}-v1`, namespace: 'default', labels: { app: s, version: 'v1' }, sidecar: true })),
  };
  const run = (): number => {
    const t0 = process.cpuUsage();
    const body = JSON.stringify(buildGraph(store.query(60_000), topology, '1m', 'control-plane'));
    const t = process.cpuUsage(t0);
    assert.ok(body.length > 0);
    return (t.user + t.system) / 1000;
  };
  run(); // warm up
  const costs = Array.from({ length: 5 }, run).sort((a, b) => a - b);
  const g = buildGraph(store.query(60_000), topology, '1m', 'control-plane');
  assert.equal(g.edges.length, 400, '200 caller → service edges, 200 service → workload edges');
  assert.ok(g.edges.every((e) => e.rate > 0 && Math.abs(e.errorRate - 1 / 11) < 1e-9));
  console.log(`# graph refresh CPU over 200 services: median ${costs[2].toFixed(1)} ms (min ${costs[0].toFixed(1)}, max ${costs[4].toFixed(1)})`);
  assert.ok(costs[2] < 50, `median ${costs[2]} ms`);
});
