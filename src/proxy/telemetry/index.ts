/**
 * The telemetry library's entry points. The engine uses TelemetryRuntime (one per proxy) and the
 * HttpTelemetry / TcpTelemetry it builds per listener from xDS (http/hcm-config.ts,
 * network/tcp-proxy.ts). `createTelemetry()` is the same machinery behind one config, for tools
 * and tests:
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
import { newUuid } from '../core/random-ids.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { PeerInfo, StreamInfo } from '../core/stream-info.js';
import type { AccessLogSink } from './access-log-writer.js';
import type { IstioMetrics } from './istio-metrics.js';
import { PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER } from './peer-metadata.js';
import { envoyStatsText, type EnvoyStatsOptions } from './stats-envoy-text.js';
import { prometheusText, type PrometheusOptions } from '../../stats/stats-prometheus.js';
import type { StatsStore } from '../../stats/stats-store.js';
import type { TelemetryConfig } from './telemetry-config.js';
import { TelemetryRuntime } from './telemetry-runtime.js';
import type { HttpTelemetry, TcpTelemetry } from './telemetry-stream.js';
import type { HttpBatchExporter } from './tracing-exporter.js';
import type { HeaderBag } from './tracing-propagation.js';
import type { Tracer, TraceContext } from './tracing-tracer.js';

export type { TelemetryConfig, AccessLogConfig, TracingConfig, MetricsConfig, CollectorConfig } from './telemetry-config.js';
export { TelemetryRuntime, type TelemetryRuntimeOptions } from './telemetry-runtime.js';
export { HttpTelemetry, TcpTelemetry } from './telemetry-stream.js';
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

/** One telemetry config for both directions: metrics (on unless `metrics.enabled: false`), logs, tracing. */
export class Telemetry {
  readonly runtime: TelemetryRuntime;
  private readonly http: HttpTelemetry | undefined;
  private readonly tcp: TcpTelemetry | undefined;
  private readonly peerHeaders: Readonly<Record<string, string>>;

  constructor(
    readonly config: TelemetryConfig,
    readonly identity: ProxyIdentity,
    deps: TelemetryDeps = {},
  ) {
    this.runtime = new TelemetryRuntime({
      identity,
      stats: deps.stats,
      trustDomain: config.trustDomain,
      clusterId: config.clusterId,
      meshId: config.meshId,
      accessLogSink: deps.accessLogSink,
      random: deps.random,
    });
    const cfg: TelemetryConfig = { ...config, metrics: { ...config.metrics, enabled: config.metrics?.enabled !== false } };
    this.http = this.runtime.http(cfg);
    this.tcp = this.runtime.tcp({ ...cfg, metrics: { ...cfg.metrics!, tcpReportingMs: 0 } });
    this.peerHeaders = Object.freeze({
      [PEER_METADATA_HEADER]: this.runtime.peerMetadata,
      [PEER_METADATA_ID_HEADER]: this.runtime.peerMetadataId,
    });
  }

  get stats(): StatsStore {
    return this.runtime.stats;
  }

  get metrics(): IstioMetrics | undefined {
    return this.http?.metrics;
  }

  get tracer(): Tracer | undefined {
    return this.http?.tracer;
  }

  get exporters(): HttpBatchExporter[] {
    return this.runtime.exporters;
  }

  /**
   * Request headers arrived. Returns the trace context (its `headers` go on the forwarded
   * request), or undefined when tracing is off and the request already has an x-request-id.
   */
  onRequestStart(headers: HeaderBag, direction: 'inbound' | 'outbound'): TraceContext | undefined {
    if (this.tracer) return this.tracer.start(headers, direction);
    if (headers['x-request-id']) return undefined;
    const requestId = newUuid();
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
    if (this.http) this.http.onRequestComplete(info, trace);
    else if (info.durationMs === undefined) info.durationMs = performance.now() - info.startMono;
  }

  onTcpConnectionOpen(info: StreamInfo): void {
    this.tcp?.onConnectionOpen(info);
  }

  /** Optional periodic call for long-lived connections: reports bytes moved so far. */
  onTcpConnectionProgress(info: StreamInfo): void {
    this.tcp?.metrics?.tcpProgress(info);
  }

  onTcpConnectionClose(info: StreamInfo): void {
    if (this.tcp) this.tcp.onConnectionClose(info);
    else if (info.durationMs === undefined) info.durationMs = performance.now() - info.startMono;
  }

  /** x-envoy-peer-metadata + x-envoy-peer-metadata-id of this proxy (computed once). */
  peerMetadataHeaders(): Readonly<Record<string, string>> {
    return this.peerHeaders;
  }

  /** Reads the peer's identity from request/response headers and strips the exchange headers. */
  takePeer(headers: Record<string, string | string[] | undefined>): PeerInfo | undefined {
    return this.runtime.takePeer(headers);
  }

  /** Decodes an x-envoy-peer-metadata value (cached; the same peer gives the same object). */
  decodePeer(value: string | string[] | undefined): PeerInfo | undefined {
    return this.runtime.decodePeer(value);
  }

  prometheusText(opts?: PrometheusOptions): string {
    return prometheusText(this.stats, opts);
  }

  envoyStatsText(opts?: EnvoyStatsOptions): string {
    return envoyStatsText(this.stats, opts);
  }

  /** Flushes logs and spans (bounded in time) and stops timers. */
  async close(timeoutMs = 2000): Promise<void> {
    await this.runtime.close(timeoutMs);
  }
}

/** Throws AccessLogFormatError (code ACCESS_LOG_FORMAT) for an invalid access-log format. */
export function createTelemetry(config: TelemetryConfig, identity: ProxyIdentity, deps?: TelemetryDeps): Telemetry {
  return new Telemetry(config, identity, deps);
}
