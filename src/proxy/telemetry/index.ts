/**
 * The telemetry facade the proxy engine calls. One instance per proxy (per telemetry config);
 * on a config change build a new one over the same StatsStore and close the old one.
 *
 *   const t = createTelemetry(config, identity);
 *   // request headers in:
 *   const trace = t.onRequestStart(headers, 'outbound');    // set trace?.headers upstream
 *   info.requestId = trace?.requestId ?? headers['x-request-id'];
 *   // outbound: add t.peerMetadataHeaders() to the upstream request; on the response call
 *   //   info.peer = t.takePeer(responseHeaders)
 *   // inbound:  info.peer = t.takePeer(requestHeaders); add t.peerMetadataHeaders() to the response
 *   t.onRequestComplete(info, trace);                       // metrics + access log + span
 *   // TCP: onTcpConnectionOpen(info) ... onTcpConnectionProgress(info) ... onTcpConnectionClose(info)
 */
import { randomUUID } from 'node:crypto';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { PeerInfo, StreamInfo } from '../stream-info.js';
import { compileJsonFormat, compileTextFormat, ISTIO_DEFAULT_FORMAT, type Formatter } from './access-log-format.js';
import { AccessLogWriter, openAccessLogSink, type AccessLogSink } from './access-log-writer.js';
import { IstioMetrics } from './istio-metrics.js';
import { encodePeerMetadata, PeerMetadataDecoder } from './peer-metadata.js';
import { envoyStatsText, type EnvoyStatsOptions } from './stats-envoy-text.js';
import { prometheusText, type PrometheusOptions } from '../../stats/stats-prometheus.js';
import { StatsStore } from '../../stats/stats-store.js';
import type { AccessLogConfig, TelemetryConfig } from './telemetry-config.js';
import { HttpBatchExporter } from './tracing-exporter.js';
import { encodeOtlp, OTLP_DEFAULT_PATH } from './tracing-otlp.js';
import type { HeaderBag } from './tracing-propagation.js';
import { Tracer, type TraceContext } from './tracing-tracer.js';
import { encodeZipkin, ZIPKIN_DEFAULT_PATH } from './tracing-zipkin.js';

export type { TelemetryConfig, AccessLogConfig, TracingConfig, MetricsConfig } from './telemetry-config.js';
export { telemetryConfigFromXds } from './telemetry-config.js';
export type { TraceContext, FinishedSpan } from './tracing-tracer.js';
export { StatsStore, Scope, Counter, Gauge, Histogram, ENVOY_DEFAULT_BUCKETS } from '../../stats/stats-store.js';
export { PROMETHEUS_CONTENT_TYPE } from '../../stats/stats-prometheus.js';
export { PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, stripPeerMetadata } from './peer-metadata.js';
export { ClusterStats } from './stats-cluster.js';
export { envoyStatsJson } from './stats-envoy-text.js';
export {
  AccessLogFormatError,
  compileTextFormat,
  compileJsonFormat,
  ENVOY_DEFAULT_FORMAT,
  ISTIO_DEFAULT_FORMAT,
  ISTIO_DEFAULT_JSON_FORMAT,
} from './access-log-format.js';

export interface TelemetryDeps {
  /** share one store across config changes and with the engine's own stats */
  stats?: StatsStore;
  /** [0,1) random source for sampling (tests) */
  random?: () => number;
  /** overrides the sink of every access log (tests) */
  accessLogSink?: (path: string) => AccessLogSink;
}

interface ActiveLog {
  format: Formatter;
  writer: AccessLogWriter;
}

export class Telemetry {
  readonly stats: StatsStore;
  readonly metrics?: IstioMetrics;
  readonly tracer?: Tracer;
  readonly exporters: HttpBatchExporter[] = [];
  private readonly logs: ActiveLog[] = [];
  private readonly peerHeaders: Readonly<Record<string, string>>;
  private readonly peerDecoder: PeerMetadataDecoder;

  constructor(
    readonly config: TelemetryConfig,
    readonly identity: ProxyIdentity,
    deps: TelemetryDeps = {},
  ) {
    this.stats = deps.stats ?? new StatsStore();
    const trustDomain = config.trustDomain;
    if (config.metrics?.enabled !== false) {
      this.metrics = new IstioMetrics(this.stats, identity, {
        trustDomain,
        clusterId: config.clusterId,
        tagOverrides: config.metrics?.tagOverrides,
      });
    }
    const logs = config.accessLog === undefined ? [] : Array.isArray(config.accessLog) ? config.accessLog : [config.accessLog];
    for (const l of logs) this.logs.push(this.openLog(l, deps));
    const t = config.tracing;
    if (t) {
      const scope = this.stats.scope('tracing.');
      const common = { maxQueue: t.maxQueue, batchSize: t.batchSize, flushIntervalMs: t.flushIntervalMs };
      if (t.zipkin) {
        const z = scope.scope('zipkin.');
        this.exporters.push(
          new HttpBatchExporter({
            ...common,
            url: t.zipkin.url,
            defaultPath: ZIPKIN_DEFAULT_PATH,
            encode: encodeZipkin,
            counters: { sent: z.counter('spans_sent'), dropped: z.counter('spans_dropped'), failed: z.counter('reports_failed') },
          }),
        );
      }
      if (t.otlp) {
        const o = scope.scope('opentelemetry.');
        this.exporters.push(
          new HttpBatchExporter({
            ...common,
            url: t.otlp.url,
            defaultPath: OTLP_DEFAULT_PATH,
            encode: encodeOtlp,
            counters: { sent: o.counter('spans_sent'), dropped: o.counter('spans_dropped'), failed: o.counter('reports_failed') },
          }),
        );
      }
      this.tracer = new Tracer(identity, this.exporters, {
        samplingPercent: t.samplingPercent,
        propagation: t.propagation,
        sharedSpanContext: t.sharedSpanContext ?? (!!t.zipkin && !t.otlp),
        meshId: config.meshId ?? trustDomain,
        random: deps.random,
      });
    }
    this.peerHeaders = Object.freeze(
      encodePeerMetadata(identity, { clusterId: config.clusterId, meshId: config.meshId, trustDomain }),
    );
    this.peerDecoder = new PeerMetadataDecoder(trustDomain);
  }

  private openLog(l: AccessLogConfig, deps: TelemetryDeps): ActiveLog {
    const format = l.json
      ? compileJsonFormat(l.json === true ? undefined : l.json)
      : compileTextFormat(l.format ?? ISTIO_DEFAULT_FORMAT);
    const sink = deps.accessLogSink ? deps.accessLogSink(l.path) : openAccessLogSink(l.path);
    const scope = this.stats.scope('access_logs.file.');
    const writer = new AccessLogWriter(sink, {
      maxBufferBytes: l.maxBufferBytes,
      flushIntervalMs: l.flushIntervalMs,
      counters: { written: scope.counter('write_completed'), dropped: scope.counter('write_dropped'), failed: scope.counter('write_failed') },
    });
    return { format, writer };
  }

  /**
   * Request headers arrived. Returns the trace context (its `headers` go on the forwarded
   * request), or undefined when tracing is off and the request already has an x-request-id.
   */
  onRequestStart(headers: HeaderBag, direction: 'inbound' | 'outbound'): TraceContext | undefined {
    if (this.tracer) return this.tracer.start(headers, direction);
    if (headers['x-request-id']) return undefined;
    const requestId = randomUUID();
    return {
      traceId: '',
      spanId: '',
      sampled: false,
      debug: false,
      shared: false,
      kind: direction === 'outbound' ? 'CLIENT' : 'SERVER',
      requestId,
      headers: { 'x-request-id': requestId },
    };
  }

  /** The request is done (last byte sent downstream, or reset). */
  onRequestComplete(info: StreamInfo, trace?: TraceContext): void {
    if (info.durationMs === undefined) info.durationMs = performance.now() - info.startMono;
    if (info.requestId === undefined && trace) info.requestId = trace.requestId;
    this.metrics?.recordRequest(info);
    for (const l of this.logs) l.writer.log(l.format(info));
    if (trace && this.tracer) this.tracer.finish(info, trace);
  }

  onTcpConnectionOpen(info: StreamInfo): void {
    this.metrics?.tcpOpened(info);
  }

  /** Optional periodic call for long-lived connections: reports bytes moved so far. */
  onTcpConnectionProgress(info: StreamInfo): void {
    this.metrics?.tcpProgress(info);
  }

  onTcpConnectionClose(info: StreamInfo): void {
    if (info.durationMs === undefined) info.durationMs = performance.now() - info.startMono;
    this.metrics?.tcpClosed(info);
    for (const l of this.logs) l.writer.log(l.format(info));
  }

  /** x-envoy-peer-metadata + x-envoy-peer-metadata-id of this proxy (computed once). */
  peerMetadataHeaders(): Readonly<Record<string, string>> {
    return this.peerHeaders;
  }

  /** Reads the peer's identity from request/response headers and strips the exchange headers. */
  takePeer(headers: Record<string, string | string[] | undefined>): PeerInfo | undefined {
    return this.peerDecoder.takeFrom(headers);
  }

  /** Decodes an x-envoy-peer-metadata value (cached; the same peer gives the same object). */
  decodePeer(value: string | string[] | undefined): PeerInfo | undefined {
    return this.peerDecoder.decode(value);
  }

  prometheusText(opts?: PrometheusOptions): string {
    return prometheusText(this.stats, opts);
  }

  envoyStatsText(opts?: EnvoyStatsOptions): string {
    return envoyStatsText(this.stats, opts);
  }

  /** Flushes logs and spans (bounded in time) and stops timers. */
  async close(timeoutMs = 2000): Promise<void> {
    await Promise.all([...this.logs.map((l) => l.writer.close(timeoutMs)), ...this.exporters.map((e) => e.close(timeoutMs))]);
  }
}

/** Throws AccessLogFormatError (code ACCESS_LOG_FORMAT) for an invalid access-log format. */
export function createTelemetry(config: TelemetryConfig, identity: ProxyIdentity, deps?: TelemetryDeps): Telemetry {
  return new Telemetry(config, identity, deps);
}
