/**
 * istio.stats (Istio's stats filter) config: `stats.PluginConfig` as it arrives inside a
 * TypedStruct, parsed once per LDS update into the MetricsConfig telemetry records with.
 *
 *   { disable_host_header_fallback?, tcp_reporting_duration?, metrics?: [{ name?, dimensions?:
 *     { tag: expression }, tags_to_remove?: [tag], drop? }] }
 *
 * A metric name is Istio's short one (`requests_total`); no name means every metric.
 */
import { parseDurationMs } from '../../../xds/codec.js';
import { fail } from '../../core/errors.js';
import type { TagOverride, TagOverrides } from '../../telemetry/istio-metrics-labels.js';
import type { MetricsConfig } from '../../telemetry/telemetry-config.js';
import { compileStatsExpression } from './stats-expression.js';

/** Istio's short metric names (PluginConfig, Telemetry API) -> exposed names */
export const ISTIO_METRIC_NAMES: Readonly<Record<string, string>> = Object.freeze({
  requests_total: 'istio_requests_total',
  request_duration_milliseconds: 'istio_request_duration_milliseconds',
  request_bytes: 'istio_request_bytes',
  response_bytes: 'istio_response_bytes',
  request_messages_total: 'istio_request_messages_total',
  response_messages_total: 'istio_response_messages_total',
  tcp_connections_opened_total: 'istio_tcp_connections_opened_total',
  tcp_connections_closed_total: 'istio_tcp_connections_closed_total',
  tcp_sent_bytes_total: 'istio_tcp_sent_bytes_total',
  tcp_received_bytes_total: 'istio_tcp_received_bytes_total',
});

/** Istio's default tcp_reporting_duration */
export const DEFAULT_TCP_REPORTING_MS = 15_000;

function durationMs(v: unknown): number | undefined {
  if (typeof v === 'string') return parseDurationMs(v);
  if (v && typeof v === 'object') {
    const d = v as { seconds?: unknown; nanos?: unknown };
    return Number(d.seconds ?? 0) * 1000 + Number(d.nanos ?? 0) / 1e6;
  }
  return undefined;
}

function metricNames(name: unknown): string[] {
  if (name === undefined || name === null || name === '') return ['*'];
  const short = String(name);
  const full = ISTIO_METRIC_NAMES[short] ?? (Object.values(ISTIO_METRIC_NAMES).includes(short) ? short : undefined);
  if (!full) fail(`istio.stats: unknown metric '${short}'`);
  return [full];
}

export function parseStatsPluginConfig(v: Record<string, unknown>): MetricsConfig {
  const cfg: MetricsConfig = { enabled: true };
  if (v.disable_host_header_fallback === true) cfg.disableHostHeaderFallback = true;
  const tcpMs = v.tcp_reporting_duration === undefined ? undefined : durationMs(v.tcp_reporting_duration);
  if (v.tcp_reporting_duration !== undefined && (tcpMs === undefined || tcpMs < 0)) fail('istio.stats: invalid tcp_reporting_duration');
  cfg.tcpReportingMs = tcpMs ?? DEFAULT_TCP_REPORTING_MS;
  const overrides: TagOverrides = {};
  const dropped: string[] = [];
  const metrics = v.metrics === undefined ? [] : v.metrics;
  if (!Array.isArray(metrics)) fail('istio.stats: metrics must be a list');
  for (const m of metrics as Array<Record<string, unknown>>) {
    if (!m || typeof m !== 'object') fail('istio.stats: a metrics entry must be an object');
    for (const name of metricNames(m.name)) {
      if (m.drop === true) {
        if (name === '*') dropped.push(...Object.values(ISTIO_METRIC_NAMES));
        else dropped.push(name);
        continue;
      }
      const byTag = (overrides[name] ??= {});
      const dims = (m.dimensions ?? {}) as Record<string, unknown>;
      if (typeof dims !== 'object' || Array.isArray(dims)) fail('istio.stats: dimensions must be a map');
      for (const [tag, expression] of Object.entries(dims)) {
        const c = compileStatsExpression(String(expression));
        const o: TagOverride = { operation: 'UPSERT', expression: String(expression) };
        if (c.expr) o.expr = c.expr;
        else o.value = c.value;
        byTag[tag] = o;
      }
      const remove = (m.tags_to_remove ?? []) as unknown[];
      if (!Array.isArray(remove)) fail('istio.stats: tags_to_remove must be a list');
      for (const tag of remove) byTag[String(tag)] = { operation: 'REMOVE' };
      if (Object.keys(byTag).length === 0) delete overrides[name];
    }
  }
  if (Object.keys(overrides).length) cfg.tagOverrides = overrides;
  if (dropped.length) cfg.dropped = [...new Set(dropped)];
  return cfg;
}
