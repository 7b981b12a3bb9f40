import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { StatsStore, ENVOY_DEFAULT_BUCKETS, StatsError } from '../../../src/stats/stats-store.js';
import { prometheusText, escapeLabelValue } from '../../../src/stats/stats-prometheus.js';
import { envoyStatsText, envoyStatsJson } from '../../../src/proxy/telemetry/stats-envoy-text.js';
import { extractTags, ISTIO_TAG_EXTRACTORS, ENVOY_TAG_EXTRACTORS } from '../../../src/stats/stats-tag-extract.js';
import { IstioMetrics } from '../../../src/proxy/telemetry/istio-metrics.js';
import { REVIEWS, httpInfo, parseProm } from './telemetry-fixtures.js';

const CLUSTER = 'outbound|9080||reviews.default.svc.cluster.local';

test('a series resolves once: same name and labels give the same handle', () => {
  const s = new StatsStore();
  const a = s.counter('requests_total', { code: '200' });
  const b = s.counter('requests_total', { code: '200' });
  const c = s.counter('requests_total', { code: '503' });
  assert.equal(a, b);
  assert.notEqual(a, c);
  a.inc();
  b.inc(4);
  assert.equal(a.value, 5);
  const sc = s.scope(`cluster.${CLUSTER}.`);
  assert.equal(sc.counter('upstream_rq_total'), s.scope('cluster.').scope(`${CLUSTER}.`).counter('upstream_rq_total'));
});

test('a name cannot change type', () => {
  const s = new StatsStore();
  s.counter('x_total');
  assert.throws(() => s.gauge('x_total'), (e: unknown) => e instanceof StatsError && e.code === 'STATS_TYPE_CONFLICT');
});

test('histogram buckets use le semantics and cumulative counts', () => {
  const s = new StatsStore();
  const h = s.histogram('lat', undefined, [1, 5, 10]);
  for (const v of [0.2, 1, 1.0001, 5, 7, 10, 11, 1e9]) h.record(v);
  assert.deepEqual(h.cumulative(), [2, 4, 6, 8]);
  assert.equal(h.count, 8);
  assert.ok(Math.abs(h.sum - (0.2 + 1 + 1.0001 + 5 + 7 + 10 + 11 + 1e9)) < 1e-3);
});

test('tag extraction follows Istio for cluster stats, response codes and classes', () => {
  assert.deepEqual(extractTags(`cluster.${CLUSTER}.upstream_rq_total`, ISTIO_TAG_EXTRACTORS), {
    name: 'cluster.upstream_rq_total',
    tags: [['cluster_name', CLUSTER]],
  });
  assert.deepEqual(extractTags(`cluster.${CLUSTER}.upstream_rq_200`, ISTIO_TAG_EXTRACTORS), {
    name: 'cluster.upstream_rq',
    tags: [
      ['cluster_name', CLUSTER],
      ['response_code', '200'],
    ],
  });
  assert.deepEqual(extractTags(`cluster.${CLUSTER}.upstream_rq_5xx`, ISTIO_TAG_EXTRACTORS).tags, [
    ['cluster_name', CLUSTER],
    ['response_code_class', '5xx'],
  ]);
  assert.deepEqual(extractTags(`cluster.${CLUSTER}.circuit_breakers.default.rq_pending_open`, ISTIO_TAG_EXTRACTORS), {
    name: 'cluster.circuit_breakers.default.rq_pending_open',
    tags: [['cluster_name', CLUSTER]],
  });
  assert.deepEqual(extractTags('cluster.xds-grpc.upstream_cx_total', ISTIO_TAG_EXTRACTORS).tags, [['cluster_name', 'xds-grpc']]);
  assert.deepEqual(extractTags('tcp.inbound_9080.downstream_cx_total', ISTIO_TAG_EXTRACTORS), {
    name: 'tcp.downstream_cx_total',
    tags: [['tcp_prefix', 'inbound_9080']],
  });
  assert.deepEqual(extractTags('listener.0.0.0.0_15001.downstream_cx_total', ISTIO_TAG_EXTRACTORS).tags, [
    ['listener_address', '0.0.0.0_15001'],
  ]);
  assert.deepEqual(extractTags('server.live', ISTIO_TAG_EXTRACTORS), { name: 'server.live', tags: [] });
  // plain Envoy's tag names
  assert.deepEqual(extractTags('cluster.xds-grpc.upstream_rq_2xx', ENVOY_TAG_EXTRACTORS), {
    name: 'cluster.upstream_rq_xx',
    tags: [
      ['envoy_cluster_name', 'xds-grpc'],
      ['envoy_response_code_class', '2'],
    ],
  });
});

test('Envoy /stats text and prometheus forms of the same counters', () => {
  const s = new StatsStore();
  const sc = s.scope(`cluster.${CLUSTER}.`);
  sc.counter('upstream_rq_total').inc(12);
  sc.counter('upstream_rq_200').inc(11);
  sc.counter('upstream_rq_503').inc(1);
  sc.gauge('upstream_rq_pending_active').set(2);
  sc.counter('upstream_rq_pending_overflow').inc(3);
  sc.scope('circuit_breakers.default.').gauge('rq_pending_open').set(1);
  const text = envoyStatsText(s);
  assert.match(text, new RegExp(`^cluster\\.outbound\\|9080\\|\\|reviews\\.default\\.svc\\.cluster\\.local\\.upstream_rq_total: 12$`, 'm'));
  assert.match(text, /\.upstream_rq_pending_overflow: 3$/m);
  assert.match(text, /\.circuit_breakers\.default\.rq_pending_open: 1$/m);
  const lines = text.trim().split('\n');
  assert.deepEqual([...lines].sort(), lines, '/stats output is sorted');
  assert.equal(envoyStatsText(s, { filter: /upstream_rq_total/ }).trim().split('\n').length, 1);

  const prom = parseProm(prometheusText(s));
  const find = (name: string, labels: Record<string, string>) =>
    prom.samples.find((x) => x.name === name && JSON.stringify(x.labels) === JSON.stringify(labels));
  assert.equal(find('envoy_cluster_upstream_rq_total', { cluster_name: CLUSTER })?.value, 12);
  assert.equal(find('envoy_cluster_upstream_rq', { cluster_name: CLUSTER, response_code: '200' })?.value, 11);
  assert.equal(find('envoy_cluster_upstream_rq', { cluster_name: CLUSTER, response_code: '503' })?.value, 1);
  assert.equal(find('envoy_cluster_circuit_breakers_default_rq_pending_open', { cluster_name: CLUSTER })?.value, 1);
  assert.equal(prom.types.get('envoy_cluster_upstream_rq'), 'counter');
  assert.equal(prom.types.get('envoy_cluster_upstream_rq_pending_active'), 'gauge');
  const json = envoyStatsJson(s).stats as Array<{ name: string; value: number }>;
  assert.ok(json.some((x) => x.name === `cluster.${CLUSTER}.upstream_rq_total` && x.value === 12));
});

test('label values are escaped and parse back exactly', () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const s = new StatsStore();
  const tricky = 'path "/x"\\y\nz';
  s.counter('odd_total', { v: tricky, 'bad-name': 'ok' }).inc(2);
  const prom = parseProm(prometheusText(s));
  assert.deepEqual(prom.samples, [{ name: 'odd_total', labels: { v: tricky, bad_name: 'ok' }, value: 2 }]);
});

test('histogram exposition: cumulative buckets, +Inf, _sum, _count, one TYPE per family', () => {
  const s = new StatsStore();
  const h1 = s.histogram('d_ms', { a: '1' });
  const h2 = s.histogram('d_ms', { a: '2' });
  h1.record(3);
  h1.record(700);
  h2.record(4000000);
  const text = prometheusText(s);
  assert.equal(text.match(/^# TYPE d_ms histogram$/gm)?.length, 1);
  const prom = parseProm(text);
  const b1 = prom.samples.filter((x) => x.name === 'd_ms_bucket' && x.labels.a === '1');
  assert.deepEqual(
    b1.map((x) => x.labels.le),
    [...ENVOY_DEFAULT_BUCKETS.map(String), '+Inf'],
  );
  assert.equal(b1.find((x) => x.labels.le === '1')?.value, 0);
  assert.equal(b1.find((x) => x.labels.le === '5')?.value, 1);
  assert.equal(b1.find((x) => x.labels.le === '1000')?.value, 2);
  assert.equal(b1.find((x) => x.labels.le === '+Inf')?.value, 2);
  const b2inf = prom.samples.find((x) => x.name === 'd_ms_bucket' && x.labels.a === '2' && x.labels.le === '+Inf');
  const b2top = prom.samples.find((x) => x.name === 'd_ms_bucket' && x.labels.a === '2' && x.labels.le === '3600000');
  assert.equal(b2inf?.value, 1);
  assert.equal(b2top?.value, 0);
  assert.equal(prom.samples.find((x) => x.name === 'd_ms_sum' && x.labels.a === '1')?.value, 703);
  assert.equal(prom.samples.find((x) => x.name === 'd_ms_count' && x.labels.a === '2')?.value, 1);
  assert.match(envoyStatsText(s), /^a=\.=1;\.;d_ms: P0\(nan,/m);
});

/** promtool's complaints, one per line; parse errors fail the test outright */
function promtool(text: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10000 });
  if (r.error) throw new Error(`promtool is required (apt-get install prometheus): ${r.error.message}`);
  const out = `${r.stdout}${r.stderr}`;
  assert.doesNotMatch(out, /error/i, out);
  if (r.status === 0) assert.equal(out.trim(), '');
  return out.trim().split('\n').filter(Boolean);
}

// Names fixed by Istio/Envoy that promtool's style lints dislike; anything else must be clean.
const ALLOWED_LINTS = [
  /^istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"$/,
  /^envoy_\w+ counter metrics should have "_total" suffix$/,
];

test('promtool check metrics: a realistic proxy exposition parses and is lint-clean but for mandated names', () => {
  const s = new StatsStore();
  const m = new IstioMetrics(s, REVIEWS);
  const peer = { workload: 'productpage-v1', namespace: 'default', app: 'productpage', version: 'v1', principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', cluster: 'Kubernetes' };
  for (let i = 0; i < 20; i++) {
    m.recordRequest(httpInfo({ direction: 'inbound', peer, upstreamCluster: 'inbound|9080||', connectionSecurityPolicy: 'mutual_tls', destinationService: 'reviews.default.svc.cluster.local', responseCode: i % 5 ? 200 : 503, durationMs: i * 7 }));
  }
  const grpc = httpInfo({ direction: 'outbound', requestHeaders: { 'content-type': 'application/grpc' }, grpcStatus: 14, grpcRequestMessages: 1, grpcResponseMessages: 3 });
  m.recordRequest(grpc);
  const tcp = httpInfo({ direction: 'outbound', protocol: 'TCP', upstreamCluster: 'outbound|3306||mysql.default.svc.cluster.local', bytesReceived: 100, bytesSent: 2000 });
  m.tcpOpened(tcp);
  m.tcpClosed(tcp);
  const sc = s.scope(`cluster.${CLUSTER}.`);
  sc.counter('upstream_rq_total').inc(12);
  sc.counter('upstream_rq_200').inc(11);
  sc.counter('upstream_rq_pending_overflow').inc(1);
  sc.gauge('upstream_rq_pending_active').set(0);
  sc.histogram('upstream_rq_time').record(12);
  s.scope('server.').gauge('live').set(1);
  const problems = promtool(prometheusText(s));
  for (const p of problems) assert.ok(ALLOWED_LINTS.some((re) => re.test(p)), `unexpected promtool finding: ${p}`);
  // without the mandated names the output is fully clean
  const clean = new StatsStore();
  clean.counter('istio_requests_total', { reporter: 'source' }).inc();
  clean.histogram('istio_request_bytes', { reporter: 'source' }).record(10);
  clean.scope(`cluster.${CLUSTER}.`).counter('upstream_rq_total').inc();
  clean.scope(`cluster.${CLUSTER}.`).gauge('upstream_cx_active').set(1);
  assert.deepEqual(promtool(prometheusText(clean)), []);
});

test('promtool rejects what our parser rejects: a broken line is caught', () => {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: 'foo{a="b} 1\n', encoding: 'utf8', timeout: 10000 });
  assert.notEqual(r.status, 0);
  assert.throws(() => parseProm('foo{a="b} 1\n'));
});

test('cluster stats handles: Envoy names in /stats, Istio tags in prometheus', async () => {
  const { ClusterStats } = await import('../../../src/proxy/telemetry/stats-cluster.js');
  const s = new StatsStore();
  const cs = new ClusterStats(s, CLUSTER);
  assert.equal(new ClusterStats(s, CLUSTER).upstream_rq_pending_overflow, cs.upstream_rq_pending_overflow, 'same handles');
  cs.upstream_rq_total.inc(3);
  cs.response(200, 4);
  cs.response(200, 6);
  cs.response(503);
  cs.upstream_rq_pending_overflow.inc();
  cs.cb_rq_pending_open.set(1);
  const text = envoyStatsText(s);
  for (const line of [
    `cluster.${CLUSTER}.upstream_rq_200: 2`,
    `cluster.${CLUSTER}.upstream_rq_2xx: 2`,
    `cluster.${CLUSTER}.upstream_rq_503: 1`,
    `cluster.${CLUSTER}.upstream_rq_5xx: 1`,
    `cluster.${CLUSTER}.upstream_rq_completed: 3`,
    `cluster.${CLUSTER}.upstream_rq_pending_overflow: 1`,
    `cluster.${CLUSTER}.upstream_rq_pending_active: 0`,
    `cluster.${CLUSTER}.circuit_breakers.default.rq_pending_open: 1`,
  ]) {
    assert.ok(text.split('\n').includes(line), line);
  }
  const prom = parseProm(prometheusText(s)).samples;
  assert.equal(prom.find((x) => x.name === 'envoy_cluster_upstream_rq' && x.labels.response_code_class === '5xx')?.value, 1);
  assert.equal(prom.find((x) => x.name === 'envoy_cluster_upstream_rq_time_count')?.value, 2);
});
