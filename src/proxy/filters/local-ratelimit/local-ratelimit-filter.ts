/**
 * envoy.filters.http.local_ratelimit: a token bucket per filter (listener level; per-route
 * buckets are NACKed, not implemented yet). `filter_enabled` is the share of requests checked and
 * `filter_enforced` the share of those refused (both 0% when absent, as Envoy); a refused request
 * is 429 `local_rate_limited` with flag RL (gRPC: UNAVAILABLE, or RESOURCE_EXHAUSTED with
 * `rate_limited_as_resource_exhausted`) and `response_headers_to_add`; `enable_x_ratelimit_headers:
 * DRAFT_VERSION_03` adds x-ratelimit-limit/remaining/reset to responses. Counters
 * `<stat_prefix>.http_local_rate_limit.{enabled,enforced,rate_limited,ok}`. Buckets live in the
 * proxy's shared filter resources, so a listener update does not refill them. Descriptors,
 * per-connection buckets and cluster-wide sharing are NACKed (not implemented).
 */
import { LOCAL_RATELIMIT_TYPE } from '../../../xds/type-urls.js';
import type { Counter } from '../../../stats/stats-store.js';
import { fail } from '../../core/errors.js';
import type { HeaderMap } from '../../core/header-map.js';
import { checkHeaderValue } from '../../router/header-ops.js';
import type { FilterHeadersStatus, HttpFilter, HttpFilterCallbacks, HttpFilterConfig, HttpFilterFactory, HttpFilterParseContext, SharedFilterResources } from '../../filter-api/http-filter.js';
import { fractionOf } from '../fault/fault-config.js';
import { parseTokenBucket, TokenBucket } from './token-bucket.js';

const KNOWN = new Set([
  '@type', 'stat_prefix', 'status', 'token_bucket', 'filter_enabled', 'filter_enforced', 'request_headers_to_add_when_not_enforced',
  'response_headers_to_add', 'stage', 'enable_x_ratelimit_headers', 'vh_rate_limits', 'always_consume_default_token_bucket',
  'rate_limited_as_resource_exhausted', 'local_rate_limit_per_downstream_connection', 'descriptors',
]);

interface Counters {
  enabled: Counter | undefined;
  enforced: Counter | undefined;
  rateLimited: Counter | undefined;
  ok: Counter | undefined;
}

export interface LocalRateLimitSettings {
  bucket: TokenBucket | undefined;
  status: number;
  enabled: number;
  enforced: number;
  responseHeaders: Array<[string, string, boolean]>;
  headersWhenNotEnforced: Array<[string, string, boolean]>;
  xRateLimitHeaders: boolean;
  resourceExhausted: boolean;
  counters: Counters;
}

function headerOptions(list: unknown, where: string): Array<[string, string, boolean]> {
  return ((list ?? []) as Array<Record<string, any>>).map((h, i) => {
    const key = String(h.header?.key ?? '').toLowerCase();
    if (!key) fail(`${where}[${i}].header.key is required`);
    const value = checkHeaderValue(`${where}[${i}].header.value`, String(h.header?.value ?? ''));
    // append (deprecated BoolValue) or append_action: appending is the default
    const append = h.append_action ? h.append_action === 'APPEND_IF_EXISTS_OR_ADD' : h.append?.value !== false && h.append !== false;
    return [key, value, append];
  });
}

function addHeaders(h: HeaderMap, list: Array<[string, string, boolean]>): void {
  for (const [k, v, append] of list) {
    const cur = h[k];
    if (append && cur !== undefined) h[k] = Array.isArray(cur) ? [...cur, v] : [cur, v];
    else h[k] = v;
  }
}

export function parseLocalRateLimit(c: Record<string, any>, where: string, shared: SharedFilterResources, stats: HttpFilterParseContext['stats'], key: string): LocalRateLimitSettings {
  for (const k of Object.keys(c)) if (!KNOWN.has(k) && c[k] !== undefined) fail(`${where}.${k} is not implemented by this proxy`);
  if ((c.descriptors ?? []).length > 0) fail(`${where}.descriptors is not implemented by this proxy`);
  if (c.local_rate_limit_per_downstream_connection === true) fail(`${where}.local_rate_limit_per_downstream_connection is not implemented by this proxy`);
  if (c.vh_rate_limits !== undefined && c.vh_rate_limits !== 'OVERRIDE') fail(`${where}.vh_rate_limits ${c.vh_rate_limits} is not implemented by this proxy`);
  if (Number(c.stage ?? 0) !== 0) fail(`${where}.stage: only stage 0 is implemented by this proxy`);
  const statPrefix = String(c.stat_prefix ?? '');
  if (!statPrefix) fail(`${where}.stat_prefix is required`);
  const xr = c.enable_x_ratelimit_headers ?? 'OFF';
  if (xr !== 'OFF' && xr !== 'DRAFT_VERSION_03') fail(`${where}.enable_x_ratelimit_headers: ${xr} is not implemented`);
  const status = Number(c.status?.code ?? 429);
  if (!(status >= 400 && status < 600)) fail(`${where}.status: ${status} is not an error status`);
  let bucket: TokenBucket | undefined;
  if (c.token_bucket !== undefined) {
    const b = parseTokenBucket(c.token_bucket, `${where}.token_bucket`);
    bucket = shared.get(`local_ratelimit:${key}:${b.maxTokens}:${b.tokensPerFill}:${b.fillMs}`, () => new TokenBucket(b.maxTokens, b.tokensPerFill, b.fillMs));
  }
  const s = stats?.scope(`${statPrefix}.http_local_rate_limit.`);
  return {
    bucket,
    status,
    // RuntimeFractionalPercent: Clew has no runtime layer, the default value applies
    enabled: c.filter_enabled ? fractionOf(c.filter_enabled.default_value) : 0,
    enforced: c.filter_enforced ? fractionOf(c.filter_enforced.default_value) : 0,
    responseHeaders: headerOptions(c.response_headers_to_add, `${where}.response_headers_to_add`),
    headersWhenNotEnforced: headerOptions(c.request_headers_to_add_when_not_enforced, `${where}.request_headers_to_add_when_not_enforced`),
    xRateLimitHeaders: xr === 'DRAFT_VERSION_03',
    resourceExhausted: c.rate_limited_as_resource_exhausted === true,
    counters: { enabled: s?.counter('enabled'), enforced: s?.counter('enforced'), rateLimited: s?.counter('rate_limited'), ok: s?.counter('ok') },
  };
}

class LocalRateLimitFilter implements HttpFilter {
  private applied: LocalRateLimitSettings | undefined;
  constructor(private readonly cfg: LocalRateLimitConfig) {}

  decodeHeaders(cb: HttpFilterCallbacks): FilterHeadersStatus {
    const s = this.cfg.settings;
    const bucket = s.bucket;
    if (bucket === undefined) return 'continue';
    if (s.enabled < 1 && Math.random() >= s.enabled) return 'continue';
    s.counters.enabled?.inc();
    this.applied = s;
    if (bucket.consume()) {
      s.counters.ok?.inc();
      return 'continue';
    }
    s.counters.rateLimited?.inc();
    if (s.enforced < 1 && Math.random() >= s.enforced) {
      addHeaders(cb.headers, s.headersWhenNotEnforced);
      return 'continue';
    }
    s.counters.enforced?.inc();
    const headers: HeaderMap = {};
    addHeaders(headers, s.responseHeaders);
    cb.sendLocalReply(s.status, 'local_rate_limited', 'RL', {
      details: 'local_rate_limited',
      headers,
      grpcStatus: s.resourceExhausted ? 8 : 14,
    });
    return 'stop';
  }

  encodeHeaders(_cb: HttpFilterCallbacks, _status: number, h: HeaderMap): void {
    const s = this.applied;
    if (s === undefined || !s.xRateLimitHeaders || s.bucket === undefined) return;
    h['x-ratelimit-limit'] = String(s.bucket.maxTokens);
    h['x-ratelimit-remaining'] = String(s.bucket.remaining);
    h['x-ratelimit-reset'] = String(s.bucket.resetSeconds);
  }
}

export class LocalRateLimitConfig implements HttpFilterConfig {
  constructor(readonly name: string, readonly settings: LocalRateLimitSettings) {}
  create(): HttpFilter {
    return new LocalRateLimitFilter(this);
  }
}

/** Per-route buckets (typed_per_filter_config) are not implemented yet: such a route is NACKed by the registry. */
export const localRateLimitFilterFactory: HttpFilterFactory = {
  typeUrls: [LOCAL_RATELIMIT_TYPE],
  perRouteTypeUrls: [],
  parse: (c, name, ctx) => new LocalRateLimitConfig(name, parseLocalRateLimit(c, name || 'local_ratelimit', ctx.shared, ctx.stats, `${ctx.statPrefix ?? ''}:${name}`)),
};
