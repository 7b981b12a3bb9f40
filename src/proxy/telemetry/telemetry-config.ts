/**
 * Telemetry configuration of one proxy, and its derivation from what xDS carries: the
 * HttpConnectionManager's `access_log` (file / stdout loggers with text or JSON formats) and
 * `tracing` (random_sampling + Zipkin or OpenTelemetry provider). Flags or the mesh config can
 * produce the same object directly.
 */
import type { TagOverrides } from './istio-metrics-labels.js';
import type { PropagationFormat } from './tracing-propagation.js';

export interface AccessLogConfig {
  /** file path, or /dev/stdout, /dev/stderr */
  path: string;
  /** text format string (Envoy command operators); default Istio's text format */
  format?: string;
  /** JSON encoding: true for Istio's default keys, or a key -> format dictionary */
  json?: boolean | Record<string, string>;
  maxBufferBytes?: number;
  flushIntervalMs?: number;
}

export interface TracingConfig {
  /** 0..100 */
  samplingPercent: number;
  zipkin?: { url: string };
  otlp?: { url: string };
  maxQueue?: number;
  batchSize?: number;
  flushIntervalMs?: number;
  propagation?: PropagationFormat[];
  /** SERVER spans reuse the caller's span id; default true with Zipkin only, else false */
  sharedSpanContext?: boolean;
}

export interface MetricsConfig {
  enabled: boolean;
  tagOverrides?: TagOverrides;
}

export interface TelemetryConfig {
  accessLog?: AccessLogConfig | AccessLogConfig[];
  tracing?: TracingConfig;
  metrics?: MetricsConfig;
  trustDomain?: string;
  clusterId?: string;
  meshId?: string;
}

/** collector cluster name -> `host:port` (the engine's cluster manager knows) */
export type ClusterResolver = (clusterName: string) => string | undefined;

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** google.protobuf.Struct in either plain or `{fields: {k: {string_value}}}` form -> plain map */
function structToStrings(v: unknown): Record<string, string> | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const fields = obj(o.fields);
  const src = fields ?? o;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(src)) {
    const vo = obj(val);
    if (typeof val === 'string') out[k] = val;
    else if (vo && typeof (vo.string_value ?? vo.stringValue) === 'string') out[k] = String(vo.string_value ?? vo.stringValue);
  }
  return out;
}

function accessLogFromXds(entry: unknown): AccessLogConfig | undefined {
  const tc = obj(obj(entry)?.typed_config);
  if (!tc) return undefined;
  const type = String(tc['@type'] ?? '');
  let path: string;
  if (type.endsWith('.FileAccessLog')) path = String(tc.path ?? '/dev/stdout');
  else if (type.endsWith('.StdoutAccessLog')) path = '/dev/stdout';
  else if (type.endsWith('.StderrAccessLog')) path = '/dev/stderr';
  else return undefined;
  const lf = obj(tc.log_format);
  const cfg: AccessLogConfig = { path };
  if (lf) {
    const text = obj(lf.text_format_source)?.inline_string ?? lf.text_format;
    if (typeof text === 'string') cfg.format = text;
    const json = structToStrings(lf.json_format);
    if (json) cfg.json = json;
  } else {
    if (typeof tc.format === 'string') cfg.format = tc.format;
    const json = structToStrings(tc.json_format);
    if (json) cfg.json = json;
  }
  return cfg;
}

function tracingFromXds(t: Obj, resolve: ClusterResolver): TracingConfig | undefined {
  const pct = obj(t.random_sampling)?.value;
  const provider = obj(obj(t.provider)?.typed_config);
  const cfg: TracingConfig = { samplingPercent: typeof pct === 'number' ? pct : 1 };
  if (!provider) return undefined;
  const type = String(provider['@type'] ?? '');
  if (type.endsWith('.ZipkinConfig')) {
    const hostPort = resolve(String(provider.collector_cluster ?? ''));
    if (!hostPort) return undefined;
    const path = typeof provider.collector_endpoint === 'string' ? provider.collector_endpoint : '/api/v2/spans';
    cfg.zipkin = { url: `http://${hostPort}${path}` };
    const shared = obj(provider.shared_span_context)?.value;
    if (typeof shared === 'boolean') cfg.sharedSpanContext = shared;
  } else if (type.endsWith('.OpenTelemetryConfig')) {
    const httpUri = obj(obj(provider.http_service)?.http_uri);
    const uri = httpUri?.uri;
    if (typeof uri === 'string' && /^https?:\/\//.test(uri)) cfg.otlp = { url: uri };
    else {
      // uri may be a bare path; the collector address comes from the cluster
      const hostPort = typeof httpUri?.cluster === 'string' ? resolve(httpUri.cluster) : undefined;
      if (!hostPort) return undefined;
      cfg.otlp = { url: `http://${hostPort}${typeof uri === 'string' && uri.startsWith('/') ? uri : '/v1/traces'}` };
    }
  } else return undefined;
  return cfg;
}

/**
 * The telemetry part of a decoded HttpConnectionManager (or TcpProxy: access_log only).
 * Metrics are always on (Istio's stats filter); unknown loggers/providers are ignored.
 */
export function telemetryConfigFromXds(filter: unknown, resolve: ClusterResolver): TelemetryConfig {
  const f = obj(filter) ?? {};
  const logs = (Array.isArray(f.access_log) ? f.access_log : []).map(accessLogFromXds).filter((x): x is AccessLogConfig => !!x);
  const t = obj(f.tracing);
  const cfg: TelemetryConfig = { metrics: { enabled: true } };
  if (logs.length) cfg.accessLog = logs;
  const tracing = t ? tracingFromXds(t, resolve) : undefined;
  if (tracing) cfg.tracing = tracing;
  return cfg;
}
