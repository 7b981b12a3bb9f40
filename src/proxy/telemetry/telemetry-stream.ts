/**
 * What one listener's telemetry does with its streams: HttpTelemetry (per HttpConnectionManager)
 * and TcpTelemetry (per TcpProxy) hold the pieces their xDS config turned on (Istio metrics from
 * the istio.stats filter, access logs, a tracer) and nothing else, so an HCM without telemetry
 * config pays nothing. Built by TelemetryRuntime, which shares writers, exporters and metric
 * handles between listeners.
 */
import type { StreamInfo } from '../core/stream-info.js';
import type { Formatter } from './access-log-format.js';
import type { AccessLogWriter } from './access-log-writer.js';
import type { AccessLogPredicate } from './access-log-filter.js';
import type { IstioMetrics } from './istio-metrics.js';
import type { TraceContext, Tracer } from './tracing-tracer.js';

export interface AccessLogHandle {
  format: Formatter;
  writer: AccessLogWriter;
  /** the logger's AccessLogFilter (undefined: every request or connection) */
  filter: AccessLogPredicate | undefined;
}

export class HttpTelemetry {
  constructor(
    readonly metrics: IstioMetrics | undefined,
    readonly logs: readonly AccessLogHandle[],
    readonly tracer: Tracer | undefined,
  ) {}

  /** The request is done (last byte sent downstream, or reset): metrics, access log, span. */
  onRequestComplete(info: StreamInfo, trace: TraceContext | undefined): void {
    if (info.durationMs === undefined) info.durationMs = performance.now() - info.startMono;
    if (info.requestId === undefined && trace) info.requestId = trace.requestId;
    this.metrics?.recordRequest(info);
    const logs = this.logs;
    for (let i = 0; i < logs.length; i++) {
      const l = logs[i];
      if (l.filter === undefined || l.filter(info)) l.writer.log(l.format(info));
    }
    if (trace !== undefined && this.tracer) this.tracer.finish(info, trace);
  }
}

export class TcpTelemetry {
  private readonly open = new Set<StreamInfo>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly metrics: IstioMetrics | undefined,
    readonly logs: readonly AccessLogHandle[],
    /** byte counters of open connections are reported this often (0: only at close) */
    private readonly reportingMs = 0,
  ) {}

  onConnectionOpen(info: StreamInfo): void {
    const m = this.metrics;
    if (!m) return;
    m.tcpOpened(info);
    if (this.reportingMs > 0) {
      this.open.add(info);
      if (!this.timer) {
        this.timer = setInterval(() => this.report(), this.reportingMs);
        this.timer.unref();
      }
    }
  }

  onConnectionClose(info: StreamInfo): void {
    if (info.durationMs === undefined) info.durationMs = performance.now() - info.startMono;
    if (this.metrics) {
      this.metrics.tcpClosed(info);
      if (this.open.delete(info) && this.open.size === 0) this.stop();
    }
    const logs = this.logs;
    for (let i = 0; i < logs.length; i++) {
      const l = logs[i];
      if (l.filter === undefined || l.filter(info)) l.writer.log(l.format(info));
    }
  }

  /** Istio's tcp_reporting_duration: bytes moved so far on long-lived connections. */
  report(): void {
    for (const info of this.open) this.metrics!.tcpProgress(info);
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get openConnections(): number {
    return this.open.size;
  }
}
