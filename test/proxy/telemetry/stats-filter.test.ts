import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeResource, encodeResource } from '../../../src/xds/codec.js';
import { LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import { ProxyConfigError } from '../../../src/proxy/core/errors.js';
import { parseStatsPluginConfig } from '../../../src/proxy/filters/stats/stats-config.js';
import { compileStatsExpression } from '../../../src/proxy/filters/stats/stats-expression.js';
import { filterConfigOf, filterTypeUrl, networkStatsConfig, parsePerRouteFilterConfig } from '../../../src/proxy/filters/registry.js';
import { parseHcm, type HcmParseContext } from '../../../src/proxy/http/hcm-config.js';
import { TelemetryRuntime } from '../../../src/proxy/telemetry/telemetry-runtime.js';
import { IstioMetrics } from '../../../src/proxy/telemetry/istio-metrics.js';
import { StatsStore } from '../../../src/stats/stats-store.js';
import { prometheusText } from '../../../src/stats/stats-prometheus.js';
import { hcm, routerFilter, tcpProxy } from '../helpers/resources.js';
import { fileAccessLog, statsFilter, zipkinTracing } from './telemetry-mesh.js';
import { PRODUCTPAGE, REVIEWS, httpInfo, parseProm } from './telemetry-fixtures.js';

/** An HCM network filter as the proxy receives it: encoded in a Listener and decoded again. */
function overTheWire(filters: Record<string, any>[], extra: Record<string, any> = {}): Record<string, any> {
  const l = { name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 1 } }, filter_chains: [{ filters: [hcm('r', filters, extra)] }] };
  const back = decodeResource(LISTENER_TYPE, encodeResource(LISTENER_TYPE, l));
  return back.filter_chains[0].filters[0].typed_config;
}

function parseCtx(rt: TelemetryRuntime | undefined): HcmParseContext {
  return {
    rdsProvider: (name) => ({ name, config: undefined, version: '', raw: undefined, lastUpdated: undefined }),
    resolveCluster: (name) => ({ name, cluster: undefined }),
    perFilterParser: parsePerRouteFilterConfig,
    telemetry: rt,
  };
}

test('istio.stats arrives as a TypedStruct: the registry finds it by its inner type URL and the HCM turns metrics on', () => {
  const tc = overTheWire([statsFilter({ disable_host_header_fallback: true }), routerFilter]);
  const typed = tc.http_filters[0].typed_config;
  assert.equal(typed['@type'], 'type.googleapis.com/udpa.type.v1.TypedStruct');
  assert.equal(filterTypeUrl(typed), 'type.googleapis.com/stats.PluginConfig');
  assert.equal(filterConfigOf(typed).disable_host_header_fallback, true);

  const rt = new TelemetryRuntime({ identity: REVIEWS });
  const withStats = parseHcm(tc, parseCtx(rt));
  assert.ok(withStats.telemetry?.metrics, 'metrics on');
  assert.equal(withStats.telemetry?.tracer, undefined);
  assert.equal(withStats.filters.length, 1, 'no per-request object for istio.stats: only the router runs per request');
  assert.equal(withStats.peers, rt);

  // absent filter = no Istio metrics (Envoy semantics); nothing configured = no telemetry at all
  const bare = parseHcm(overTheWire([routerFilter]), parseCtx(rt));
  assert.equal(bare.telemetry, undefined);
  // access log / tracing alone do not bring metrics
  const logsOnly = parseHcm(overTheWire([routerFilter], { access_log: [fileAccessLog('/dev/null', { text: '%RESPONSE_CODE%\n' })], tracing: zipkinTracing('zipkin') }), parseCtx(rt));
  assert.equal(logsOnly.telemetry?.metrics, undefined);
  assert.equal(logsOnly.telemetry?.logs.length, 1);
  assert.ok(logsOnly.telemetry?.tracer);
  // a second LDS parse of the same config shares the recorders (no new handles, timers or files)
  const again = parseHcm(tc, parseCtx(rt));
  assert.equal(again.telemetry?.metrics, withStats.telemetry?.metrics);
  const again2 = parseHcm(overTheWire([routerFilter], { access_log: [fileAccessLog('/dev/null', { text: '%RESPONSE_CODE%\n' })], tracing: zipkinTracing('zipkin') }), parseCtx(rt));
  assert.equal(again2.telemetry?.logs[0].writer, logsOnly.telemetry?.logs[0].writer);
  assert.equal(again2.telemetry?.tracer, logsOnly.telemetry?.tracer);
  assert.equal(rt.exporters.length, 1);
  void rt.close(100);
});

test('a bad access-log format or stats config rejects the listener (ProxyConfigError = NACK)', () => {
  const rt = new TelemetryRuntime({ identity: REVIEWS });
  assert.throws(() => parseHcm(overTheWire([routerFilter], { access_log: [fileAccessLog('/dev/null', { text: '%NO_SUCH_OPERATOR%' })] }), parseCtx(rt)), ProxyConfigError);
  assert.throws(() => parseHcm(overTheWire([statsFilter({ metrics: [{ name: 'no_such_metric' }] }), routerFilter]), parseCtx(rt)), /unknown metric 'no_such_metric'/);
  assert.throws(() => parseStatsPluginConfig({ tcp_reporting_duration: 'soon' }), ProxyConfigError);
});

test('PluginConfig: metric names, dimensions, tags_to_remove, drop, tcp_reporting_duration', () => {
  const cfg = parseStatsPluginConfig({
    tcp_reporting_duration: '5s',
    metrics: [
      { dimensions: { mesh: "'alpha'" } },
      { name: 'requests_total', dimensions: { user: "request.headers['x-user']" }, tags_to_remove: ['request_protocol'] },
      { name: 'request_bytes', drop: true },
    ],
  });
  assert.equal(cfg.enabled, true);
  assert.equal(cfg.tcpReportingMs, 5000);
  assert.deepEqual(cfg.dropped, ['istio_request_bytes']);
  assert.equal(cfg.tagOverrides?.['*'].mesh.value, 'alpha');
  assert.equal(cfg.tagOverrides?.istio_requests_total.request_protocol.operation, 'REMOVE');
  assert.equal(typeof cfg.tagOverrides?.istio_requests_total.user.expr, 'function');
  assert.equal(parseStatsPluginConfig({}).tcpReportingMs, 15000, "Istio's default");

  // the overrides as recorded: per-header series, literal everywhere, removed tag gone, dropped metric absent
  const store = new StatsStore();
  const m = new IstioMetrics(store, REVIEWS, { tagOverrides: cfg.tagOverrides, dropped: cfg.dropped });
  for (const user of ['ann', 'bob', 'bob']) {
    m.recordRequest(httpInfo({ direction: 'inbound', requestHeaders: { 'x-user': user } }));
  }
  m.recordRequest(httpInfo({ direction: 'inbound', requestHeaders: {} }));
  const samples = parseProm(prometheusText(store)).samples;
  const reqs = samples.filter((s) => s.name === 'istio_requests_total');
  assert.deepEqual(Object.fromEntries(reqs.map((s) => [s.labels.user, s.value])), { ann: 1, bob: 2, unknown: 1 });
  for (const s of reqs) {
    assert.equal(s.labels.mesh, 'alpha');
    assert.equal('request_protocol' in s.labels, false);
  }
  const dur = samples.find((s) => s.name === 'istio_request_duration_milliseconds_count');
  assert.equal(dur?.labels.mesh, 'alpha');
  assert.equal(dur?.labels.request_protocol, 'http', 'tags_to_remove applies to its metric only');
  assert.equal(samples.some((s) => s.name.startsWith('istio_request_bytes')), false, 'dropped');
});

test('dimension expressions: literals and attributes read directly, other expressions as CEL; what does not compile or fails is unknown, not an error', () => {
  const info = httpInfo({ direction: 'outbound', requestHeaders: { 'user-agent': 'curl/8', 'x-b': 'B' }, responseHeaders: { 'x-c': 'C' }, responseCode: 503 });
  info.responseFlags.add('UF');
  const ev = (e: string): string => {
    const c = compileStatsExpression(e);
    return c.expr ? c.expr(info) : c.value!;
  };
  assert.equal(ev("'lit'"), 'lit');
  assert.equal(ev('"dq"'), 'dq');
  assert.equal(ev('request.host'), 'reviews:9080');
  assert.equal(ev('request.method'), 'GET');
  assert.equal(ev('request.url_path'), '/reviews/0');
  assert.equal(ev('request.useragent'), 'curl/8');
  assert.equal(ev("request.headers['X-B']"), 'B');
  assert.equal(ev('request.headers["x-missing"]'), 'unknown');
  assert.equal(ev("response.headers['x-c']"), 'C');
  assert.equal(ev('response.code'), '503');
  assert.equal(ev('response.flags'), 'UF');
  assert.equal(ev('xds.cluster_name'), 'outbound|9080||reviews.default.svc.cluster.local');
  // other expressions are CEL over Envoy's attributes (the access-log filter's evaluator)
  assert.equal(compileStatsExpression('has(request.auth) ? "a" : "b"').supported, true);
  assert.equal(ev('has(request.auth) ? "a" : "b"'), 'b');
  assert.equal(ev("'x-b' in request.headers ? 'user' : 'anonymous'"), 'user');
  assert.equal(ev("'x-none' in request.headers ? 'user' : 'anonymous'"), 'anonymous');
  assert.equal(ev("request.url_path.startsWith('/reviews')"), 'true');
  assert.equal(ev("string(response.code / 100) + 'xx'"), '5xx');
  assert.equal(ev('response.code + 1'), '504');
  assert.equal(ev('1u + 2u'), '3');
  // an evaluation error (no such header) or a value that is not a scalar: unknown
  assert.equal(ev("request.headers['x-none'] + '!'"), 'unknown');
  assert.equal(ev('request.headers'), 'unknown');
  // does not compile: unsupported, unknown (the listener is not rejected)
  assert.equal(compileStatsExpression('response.code +').supported, false);
  assert.equal(ev('response.code +'), 'unknown');
});

test('a network istio.stats filter before tcp_proxy gives TCP metrics; absent, none', () => {
  assert.equal(networkStatsConfig([tcpProxy('c')]), undefined);
  const cfg = networkStatsConfig([statsFilter({ tcp_reporting_duration: '1s' }), tcpProxy('c')]);
  assert.equal(cfg?.enabled, true);
  assert.equal(cfg?.tcpReportingMs, 1000);
  const rt = new TelemetryRuntime({ identity: PRODUCTPAGE });
  assert.equal(rt.tcp({}), undefined);
  assert.equal(rt.tcp({ metrics: cfg })?.metrics, rt.metrics(cfg!));
});
