/**
 * HttpConnectionManager typed_config -> HcmConfig, parsed once per LDS update: route source (RDS
 * provider or inline), the HTTP filter chain (factories from the explicit registry; unknown
 * non-optional types reject the listener), request-id/XFF/limits options, and telemetry: the
 * HCM's access_log and tracing plus the istio.stats filter's metrics, resolved into one
 * HttpTelemetry (none of them: no telemetry work per request).
 */
import { DEFAULT_H2_KEEPALIVE, type H2Keepalive } from '../codec/h2-session-keepalive.js';
import { durationToMs } from '../../xds/codec.js';
import { nodeCluster } from '../../xds/node-metadata.js';
import { fail } from '../core/errors.js';
import type { HttpFilterConfig, HttpFilterParseContext, SharedFilterResources } from '../filter-api/http-filter.js';
import { SharedResources } from '../filter-api/shared-resources.js';
import { filterConfigOf, filterTypeUrl, findFilterFactory } from '../filters/registry.js';
import { HcmStats } from '../telemetry/stats-hcm.js';
import type { MetricsConfig } from '../telemetry/telemetry-config.js';
import type { TelemetryRuntime } from '../telemetry/telemetry-runtime.js';
import type { HttpTelemetry } from '../telemetry/telemetry-stream.js';
import { RouteConfig, type PerFilterParser } from '../router/route-config.js';
import { parseXfcc, type XfccConfig } from './xfcc.js';
import type { ClusterResolver } from '../upstream/cluster-slot.js';
import { pathNormalization, type EscapedSlashesAction, type PathNormalization } from './path-normalize.js';
import { parseHcmUpgrades, type UpgradeMap } from '../router/upgrade-config.js';
import { DEFAULT_MAX_HEADERS_COUNT } from '../codec/codec-http1-server.js';

/** A route configuration by name; RDS swaps `config` in place so HCMs never look it up. */
export interface RouteProvider {
  readonly name: string;
  config: RouteConfig | undefined;
  version: string;
  raw: Record<string, any> | undefined;
  lastUpdated: Date | undefined;
}

export interface HcmConfig {
  statPrefix: string;
  routes: RouteProvider;
  filters: HttpFilterConfig[];
  /** a filter of the chain has body hooks (decodeData/decodeTrailers): the body goes through them */
  decodesBody: boolean;
  /** a filter of the chain has encodeData/encodeTrailers */
  encodesBody: boolean;
  generateRequestId: boolean;
  preserveExternalRequestId: boolean;
  useRemoteAddress: boolean;
  skipXffAppend: boolean;
  maxRequestHeadersKb: number;
  /** common_http_protocol_options.max_headers_count (Envoy's default 100): more fields get 431 */
  maxHeadersCount: number;
  /** upgrade_configs: the Upgrade types this HCM carries (routes may override) */
  upgrades: UpgradeMap;
  /**
   * the listener's per_connection_buffer_limit_bytes (Envoy's default 1 MiB): the most request
   * body the router buffers for retries and mirroring unless the route sets its own
   */
  bufferLimitBytes: number;
  /** http2_protocol_options.connection_keepalive for downstream HTTP/2 sessions (codec/h2-session-keepalive.ts) */
  h2Keepalive: H2Keepalive;
  streamIdleTimeoutMs: number;
  requestTimeoutMs: number;
  http2: boolean;
  /** normalize_path, merge_slashes, path_with_escaped_slashes_action; undefined: the path is left as sent (fragment dropped) */
  pathNormalization: PathNormalization | undefined;
  /** for cluster_header routes */
  resolveCluster: ClusterResolver;
  /** Istio metrics (istio.stats filter), access logs, tracing; undefined when none is configured */
  telemetry: HttpTelemetry | undefined;
  /** peer metadata exchange (always on in a proxy; undefined without a telemetry runtime) */
  peers: TelemetryRuntime | undefined;
  /** http.<stat_prefix>.* */
  stats: HcmStats | undefined;
  /** forward_client_cert_details / set_current_client_cert_details */
  xfcc: XfccConfig;
}

export interface HcmParseContext {
  rdsProvider(name: string): RouteProvider;
  resolveCluster: ClusterResolver;
  perFilterParser: PerFilterParser;
  /** the proxy's telemetry (stats store, peer identity, shared log writers and exporters) */
  telemetry?: TelemetryRuntime;
  /** objects filters keep across listener updates (JWKS caches, gRPC channels); default: none kept */
  shared?: SharedFilterResources;
}

export function parseHcm(tc: Record<string, any>, ctx: HcmParseContext): HcmConfig {
  let routes: RouteProvider;
  if (tc.rds) {
    const name = String(tc.rds.route_config_name ?? '');
    if (!name) fail('HttpConnectionManager rds without route_config_name');
    routes = ctx.rdsProvider(name);
  } else if (tc.route_config) {
    routes = {
      name: String(tc.route_config.name ?? ''),
      config: new RouteConfig(tc.route_config, ctx.resolveCluster, ctx.perFilterParser),
      version: '',
      raw: undefined,
      lastUpdated: undefined,
    };
  } else {
    fail('HttpConnectionManager without rds or route_config');
  }
  const filters: HttpFilterConfig[] = [];
  const filterCtx: HttpFilterParseContext = { resolveCluster: ctx.resolveCluster, shared: ctx.shared ?? new SharedResources(), stats: ctx.telemetry?.stats, statPrefix: String(tc.stat_prefix ?? ''),
    ...(ctx.telemetry ? { localCluster: nodeCluster(ctx.telemetry.identity) } : {}),
  };
  let metrics: MetricsConfig | undefined;
  const list = (tc.http_filters ?? []) as Array<Record<string, any>>;
  list.forEach((f, i) => {
    const name = String(f.name ?? '');
    if (f.disabled === true) return;
    const typed = f.typed_config as Record<string, any> | undefined;
    const typeUrl = filterTypeUrl(typed);
    const factory = findFilterFactory(typeUrl);
    if (!factory) {
      if (f.is_optional === true) return;
      fail(`Didn't find a registered implementation for '${name}' with type URL: '${typeUrl.replace('type.googleapis.com/', '')}'`);
    }
    if (factory.typeUrls[0].endsWith('router.v3.Router') && i !== list.length - 1) fail('the router filter must be the last HTTP filter');
    const cfg = factory.parse(filterConfigOf(typed), name, filterCtx);
    // istio.stats records when the stream completes: it lives in the HCM's telemetry, not per request
    if (cfg.completionOnly) metrics = (cfg as unknown as { metrics: MetricsConfig }).metrics;
    else filters.push(cfg);
  });
  if (filters.length === 0 || !list.some((f) => String(f.typed_config?.['@type'] ?? '').endsWith('router.v3.Router'))) {
    fail('HttpConnectionManager without a router filter');
  }
  const rt = ctx.telemetry;
  const statPrefix = String(tc.stat_prefix ?? '');
  return {
    statPrefix,
    routes,
    filters,
    decodesBody: filters.some((f) => f.decodesBody === true),
    encodesBody: filters.some((f) => f.encodesBody === true),
    generateRequestId: tc.generate_request_id?.value !== false,
    preserveExternalRequestId: tc.preserve_external_request_id === true,
    useRemoteAddress: tc.use_remote_address?.value === true,
    skipXffAppend: tc.skip_xff_append === true,
    maxRequestHeadersKb: Number(tc.max_request_headers_kb?.value ?? 60),
    maxHeadersCount: maxHeadersCount(tc.common_http_protocol_options?.max_headers_count),
    upgrades: parseHcmUpgrades(tc.upgrade_configs),
    bufferLimitBytes: DEFAULT_BUFFER_LIMIT_BYTES,
    h2Keepalive: parseH2Keepalive(tc.http2_protocol_options?.connection_keepalive),
    streamIdleTimeoutMs: durationToMs(tc.stream_idle_timeout) ?? 300_000,
    requestTimeoutMs: durationToMs(tc.request_timeout) ?? 0,
    http2: tc.codec_type === 'HTTP2',
    pathNormalization: parsePathNormalization(tc),
    resolveCluster: ctx.resolveCluster,
    telemetry: rt?.httpFromXds(tc, metrics),
    peers: rt,
    stats: rt ? new HcmStats(rt.stats, statPrefix) : undefined,
    xfcc: parseXfcc(tc),
  };
}

/** KeepaliveSettings: interval (required, at least 1 ms as Envoy validates), timeout (Envoy's default 20 s); none set: Clew's default */
function parseH2Keepalive(k: Record<string, any> | undefined): H2Keepalive {
  if (k === undefined || k === null) return DEFAULT_H2_KEEPALIVE;
  const intervalMs = durationToMs(k.interval) ?? 0;
  if (intervalMs < 1) fail('HttpConnectionManager http2_protocol_options.connection_keepalive.interval: must be at least 1ms');
  const timeoutMs = durationToMs(k.timeout) ?? 20_000;
  if (timeoutMs < 1) fail('HttpConnectionManager http2_protocol_options.connection_keepalive.timeout: must be at least 1ms');
  return { intervalMs, timeoutMs };
}

/** Envoy's default per_connection_buffer_limit_bytes */
export const DEFAULT_BUFFER_LIMIT_BYTES = 1024 * 1024;

const ESCAPED_SLASHES: Record<string, EscapedSlashesAction> = {
  IMPLEMENTATION_SPECIFIC_DEFAULT: 'KEEP_UNCHANGED',
  KEEP_UNCHANGED: 'KEEP_UNCHANGED',
  REJECT_REQUEST: 'REJECT_REQUEST',
  UNESCAPE_AND_REDIRECT: 'UNESCAPE_AND_REDIRECT',
  UNESCAPE_AND_FORWARD: 'UNESCAPE_AND_FORWARD',
};
const ESCAPED_SLASHES_BY_NUMBER = Object.keys(ESCAPED_SLASHES);

/** The HCM's path options (Envoy's defaults: all off). Security-relevant, so anything unknown is a NACK. */
function parsePathNormalization(tc: Record<string, any>): PathNormalization | undefined {
  if (tc.path_normalization_options !== undefined && tc.path_normalization_options !== null) {
    fail('HttpConnectionManager path_normalization_options is not supported (use normalize_path, merge_slashes, path_with_escaped_slashes_action)');
  }
  const normalize = tc.normalize_path?.value === true;
  const mergeSlashes = tc.merge_slashes === true;
  let raw = tc.path_with_escaped_slashes_action ?? 'IMPLEMENTATION_SPECIFIC_DEFAULT';
  if (typeof raw === 'number') raw = ESCAPED_SLASHES_BY_NUMBER[raw] ?? raw;
  const escapedSlashes = ESCAPED_SLASHES[String(raw)];
  if (escapedSlashes === undefined) fail(`HttpConnectionManager path_with_escaped_slashes_action: unknown value ${JSON.stringify(raw)}`);
  if (!normalize && !mergeSlashes && escapedSlashes === 'KEEP_UNCHANGED') return undefined;
  return pathNormalization(normalize, mergeSlashes, escapedSlashes);
}

/** max_headers_count: a UInt32Value at least 1 (Envoy's validation), 100 when unset */
function maxHeadersCount(v: { value?: unknown } | undefined): number {
  if (v === undefined || v === null || v.value === undefined) return DEFAULT_MAX_HEADERS_COUNT;
  const n = Number(v.value);
  if (!Number.isInteger(n) || n < 1) fail(`HttpConnectionManager common_http_protocol_options.max_headers_count: must be at least 1 (got ${String(v.value)})`);
  return n;
}
