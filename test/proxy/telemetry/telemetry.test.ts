import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTelemetry, telemetryConfigFromXds, PEER_METADATA_HEADER } from '../../../src/proxy/telemetry/index.js';
import { AccessLogFormatError, ENVOY_DEFAULT_FORMAT } from '../../../src/proxy/telemetry/access-log-format.js';
import type { AccessLogSink } from '../../../src/proxy/telemetry/access-log-writer.js';
import { PRODUCTPAGE, REVIEWS, httpInfo, parseProm, startReceiver, waitFor } from './telemetry-fixtures.js';

function memorySink(): { lines: string[]; factory: (p: string) => AccessLogSink } {
  const lines: string[] = [];
  return { lines, factory: () => ({ write: (d, cb) => (lines.push(...d.split('\n').filter(Boolean)), setImmediate(() => cb(null))) }) };
}

test('one call through two sidecars: peer exchange, metrics on both sides, access log, spans', async () => {
  const rx = await startReceiver();
  const logA = memorySink();
  const logB = memorySink();
  const tracing = { samplingPercent: 100, zipkin: { url: rx.url }, batchSize: 1, flushIntervalMs: 20 };
  const client = createTelemetry({ tracing, accessLog: { path: '/dev/stdout' } }, PRODUCTPAGE, { accessLogSink: logA.factory });
  const server = createTelemetry({ tracing, accessLog: { path: '/dev/stdout', json: true } }, REVIEWS, { accessLogSink: logB.factory });
  try {
    // productpage's app -> client sidecar
    const appHeaders: Record<string, string> = { 'user-agent': 'python-requests' };
    const cTrace = client.onRequestStart(appHeaders, 'outbound')!;
    const upstreamReq: Record<string, string> = { ...appHeaders, ...cTrace.headers, ...client.peerMetadataHeaders() };
    // server sidecar receives it
    const sTrace = server.onRequestStart(upstreamReq, 'inbound')!;
    const sInfo = httpInfo({ direction: 'inbound', requestHeaders: { ...upstreamReq }, upstreamCluster: 'inbound|9080||', destinationService: 'reviews.default.svc.cluster.local', connectionSecurityPolicy: 'none' });
    sInfo.peer = server.takePeer(sInfo.requestHeaders!);
    assert.equal(sInfo.requestHeaders![PEER_METADATA_HEADER], undefined, 'stripped before the app');
    assert.equal(sInfo.peer?.workload, 'productpage-v1');
    const response: Record<string, string> = { ...server.peerMetadataHeaders() };
    server.onRequestComplete(sInfo, sTrace);
    // client sidecar reads the response
    const cInfo = httpInfo({ direction: 'outbound', requestHeaders: upstreamReq });
    cInfo.peer = client.takePeer(response);
    assert.deepEqual(Object.values(response).filter((v) => v !== undefined), [], 'both headers cleared');
    client.onRequestComplete(cInfo, cTrace);

    assert.equal(sTrace.traceId, cTrace.traceId);
    // Zipkin config: the server span shares the client span's id (Envoy's shared_span_context)
    assert.equal(sTrace.spanId, cTrace.spanId);
    assert.equal(sTrace.shared, true);
    assert.equal(cTrace.requestId, sTrace.requestId, 'x-request-id flows from client to server');

    const cp = parseProm(client.prometheusText()).samples.find((s) => s.name === 'istio_requests_total')!;
    assert.equal(cp.labels.reporter, 'source');
    assert.equal(cp.labels.destination_workload, 'reviews-v2');
    const sp = parseProm(server.prometheusText()).samples.find((s) => s.name === 'istio_requests_total')!;
    assert.equal(sp.labels.reporter, 'destination');
    assert.equal(sp.labels.source_workload, 'productpage-v1');
    assert.match(server.envoyStatsText(), /reporter=\.=destination;\.;.*istio_requests_total: 1/);

    await waitFor(() => logA.lines.length === 1 && logB.lines.length === 1);
    assert.match(logA.lines[0], /^\[2024-06-02T13:24:57\.930Z\] "GET \/reviews\/0 HTTP\/1\.1" 200 - /);
    assert.ok(logA.lines[0].includes(`"${cTrace.requestId}"`));
    assert.equal(JSON.parse(logB.lines[0]).request_id, sTrace.requestId);

    await waitFor(() => rx.bodies.length === 2 && client.exporters[0].sent === 1 && server.exporters[0].sent === 1);
    const kinds = rx.bodies.map((b) => (b as Array<{ kind: string }>)[0].kind).sort();
    assert.deepEqual(kinds, ['CLIENT', 'SERVER']);
    // Zipkin only: server spans share the client's span id
    const srv = rx.bodies.map((b) => (b as Array<Record<string, unknown>>)[0]).find((s) => s.kind === 'SERVER')!;
    assert.equal(srv.id, cTrace.spanId);
    assert.equal(srv.shared, true);
    assert.match(client.envoyStatsText(), /^tracing\.zipkin\.spans_sent: 1$/m);
  } finally {
    await client.close();
    await server.close();
    await rx.close();
  }
});

test('no tracing: x-request-id still generated once, nothing when present; metrics can be disabled', async () => {
  const t = createTelemetry({ metrics: { enabled: false } }, PRODUCTPAGE);
  const ctx = t.onRequestStart({}, 'outbound');
  assert.match(ctx!.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  assert.equal(ctx!.sampled, false);
  assert.equal(t.onRequestStart({ 'x-request-id': 'abc' }, 'outbound'), undefined);
  t.onRequestComplete(httpInfo({ direction: 'outbound' }));
  assert.equal(t.prometheusText(), '');
  await t.close();
});

test('TCP connections through the facade', async () => {
  const log = memorySink();
  const t = createTelemetry({ accessLog: { path: 'x', format: '%UPSTREAM_CLUSTER% %BYTES_RECEIVED% %BYTES_SENT%\n' } }, PRODUCTPAGE, { accessLogSink: log.factory });
  const info = httpInfo({ direction: 'outbound', protocol: 'TCP', upstreamCluster: 'outbound|3306||mysql.default.svc.cluster.local', bytesReceived: 0, bytesSent: 0 });
  t.onTcpConnectionOpen(info);
  info.bytesReceived = 10;
  info.bytesSent = 20;
  t.onTcpConnectionClose(info);
  const prom = parseProm(t.prometheusText()).samples;
  assert.equal(prom.find((s) => s.name === 'istio_tcp_sent_bytes_total')?.value, 20);
  assert.equal(prom.find((s) => s.name === 'istio_tcp_connections_closed_total')?.value, 1);
  await waitFor(() => log.lines.length === 1);
  assert.equal(log.lines[0], 'outbound|3306||mysql.default.svc.cluster.local 10 20');
  await t.close();
});

test('a bad access-log format fails at creation with a typed error', () => {
  assert.throws(() => createTelemetry({ accessLog: { path: '/dev/stdout', format: '%BOGUS%' } }, PRODUCTPAGE), AccessLogFormatError);
});

test('telemetry config from an xDS HttpConnectionManager', () => {
  const hcm = {
    stat_prefix: 'outbound_0.0.0.0_9080',
    access_log: [
      {
        name: 'envoy.access_loggers.file',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
          path: '/dev/stdout',
          log_format: { text_format_source: { inline_string: '%RESPONSE_CODE%\n' } },
        },
      },
      {
        name: 'json',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
          log_format: { json_format: { fields: { code: { string_value: '%RESPONSE_CODE%' } } } },
        },
      },
    ],
    tracing: {
      random_sampling: { value: 25 },
      provider: {
        name: 'envoy.tracers.zipkin',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig',
          collector_cluster: 'zipkin',
          collector_endpoint: '/api/v2/spans',
          shared_span_context: { value: false },
        },
      },
    },
  };
  // an access logger this proxy does not implement is a config error (NACK), not a silent no-log
  assert.throws(
    () => telemetryConfigFromXds({ ...hcm, access_log: [...hcm.access_log, { name: 'other', typed_config: { '@type': 'type.googleapis.com/some.Unknown' } }] }),
    /access_log\[2\] other: access logger type.googleapis.com\/some.Unknown not implemented/,
  );
  const cfg = telemetryConfigFromXds(hcm, (c) => (c === 'zipkin' ? '127.0.0.1:9411' : undefined));
  // Istio metrics are not the HCM's business: they come from the istio.stats filter
  assert.deepEqual(cfg, {
    accessLog: [
      { path: '/dev/stdout', format: '%RESPONSE_CODE%\n' },
      { path: '/dev/stderr', json: { code: '%RESPONSE_CODE%' } },
    ],
    tracing: { samplingPercent: 25, zipkin: { url: 'http://127.0.0.1:9411/api/v2/spans' }, sharedSpanContext: false },
  });
  const otel = telemetryConfigFromXds(
    {
      tracing: {
        provider: {
          typed_config: {
            '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
            http_service: { http_uri: { cluster: 'otel', uri: '/v1/traces' } },
          },
        },
      },
    },
    () => '127.0.0.1:4318',
  );
  assert.deepEqual(otel.tracing, { samplingPercent: 1, otlp: { url: 'http://127.0.0.1:4318/v1/traces' } });
  assert.equal(telemetryConfigFromXds({}, () => undefined).tracing, undefined);
  // a file logger without log_format writes Envoy's default format
  const plain = telemetryConfigFromXds({ access_log: [{ typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: '/tmp/x.log' } }] });
  assert.deepEqual(plain.accessLog, [{ path: '/tmp/x.log', format: ENVOY_DEFAULT_FORMAT }]);
  // without a resolver the collector stays a cluster, resolved when spans are sent; the URL
  // carries the path and the Host (Istio's cluster name gives the service authority)
  const lazy = telemetryConfigFromXds({ tracing: { ...hcm.tracing, provider: { ...hcm.tracing.provider, typed_config: { ...hcm.tracing.provider.typed_config, collector_cluster: 'outbound|9411||zipkin.istio-system.svc.cluster.local' } } } });
  assert.deepEqual(lazy.tracing?.zipkin, {
    url: 'http://zipkin.istio-system.svc.cluster.local:9411/api/v2/spans',
    cluster: 'outbound|9411||zipkin.istio-system.svc.cluster.local',
  });
  const otlpUri = telemetryConfigFromXds({
    tracing: {
      provider: {
        typed_config: {
          '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
          http_service: { http_uri: { cluster: 'outbound|4318||otel.observability.svc.cluster.local', uri: 'http://otel.observability.svc.cluster.local:4318/v1/traces' } },
        },
      },
    },
  });
  assert.deepEqual(otlpUri.tracing?.otlp, {
    url: 'http://otel.observability.svc.cluster.local:4318/v1/traces',
    cluster: 'outbound|4318||otel.observability.svc.cluster.local',
  });
});
