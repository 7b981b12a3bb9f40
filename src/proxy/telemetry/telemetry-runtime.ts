/**
 * Telemetry state of one proxy, shared by its listeners: the stats store, the peer metadata
 * this proxy sends (computed once) and a decoder for what peers send, and the resources xDS
 * config points at, kept by identity so a listener update reuses them instead of opening new
 * files, sockets or timers: access-log writers by path, span exporters by collector, Istio
 * metric recorders and tracers by config. parseHcm / parseTcpProxy ask it for a listener's
 * HttpTelemetry / TcpTelemetry once per LDS update.
 */
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { StatsStore } from '../../stats/stats-store.js';
import type { PeerInfo } from '../core/stream-info.js';
import { fail } from '../core/errors.js';
import { AccessLogFormatError, compileJsonFormat, compileTextFormat, ISTIO_DEFAULT_FORMAT, type Formatter } from './access-log-format.js';
import { AccessLogWriter, openAccessLogSink, type AccessLogSink } from './access-log-writer.js';
import { IstioMetrics } from './istio-metrics.js';
import { encodePeerMetadata, PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, PeerMetadataDecoder } from './peer-metadata.js';
import { telemetryConfigFromXds, type AccessLogConfig, type CollectorConfig, type MetricsConfig, type TelemetryConfig, type TracingConfig } from './telemetry-config.js';
import { HttpTelemetry, TcpTelemetry, type AccessLogHandle } from './telemetry-stream.js';
import { HttpBatchExporter } from './tracing-exporter.js';
import { encodeOtlp, OTLP_DEFAULT_PATH } from './tracing-otlp.js';
import { Tracer } from './tracing-tracer.js';
import { encodeZipkin, ZIPKIN_DEFAULT_PATH } from './tracing-zipkin.js';

export interface TelemetryRuntimeOptions {
  identity: ProxyIdentity;
  /** the proxy's store (admin /stats and /stats/prometheus render it) */
  stats?: StatsStore;
  trustDomain?: string;
  clusterId?: string;
  meshId?: string;
  /** a host of a cluster, for span collectors (the proxy's cluster manager) */
  resolveCluster?: (name: string) => { host: string; port: number } | undefined;
  /** overrides the sink of every access log (tests) */
  accessLogSink?: (path: string) => AccessLogSink;
  /** [0,1) random source for sampling (tests) */
  random?: () => number;
}

function configError<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof AccessLogFormatError) fail(`access_log: ${err.message}`);
    throw err;
  }
}

function keyOf(v: unknown): string {
  // tag-override functions are identified by their expression text
  return JSON.stringify(v, (_k, x) => (typeof x === 'function' ? undefined : x));
}

export class TelemetryRuntime {
  readonly stats: StatsStore;
  readonly identity: ProxyIdentity;
  /** x-envoy-peer-metadata / -id values of this proxy */
  readonly peerMetadata: string;
  readonly peerMetadataId: string;
  private readonly peerDecoder: PeerMetadataDecoder;
  private readonly writers = new Map<string, AccessLogWriter>();
  private readonly formats = new Map<string, Formatter>();
  private readonly exporterMap = new Map<string, HttpBatchExporter>();
  private readonly metricsMap = new Map<string, IstioMetrics>();
  private readonly tracers = new Map<string, Tracer>();

  constructor(private readonly opts: TelemetryRuntimeOptions) {
    this.identity = opts.identity;
    this.stats = opts.stats ?? new StatsStore();
    const h = encodePeerMetadata(opts.identity, { clusterId: opts.clusterId, meshId: opts.meshId, trustDomain: opts.trustDomain });
    this.peerMetadata = h[PEER_METADATA_HEADER];
    this.peerMetadataId = h[PEER_METADATA_ID_HEADER];
    this.peerDecoder = new PeerMetadataDecoder(opts.trustDomain);
  }

  /** Reads the peer from headers and removes both exchange headers from them. */
  takePeer(headers: Record<string, string | string[] | undefined>): PeerInfo | undefined {
    return this.peerDecoder.takeFrom(headers);
  }

  decodePeer(value: string | string[] | undefined): PeerInfo | undefined {
    return this.peerDecoder.decode(value);
  }

  /**
   * From xDS: an HttpConnectionManager's (or TcpProxy's) access_log/tracing plus the metrics of
   * its istio.stats filter. An invalid access-log format rejects the config (ProxyConfigError).
   */
  httpFromXds(tc: Record<string, unknown>, metrics: MetricsConfig | undefined): HttpTelemetry | undefined {
    return configError(() => this.http({ ...telemetryConfigFromXds(tc), metrics }));
  }

  tcpFromXds(tc: Record<string, unknown>, metrics: MetricsConfig | undefined): TcpTelemetry | undefined {
    return configError(() => this.tcp({ ...telemetryConfigFromXds(tc), metrics }));
  }

  /** One HCM's telemetry, or undefined when its config turns nothing on. */
  http(cfg: TelemetryConfig): HttpTelemetry | undefined {
    const metrics = cfg.metrics?.enabled ? this.metrics(cfg.metrics) : undefined;
    const logs = this.logs(cfg.accessLog);
    const tracer = cfg.tracing ? this.tracer(cfg.tracing) : undefined;
    if (!metrics && logs.length === 0 && !tracer) return undefined;
    return new HttpTelemetry(metrics, logs, tracer);
  }

  /** One TcpProxy's telemetry (metrics from a network istio.stats filter, its access_log). */
  tcp(cfg: TelemetryConfig): TcpTelemetry | undefined {
    const metrics = cfg.metrics?.enabled ? this.metrics(cfg.metrics) : undefined;
    const logs = this.logs(cfg.accessLog);
    if (!metrics && logs.length === 0) return undefined;
    return new TcpTelemetry(metrics, logs, cfg.metrics?.tcpReportingMs ?? 0);
  }

  metrics(cfg: MetricsConfig): IstioMetrics {
    const key = keyOf(cfg);
    let m = this.metricsMap.get(key);
    if (!m) {
      m = new IstioMetrics(this.stats, this.identity, {
        trustDomain: this.opts.trustDomain,
        clusterId: this.opts.clusterId,
        tagOverrides: cfg.tagOverrides,
        disableHostHeaderFallback: cfg.disableHostHeaderFallback,
        dropped: cfg.dropped,
      });
      this.metricsMap.set(key, m);
    }
    return m;
  }

  private logs(cfg: AccessLogConfig | AccessLogConfig[] | undefined): AccessLogHandle[] {
    if (cfg === undefined) return [];
    return (Array.isArray(cfg) ? cfg : [cfg]).map((l) => ({ format: this.format(l), writer: this.writer(l), filter: l.filter }));
  }

  /** Throws AccessLogFormatError (code ACCESS_LOG_FORMAT) for an invalid format. */
  private format(l: AccessLogConfig): Formatter {
    const key = l.json ? `json:${keyOf(l.json)}` : `text:${l.format ?? ISTIO_DEFAULT_FORMAT}`;
    let f = this.formats.get(key);
    if (!f) {
      f = l.json ? compileJsonFormat(l.json === true ? undefined : l.json) : compileTextFormat(l.format ?? ISTIO_DEFAULT_FORMAT);
      this.formats.set(key, f);
    }
    return f;
  }

  private writer(l: AccessLogConfig): AccessLogWriter {
    let w = this.writers.get(l.path);
    if (!w) {
      const sink = this.opts.accessLogSink ? this.opts.accessLogSink(l.path) : openAccessLogSink(l.path);
      const scope = this.stats.scope('access_logs.file.');
      w = new AccessLogWriter(sink, {
        maxBufferBytes: l.maxBufferBytes,
        flushIntervalMs: l.flushIntervalMs,
        counters: { written: scope.counter('write_completed'), dropped: scope.counter('write_dropped'), failed: scope.counter('write_failed') },
      });
      this.writers.set(l.path, w);
    }
    return w;
  }

  private tracer(t: TracingConfig): Tracer {
    const key = keyOf(t);
    let tr = this.tracers.get(key);
    if (!tr) {
      const sinks: HttpBatchExporter[] = [];
      if (t.zipkin) sinks.push(this.exporter('zipkin', t.zipkin, t));
      if (t.otlp) sinks.push(this.exporter('opentelemetry', t.otlp, t));
      tr = new Tracer(this.identity, sinks, {
        samplingPercent: t.samplingPercent,
        propagation: t.propagation,
        sharedSpanContext: t.sharedSpanContext ?? (!!t.zipkin && !t.otlp),
        meshId: this.opts.meshId ?? this.opts.trustDomain,
        random: this.opts.random,
        customTags: t.customTags,
        maxPathTagLength: t.maxPathTagLength,
      });
      this.tracers.set(key, tr);
    }
    return tr;
  }

  private exporter(kind: 'zipkin' | 'opentelemetry', c: CollectorConfig, t: TracingConfig): HttpBatchExporter {
    const key = `${kind}|${c.cluster ?? ''}|${c.url}|${t.maxQueue ?? ''}|${t.batchSize ?? ''}|${t.flushIntervalMs ?? ''}`;
    let e = this.exporterMap.get(key);
    if (!e) {
      const scope = this.stats.scope(`tracing.${kind}.`);
      const cluster = c.cluster;
      const resolve = this.opts.resolveCluster;
      e = new HttpBatchExporter({
        url: c.url,
        defaultPath: kind === 'zipkin' ? ZIPKIN_DEFAULT_PATH : OTLP_DEFAULT_PATH,
        encode: kind === 'zipkin' ? encodeZipkin : encodeOtlp,
        maxQueue: t.maxQueue,
        batchSize: t.batchSize,
        flushIntervalMs: t.flushIntervalMs,
        resolveAddress: cluster && resolve ? () => resolve(cluster) : undefined,
        counters: { sent: scope.counter('spans_sent'), dropped: scope.counter('spans_dropped'), failed: scope.counter('reports_failed') },
      });
      this.exporterMap.set(key, e);
    }
    return e;
  }

  /** every span exporter opened so far */
  get exporters(): HttpBatchExporter[] {
    return [...this.exporterMap.values()];
  }

  /** every access-log writer opened so far */
  get accessLogWriters(): AccessLogWriter[] {
    return [...this.writers.values()];
  }

  /** Flushes logs and spans (bounded in time) and stops timers. */
  async close(timeoutMs = 2000): Promise<void> {
    await Promise.all([...this.writers.values()].map((w) => w.close(timeoutMs)).concat(this.exporters.map((e) => e.close(timeoutMs))));
  }
}
