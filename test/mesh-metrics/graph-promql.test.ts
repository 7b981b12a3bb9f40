/**
 * `clew dashboard --prometheus`: the graph from a real Prometheus server (Debian's `prometheus`)
 * scraping a proxy's stats text, with the PromQL of graph-promql.ts; the same traffic scraped by
 * the control plane's window store gives the same edges.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { StatsStore } from '../../src/stats/stats-store.js';
import { prometheusText } from '../../src/stats/stats-prometheus.js';
import { queryPrometheusTraffic } from '../../src/mesh-metrics/graph-promql.js';
import { buildGraph } from '../../src/mesh-metrics/graph-build.js';
import { MetricsWindowStore, SCRAPED_FAMILIES } from '../../src/mesh-metrics/metrics-window.js';
import { parsePromText } from '../../src/mesh-metrics/prom-text.js';
import { startPrometheus } from '../e2e/telemetry-stack.js';

function labels(code: number): Record<string, string> {
  return {
    reporter: 'source', source_workload: 'productpage-v1', source_workload_namespace: 'default', source_canonical_service: 'productpage', source_canonical_revision: 'v1',
    destination_workload: 'reviews-v2', destination_workload_namespace: 'default', destination_canonical_service: 'reviews', destination_canonical_revision: 'v2',
    destination_service: 'reviews.default.svc.cluster.local', destination_service_name: 'reviews', destination_service_namespace: 'default',
    request_protocol: 'http', response_code: String(code), grpc_response_status: '', response_flags: '-', connection_security_policy: 'mutual_tls',
  };
}

const servers: http.Server[] = [];
const timers: NodeJS.Timeout[] = [];
after(() => {
  for (const t of timers) clearInterval(t);
  for (const s of servers) s.close();
});

test('the graph from Prometheus: rates, errors and latency of a scraped proxy, as the window store sees them', { timeout: 90_000 }, async () => {
  const stats = new StatsStore();
  const ok = stats.counter('istio_requests_total', labels(200));
  const bad = stats.counter('istio_requests_total', labels(503));
  const dur = stats.histogram('istio_request_duration_milliseconds', labels(200));
  timers.push(setInterval(() => {
    ok.inc(9);
    bad.inc(1);
    for (let i = 0; i < 9; i++) dur.record(i < 5 ? 4 : 30);
  }, 200));
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(prometheusText(stats));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const prom = await startPrometheus([`127.0.0.1:${port}`]);
  const base = prom.api.replace(/\/api\/v1$/, '');

  const topology = { services: [{ hostname: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' }], workloads: [] };
  let graph;
  const end = Date.now() + 60_000;
  for (;;) {
    graph = buildGraph(await queryPrometheusTraffic(base, '1m'), topology, '1m', 'prometheus');
    const e = graph.edges.find((x) => x.id === 'wl:default/productpage-v1>svc:reviews.default.svc.cluster.local');
    // rate() needs two samples of each series
    if (e && e.rate > 0 && e.p50 !== undefined) break;
    assert.ok(Date.now() < end, `no edge from Prometheus yet: ${JSON.stringify(graph.edges)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const edge = graph.edges.find((x) => x.id === 'wl:default/productpage-v1>svc:reviews.default.svc.cluster.local')!;
  // rate() over 1m of a series a few seconds old is Prometheus' extrapolation, not 50/s: compare
  // with Prometheus' own total for the edge, asked right after
  const [total] = await prom.query('sum(rate(istio_requests_total{reporter="source",source_workload="productpage-v1",destination_service="reviews.default.svc.cluster.local"}[1m]))');
  const theirs = Number(total.value[1]);
  assert.ok(edge.rate > 0 && Math.abs(edge.rate - theirs) / theirs < 0.25, `edge ${edge.rate}/s, Prometheus ${theirs}/s`);
  assert.ok(Math.abs(edge.errorRate - 0.1) < 0.03, `10% errors: ${edge.errorRate}`);
  assert.ok(edge.p50! > 0 && edge.p50! <= 25, `p50 ${edge.p50}`);
  assert.equal(edge.mtls, 1);
  assert.equal(edge.health, 'degraded');
  assert.ok(graph.edges.some((x) => x.id === 'svc:reviews.default.svc.cluster.local>wl:default/reviews-v2'));
  assert.equal(graph.source, 'prometheus');

  // the control plane's own window over the same target: the same edges
  const store = new MetricsWindowStore();
  for (let i = 0; i < 3; i++) {
    const text = await (await fetch(`http://127.0.0.1:${port}/stats/prometheus`)).text();
    store.addScrape('p', parsePromText(text, SCRAPED_FAMILIES));
    store.commit();
    await new Promise((r) => setTimeout(r, 1000));
  }
  const own = buildGraph(store.query(60_000), topology, '1m', 'control-plane');
  assert.deepEqual(own.edges.map((e) => e.id).sort(), graph.edges.map((e) => e.id).sort());
});
