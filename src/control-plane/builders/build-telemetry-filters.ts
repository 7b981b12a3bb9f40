/**
 * Telemetry as xDS (the contract with the proxy): HttpConnectionManager/TcpProxy `access_log`
 * file loggers (with the Telemetry filter expression as a CEL extension filter), HCM `tracing` (Zipkin or OpenTelemetry over HTTP, collector as a CDS cluster),
 * and Istio's stats filter `istio.stats` (a TypedStruct of stats.PluginConfig) placed before the
 * router (HTTP) or the tcp_proxy (TCP).
 */
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { jsonToStruct } from '../../xds/struct.js';
import {
  CEL_EXPRESSION_FILTER_TYPE, FILE_ACCESS_LOG_TYPE, ISTIO_STATS_TYPE, OPENTELEMETRY_CONFIG_TYPE, TYPED_STRUCT_TYPE, ZIPKIN_CONFIG_TYPE,
} from '../../xds/type-urls.js';
import type { PushContext } from '../push-context.js';
import { metricsPolicy, type MetricsPolicy } from './build-telemetry-metrics.js';
import {
  accessLogPolicy, applicableTelemetries, tracingPolicy, type AccessLogPolicy, type ListenerClass, type TracingPolicy,
} from './build-telemetry-policy.js';

export const STATS_FILTER = 'istio.stats';
/** Envoy's name of the CEL access-log filter extension, as Istio emits it */
export const CEL_ACCESS_LOG_FILTER = 'envoy.access_loggers.extension_filters.cel';

/** What one listener class of one proxy carries; built once per LDS build. */
export interface ListenerTelemetry {
  accessLog: EnvoyResource[];
  tracing?: EnvoyResource;
  /** istio.stats HTTP filter (goes right before the router) */
  httpStats?: EnvoyResource;
  /** istio.stats network filter (goes right before tcp_proxy) */
  tcpStats?: EnvoyResource;
}

export function accessLogEntry(p: AccessLogPolicy): EnvoyResource {
  const logFormat = 'text' in p.format
    ? { text_format_source: { inline_string: p.format.text } }
    : { json_format: jsonToStruct(p.format.json) };
  const entry: EnvoyResource = {
    name: 'envoy.access_loggers.file',
    typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path: p.path, log_format: logFormat },
  };
  // Istio: the Telemetry filter expression as Envoy's CEL access-log extension filter
  if (p.filter) {
    entry.filter = {
      extension_filter: {
        name: CEL_ACCESS_LOG_FILTER,
        typed_config: { '@type': CEL_EXPRESSION_FILTER_TYPE, expression: p.filter },
      },
    };
  }
  return entry;
}

export function tracingConfig(t: TracingPolicy): EnvoyResource {
  let provider: EnvoyResource;
  if (t.kind === 'zipkin') {
    provider = {
      name: 'envoy.tracers.zipkin',
      typed_config: {
        '@type': ZIPKIN_CONFIG_TYPE,
        collector_cluster: t.collector.cluster,
        collector_endpoint: t.path,
        collector_endpoint_version: 'HTTP_JSON',
        trace_id_128bit: !t.trace64bit,
        shared_span_context: { value: false },
      },
    };
  } else {
    const seconds = Math.floor((t.timeoutMs ?? 5000) / 1000);
    const nanos = ((t.timeoutMs ?? 5000) % 1000) * 1e6;
    provider = {
      name: 'envoy.tracers.opentelemetry',
      typed_config: {
        '@type': OPENTELEMETRY_CONFIG_TYPE,
        http_service: {
          http_uri: {
            uri: `http://${t.collector.host}:${t.collector.port}${t.path.startsWith('/') ? t.path : `/${t.path}`}`,
            cluster: t.collector.cluster,
            timeout: nanos ? { seconds, nanos } : { seconds },
          },
        },
      },
    };
  }
  const cfg: EnvoyResource = { random_sampling: { value: t.samplingPercent }, provider };
  if (t.maxPathTagLength) cfg.max_path_tag_length = { value: t.maxPathTagLength };
  const tags = Object.entries(t.customTags ?? {}).flatMap(([tag, v]): EnvoyResource[] => {
    if (v.literal) return [{ tag, literal: { value: v.literal.value } }];
    if (v.environment) return [{ tag, environment: { name: v.environment.name, ...(v.environment.defaultValue ? { default_value: v.environment.defaultValue } : {}) } }];
    if (v.header) return [{ tag, request_header: { name: v.header.name, ...(v.header.defaultValue ? { default_value: v.header.defaultValue } : {}) } }];
    return [];
  });
  if (tags.length) cfg.custom_tags = tags;
  return cfg;
}

/** The TypedStruct carrying stats.PluginConfig. */
export function statsTypedConfig(m: MetricsPolicy, cls: ListenerClass): EnvoyResource {
  const value: Record<string, unknown> = {};
  // Istio: inbound and gateways never take the destination service from the Host header
  if (cls !== 'outbound') value.disable_host_header_fallback = true;
  if (m.metrics.length) value.metrics = m.metrics;
  // an empty Struct is `{}` on the wire (no fields map), so write it that way
  return { '@type': TYPED_STRUCT_TYPE, type_url: ISTIO_STATS_TYPE, value: Object.keys(value).length ? jsonToStruct(value) : {} };
}

export function listenerTelemetry(pc: PushContext, proxy: ProxyIdentity, cls: ListenerClass): ListenerTelemetry {
  const telemetries = applicableTelemetries(pc, proxy);
  const out: ListenerTelemetry = { accessLog: accessLogPolicy(pc, telemetries, cls).map(accessLogEntry) };
  const tracing = tracingPolicy(pc, telemetries, cls);
  if (tracing) out.tracing = tracingConfig(tracing);
  const metrics = metricsPolicy(pc.meshConfig, telemetries, cls);
  if (metrics) {
    const typed = statsTypedConfig(metrics, cls);
    out.httpStats = { name: STATS_FILTER, typed_config: typed };
    out.tcpStats = { name: STATS_FILTER, typed_config: typed };
  }
  return out;
}

/** The tracing collectors a proxy's listeners send spans to (for CDS). */
export function tracingCollectors(pc: PushContext, proxy: ProxyIdentity): TracingPolicy[] {
  const telemetries = applicableTelemetries(pc, proxy);
  const classes: ListenerClass[] = proxy.type === 'router' ? ['gateway'] : ['outbound', 'inbound'];
  return classes.map((c) => tracingPolicy(pc, telemetries, c)).filter((t): t is TracingPolicy => t !== undefined);
}
