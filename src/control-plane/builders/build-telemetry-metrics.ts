/**
 * Istio standard metrics for one proxy and listener class: whether the istio.stats filter is on
 * (a prometheus provider in scope, not disabled for ALL_METRICS) and the per-metric overrides
 * (Istio's mergeMetrics: providers from the most specific Telemetry that names them, overrides
 * applied root → namespace → workload, later ones winning per metric and tag).
 */
import type { IstioMetricName, Telemetry, TelemetryMetrics } from '../../config/types.js';
import { findExtensionProvider, type MeshConfig } from '../../config/mesh-config.js';
import { modeApplies, type ListenerClass } from './build-telemetry-policy.js';

/** Telemetry API metric → the Prometheus metric name (without the istio_ prefix). */
export const PROMETHEUS_METRIC: Readonly<Record<Exclude<IstioMetricName, 'ALL_METRICS'>, string>> = Object.freeze({
  REQUEST_COUNT: 'requests_total',
  REQUEST_DURATION: 'request_duration_milliseconds',
  REQUEST_SIZE: 'request_bytes',
  RESPONSE_SIZE: 'response_bytes',
  TCP_OPENED_CONNECTIONS: 'tcp_connections_opened_total',
  TCP_CLOSED_CONNECTIONS: 'tcp_connections_closed_total',
  TCP_SENT_BYTES: 'tcp_sent_bytes_total',
  TCP_RECEIVED_BYTES: 'tcp_received_bytes_total',
  GRPC_REQUEST_MESSAGES: 'request_messages_total',
  GRPC_RESPONSE_MESSAGES: 'response_messages_total',
});

const STANDARD = Object.values(PROMETHEUS_METRIC);

/** One entry of stats.PluginConfig.metrics; no name = every standard metric. */
export interface MetricConfig {
  name?: string;
  dimensions?: Record<string, string>;
  tags_to_remove?: string[];
  drop?: boolean;
}

export interface MetricsPolicy {
  metrics: MetricConfig[];
}

interface Override {
  disabled?: boolean;
  tags: Map<string, { remove: boolean; value: string }>;
}

function providerNames(m: TelemetryMetrics): string[] {
  return (m.providers ?? []).map((p) => p.name);
}

function isPrometheus(mesh: MeshConfig, name: string): boolean {
  return findExtensionProvider(mesh, name)?.prometheus !== undefined;
}

/** Collapses identical overrides of every standard metric into one nameless entry. */
function toMetricConfigs(overrides: Map<string, Override>): MetricConfig[] {
  const out: MetricConfig[] = [];
  for (const [name, o] of [...overrides].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const tags = [...o.tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const mc: MetricConfig = { name };
    const dims = Object.fromEntries(tags.filter(([, t]) => !t.remove).map(([k, t]) => [k, t.value]));
    if (Object.keys(dims).length) mc.dimensions = dims;
    const remove = tags.filter(([, t]) => t.remove).map(([k]) => k);
    if (remove.length) mc.tags_to_remove = remove;
    if (o.disabled) mc.drop = true;
    if (Object.keys(mc).length > 1) out.push(mc); // an override that changes nothing is left out
  }
  const standard = out.filter((m) => STANDARD.includes(m.name!));
  const body = (m: MetricConfig) => JSON.stringify({ ...m, name: undefined });
  if (standard.length === STANDARD.length && standard.every((m) => body(m) === body(standard[0]))) {
    const { name: _name, ...all } = standard[0];
    return [all, ...out.filter((m) => !STANDARD.includes(m.name!))];
  }
  return out;
}

/**
 * The istio.stats configuration for this class, or undefined when Istio would not install the
 * filter (no prometheus provider in scope, or ALL_METRICS disabled).
 */
export function metricsPolicy(mesh: MeshConfig, telemetries: readonly Telemetry[], cls: ListenerClass): MetricsPolicy | undefined {
  const entries = telemetries.flatMap((t) => t.spec?.metrics ?? []);
  const defaults = mesh.defaultProviders?.metrics ?? [];
  let inScope = defaults;
  for (const m of entries) if (providerNames(m).length) inScope = providerNames(m);
  const prometheus = inScope.find((n) => isPrometheus(mesh, n));
  if (!prometheus) return undefined;

  const overrides = new Map<string, Override>();
  let disabledAll = false;
  let parent = defaults;
  for (const m of entries) {
    const names = providerNames(m).length ? providerNames(m) : parent;
    parent = names;
    if (!names.includes(prometheus)) continue;
    for (const o of m.overrides ?? []) {
      if (!modeApplies(o.match?.mode, cls)) continue;
      const metric = o.match?.customMetric ?? o.match?.metric ?? 'ALL_METRICS';
      if (metric === 'ALL_METRICS' && o.disabled === true) {
        disabledAll = true;
        continue;
      }
      // a more specific level re-enabling metrics undoes a broader ALL_METRICS disable
      disabledAll = false;
      const targets = metric === 'ALL_METRICS' ? STANDARD
        : [PROMETHEUS_METRIC[metric as keyof typeof PROMETHEUS_METRIC] ?? metric];
      for (const name of targets) {
        const cur: Override = overrides.get(name) ?? { tags: new Map() };
        if (o.disabled !== undefined) cur.disabled = o.disabled;
        for (const [tag, t] of Object.entries(o.tagOverrides ?? {})) {
          cur.tags.set(tag, t.operation === 'REMOVE' ? { remove: true, value: '' } : { remove: false, value: t.value ?? '' });
        }
        overrides.set(name, cur);
      }
    }
  }
  if (disabledAll) return undefined;
  return { metrics: toMetricConfigs(overrides) };
}
