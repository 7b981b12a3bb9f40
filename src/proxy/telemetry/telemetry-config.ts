/**
 * Telemetry configuration of one proxy, and its derivation from what xDS carries: the
 * HttpConnectionManager's `access_log` (file / stdout loggers with text or JSON formats) and
 * `tracing` (random_sampling + Zipkin or OpenTelemetry provider), plus the metrics options the
 * istio.stats filter carries (parsed in filters/stats). Tests can build the same object directly.
 */
import type { TagOverrides } from './istio-metrics-labels.js';
import { ENVOY_DEFAULT_FORMAT } from './access-log-format.js';
import type { PropagationFormat } from './tracing-propagation.js';
import type { CustomTag } from './tracing-tracer.js';
import { fail } from '../core/errors.js';
import { compileAccessLogFilter, type AccessLogPredicate } from './access-log-filter.js';

export interface AccessLogConfig {
  /** file path, or /dev/stdout, /dev/stderr */
  path: string;
  /** text format string (Envoy command operators); default Istio's text format */
  format?: string;
  /** JSON encoding: true for Istio's default keys, or a key -> format dictionary */
  json?: boolean | Record<string, string>;
  maxBufferBytes?: number;
  flushIntervalMs?: number;
  /** the logger's AccessLogFilter: only what it passes is written */
  filter?: AccessLogPredicate;
}

/**
 * A span collector: `url` gives the path and Host header; with `cluster` the POST goes to a host
 * of that cluster (Envoy's collector_cluster), chosen when a batch is sent, so a cluster whose
 * endpoints arrive after the listener still works.
 */
export interface CollectorConfig {
  url: string;
  cluster?: string;
}

export interface TracingConfig {
  /** 0..100 */
  samplingPercent: number;
  zipkin?: CollectorConfig;
  otlp?: CollectorConfig;
  maxQueue?: number;
  batchSize?: number;
  flushIntervalMs?: number;
  propagation?: PropagationFormat[];
  /** SERVER spans reuse the caller's span id; default true with Zipkin only, else false */
  sharedSpanContext?: boolean;
  customTags?: CustomTag[];
  maxPathTagLength?: number;
}

/** Istio's standard metrics of one listener (present when its istio.stats filter is). */
export interface MetricsConfig {
  enabled: boolean;
  tagOverrides?: TagOverrides;
  /** no `:authority` fallback for destination_service when the cluster does not name it */
  disableHostHeaderFallback?: boolean;
  /** full metric names (e.g. istio_request_bytes) that are not recorded */
  dropped?: string[];
  /** open TCP connections report their byte counters this often (Istio: 15 s) */
  tcpReportingMs?: number;
}

export interface TelemetryConfig {
  accessLog?: AccessLogConfig | AccessLogConfig[];
  tracing?: TracingConfig;
  metrics?: MetricsConfig;
  trustDomain?: string;
  clusterId?: string;
  meshId?: string;
}

/** collector cluster name -> `host:port`, when it is known at config time (tests, flags) */
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

function accessLogFromXds(entry: unknown, index: number): AccessLogConfig {
  const where = `access_log[${index}]`;
  const tc = obj(obj(entry)?.typed_config);
  if (!tc) fail(`${where}: no typed_config`);
  const type = String(tc['@type'] ?? '');
  let path: string;
  if (type.endsWith('.FileAccessLog')) path = String(tc.path ?? '/dev/stdout');
  else if (type.endsWith('.StdoutAccessLog')) path = '/dev/stdout';
  else if (type.endsWith('.StderrAccessLog')) path = '/dev/stderr';
  else fail(`${where} ${String(obj(entry)?.name ?? '')}: access logger ${type || '(no type)'} not implemented by this proxy`);
  const filter = obj(obj(entry)?.filter);
  const lf = obj(tc.log_format);
  const cfg: AccessLogConfig = { path };
  if (filter) cfg.filter = compileAccessLogFilter(filter, `${where}.filter`);
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
  // a logger without a format uses Envoy's default one
  if (cfg.format === undefined && cfg.json === undefined) cfg.format = ENVOY_DEFAULT_FORMAT;
  return cfg;
}

/**
 * The authority of collector requests when only the cluster is known: Istio's
 * `outbound|<port>||<host>` gives `<host>:<port>`, a host-like name is used as is (Envoy's
 * collector hostname defaults to the cluster name), anything else `localhost`.
 */
export function collectorAuthority(cluster: string): string {
  const m = /^outbound\|(\d+)\|[^|]*\|(.+)$/.exec(cluster);
  if (m) return `${m[2]}:${m[1]}`;
  return /^[A-Za-z0-9.-]+(:\d+)?$/.test(cluster) ? cluster : 'localhost';
}

function collector(cluster: unknown, uriOrPath: unknown, defaultPath: string, resolve?: ClusterResolver): CollectorConfig | undefined {
  const c = typeof cluster === 'string' && cluster !== '' ? cluster : undefined;
  const u = typeof uriOrPath === 'string' ? uriOrPath : '';
  const fixed = c ? resolve?.(c) : undefined;
  if (/^https?:\/\//.test(u)) {
    if (fixed) return { url: u.replace(/^(https?:\/\/)[^/]*/, `$1${fixed}`) };
    return c ? { url: u, cluster: c } : { url: u };
  }
  if (!c) return undefined;
  const path = u.startsWith('/') ? u : defaultPath;
  return fixed ? { url: `http://${fixed}${path}` } : { url: `http://${collectorAuthority(c)}${path}`, cluster: c };
}

function tracingFromXds(t: Obj, resolve?: ClusterResolver): TracingConfig | undefined {
  const pct = obj(t.random_sampling)?.value;
  const provider = obj(obj(t.provider)?.typed_config);
  const cfg: TracingConfig = { samplingPercent: typeof pct === 'number' ? pct : 1 };
  if (!provider) return undefined;
  const type = String(provider['@type'] ?? '');
  if (type.endsWith('.ZipkinConfig')) {
    const z = collector(provider.collector_cluster, provider.collector_endpoint ?? '/api/v2/spans', '/api/v2/spans', resolve);
    if (!z) return undefined;
    cfg.zipkin = z;
    const shared = obj(provider.shared_span_context)?.value;
    if (typeof shared === 'boolean') cfg.sharedSpanContext = shared;
  } else if (type.endsWith('.OpenTelemetryConfig')) {
    const httpUri = obj(obj(provider.http_service)?.http_uri);
    const o = collector(httpUri?.cluster, httpUri?.uri, '/v1/traces', resolve);
    if (!o) return undefined;
    cfg.otlp = o;
  } else return undefined;
  const tags = (Array.isArray(t.custom_tags) ? t.custom_tags : []).map(customTagFromXds).filter((x): x is CustomTag => !!x);
  if (tags.length) cfg.customTags = tags;
  const maxPath = obj(t.max_path_tag_length)?.value;
  if (typeof maxPath === 'number' && maxPath > 0) cfg.maxPathTagLength = maxPath;
  return cfg;
}

function customTagFromXds(v: unknown): CustomTag | undefined {
  const o = obj(v);
  const tag = o?.tag;
  if (typeof tag !== 'string' || tag === '') return undefined;
  const lit = obj(o!.literal);
  if (lit && typeof lit.value === 'string') return { tag, literal: lit.value };
  const env = obj(o!.environment);
  if (env && typeof env.name === 'string') {
    return { tag, environment: { name: env.name, ...(typeof env.default_value === 'string' ? { defaultValue: env.default_value } : {}) } };
  }
  const h = obj(o!.request_header);
  if (h && typeof h.name === 'string') {
    return { tag, requestHeader: { name: h.name, ...(typeof h.default_value === 'string' ? { defaultValue: h.default_value } : {}) } };
  }
  return undefined;
}

/**
 * The telemetry part of a decoded HttpConnectionManager (or TcpProxy: access_log only): access
 * logs and tracing. Istio metrics are not in it: they come from the istio.stats filter
 * (filters/stats). An access logger or log filter this proxy does not implement rejects the
 * config (ProxyConfigError, a NACK); an unknown tracing provider is ignored. `resolve` pins collector clusters to
 * an address at config time; without it they are resolved when spans are sent.
 */
export function telemetryConfigFromXds(filter: unknown, resolve?: ClusterResolver): TelemetryConfig {
  const f = obj(filter) ?? {};
  const logs = (Array.isArray(f.access_log) ? f.access_log : []).map(accessLogFromXds);
  const t = obj(f.tracing);
  const cfg: TelemetryConfig = {};
  if (logs.length) cfg.accessLog = logs;
  const tracing = t ? tracingFromXds(t, resolve) : undefined;
  if (tracing) cfg.tracing = tracing;
  return cfg;
}
