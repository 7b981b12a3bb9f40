/**
 * envoy.filters.http.ratelimit: global rate limiting through a rate limit service (Envoy's RLS v3,
 * e.g. `clew ratelimit` or envoyproxy/ratelimit). Once a request's headers are in, the matched
 * route's `rate_limits` of the filter's stage (and its virtual host's: when the route has none,
 * or with include_vh_rate_limits) give descriptors (src/proxy/router/rate-limit-policy.ts); none:
 * the request goes on without a call. Otherwise one ShouldRateLimit call through the proxy's
 * gRPC side-call client (the cluster named by rate_limit_service, as ext_authz calls its server):
 * - OK (or UNKNOWN, as Envoy): the request goes on, with the service's request headers; its
 *   response headers go to the client;
 * - OVER_LIMIT: a local reply rate_limited_status (429) with `x-envoy-ratelimited: true` (unless
 *   disabled) and response_headers_to_add, flag RL, %RESPONSE_CODE_DETAILS%
 *   `request_rate_limited`; gRPC callers get UNAVAILABLE (RESOURCE_EXHAUSTED with
 *   rate_limited_as_resource_exhausted);
 * - error (service down, no healthy host, timeout, bad answer): failure_mode_deny answers
 *   status_on_error (500) with flag RLSE, `rate_limiter_error`; otherwise the request goes on
 *   (counted as failure_mode_allowed). An outage is logged once with its reason, its end once.
 * Counters as Envoy: `cluster.<route's cluster>.ratelimit.<stat_prefix.>{ok,over_limit,error,
 * failure_mode_allowed}`; a route without a single cluster counts under
 * `http.<hcm stat_prefix>.ratelimit.`. The counter sets are kept per cluster (at most
 * MAX_COUNTER_SETS per filter config, counted in clew.overflow.ratelimit_stat_clusters beyond).
 */
import { RATELIMIT_TYPE } from '../../../xds/type-urls.js';
import { overflowCounter } from '../../../stats/stats-overflow.js';
import type { Counter, StatsStore } from '../../../stats/stats-store.js';
import type { HeaderMap } from '../../core/header-map.js';
import type { FilterHeadersStatus, HttpFilter, HttpFilterCallbacks, HttpFilterConfig, HttpFilterFactory, HttpFilterParseContext } from '../../filter-api/http-filter.js';
import { GrpcUnaryClient } from '../../grpc-client/grpc-unary-client.js';
import { OutageLog } from '../../grpc-client/outage-log.js';
import { descriptorsOf, type DescriptorEntry, type RateLimitInput } from '../../router/rate-limit-policy.js';
import type { Route } from '../../router/route-config.js';
import { parseRateLimitConfig, RATELIMIT_FILTER, type RateLimitSettings } from './ratelimit-config.js';
import { decodeRateLimitResponse, encodeRateLimitRequest, SHOULD_RATE_LIMIT_PATH, type RlsAnswer } from './ratelimit-rls.js';

export { RATELIMIT_FILTER };

const MAX_COUNTER_SETS = 1024;
const COUNTER_SETS_OVERFLOW = overflowCounter('ratelimit_stat_clusters');

interface Counters {
  ok: Counter | undefined;
  overLimit: Counter | undefined;
  error: Counter | undefined;
  failureModeAllowed: Counter | undefined;
}

const NO_COUNTERS: Counters = { ok: undefined, overLimit: undefined, error: undefined, failureModeAllowed: undefined };

function countersIn(stats: StatsStore, scope: string): Counters {
  const s = stats.scope(scope);
  return { ok: s.counter('ok'), overLimit: s.counter('over_limit'), error: s.counter('error'), failureModeAllowed: s.counter('failure_mode_allowed') };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export class RateLimitConfig implements HttpFilterConfig {
  private readonly byCluster = new Map<string, Counters>();
  private readonly fallback: Counters;

  constructor(
    readonly name: string,
    readonly settings: RateLimitSettings,
    readonly client: GrpcUnaryClient,
    readonly outage: OutageLog,
    private readonly stats: StatsStore | undefined,
    hcmStatPrefix: string,
    readonly localCluster: string,
  ) {
    this.fallback = stats ? countersIn(stats, `http.${hcmStatPrefix}.ratelimit.${this.suffix()}`) : NO_COUNTERS;
  }

  private suffix(): string {
    return this.settings.statPrefix ? `${this.settings.statPrefix}.` : '';
  }

  /** the counters of the route's cluster (Envoy's cluster.<name>.ratelimit.*) */
  counters(cluster: string): Counters {
    if (!this.stats || !cluster) return this.fallback;
    let c = this.byCluster.get(cluster);
    if (c) return c;
    if (this.byCluster.size >= MAX_COUNTER_SETS) {
      COUNTER_SETS_OVERFLOW.inc();
      return this.fallback;
    }
    c = countersIn(this.stats, `cluster.${cluster}.ratelimit.${this.suffix()}`);
    this.byCluster.set(cluster, c);
    return c;
  }

  create(): HttpFilter {
    return new RateLimitFilter(this);
  }
}

/** The descriptors a request's route gives for a stage (Envoy's vh_rate_limits OVERRIDE default, include_vh_rate_limits). */
export function routeDescriptors(route: Route, stage: number, input: RateLimitInput): DescriptorEntry[][] {
  const out: DescriptorEntry[][] = [];
  descriptorsOf(route.rateLimits, stage, input, out);
  if (route.includeVhRateLimits || route.rateLimits.length === 0) descriptorsOf(route.vhost.rateLimits, stage, input, out);
  return out;
}

class RateLimitFilter implements HttpFilter {
  private cancel: (() => void) | undefined;
  private destroyed = false;
  private downstream: Array<[string, string]> | undefined;

  constructor(private readonly cfg: RateLimitConfig) {}

  decodeHeaders(cb: HttpFilterCallbacks): FilterHeadersStatus {
    const s = this.cfg.settings;
    const route = cb.route;
    if (route === undefined || route.kind !== 'route') return 'continue';
    if (s.requestType !== 'both') {
      const internal = headerValue(cb.headers['x-envoy-internal']) === 'true';
      if ((s.requestType === 'internal') !== internal) return 'continue';
    }
    const cluster = route.slot?.name ?? '';
    const descriptors = routeDescriptors(route, s.stage, {
      method: cb.method,
      path: cb.path,
      authority: cb.authority,
      scheme: headerValue(cb.headers['x-forwarded-proto']) ?? (cb.conn.tls ? 'https' : 'http'),
      headers: cb.headers,
      remoteAddress: cb.conn.remoteAddress,
      localCluster: this.cfg.localCluster,
      destinationCluster: cluster,
    });
    if (descriptors.length === 0) return 'continue';
    const counters = this.cfg.counters(cluster);
    this.cancel = this.cfg.client.call(SHOULD_RATE_LIMIT_PATH, encodeRateLimitRequest(s.domain, descriptors), (r) => {
      this.cancel = undefined;
      if (this.destroyed) return;
      if (!r.ok) return this.onError(cb, counters, r.reason);
      let answer: RlsAnswer;
      try {
        answer = decodeRateLimitResponse(r.message);
      } catch (err) {
        return this.onError(cb, counters, `bad RateLimitResponse: ${(err as Error).message}`);
      }
      this.onAnswer(cb, counters, answer);
    });
    return 'stop';
  }

  private onAnswer(cb: HttpFilterCallbacks, c: Counters, a: RlsAnswer): void {
    const s = this.cfg.settings;
    this.cfg.outage.worked();
    if (a.responseHeaders.length) this.downstream = a.responseHeaders;
    if (!a.overLimit) {
      c.ok?.inc();
      const h = cb.headers as HeaderMap;
      for (const [k, v] of a.requestHeaders) h[k] = v;
      cb.continueDecoding();
      return;
    }
    c.overLimit?.inc();
    const headers: HeaderMap = {};
    if (s.xEnvoyRateLimitedHeader) headers['x-envoy-ratelimited'] = 'true';
    for (const [k, v, append] of s.responseHeaders) {
      const cur = headers[k];
      headers[k] = append && cur !== undefined ? (Array.isArray(cur) ? [...cur, v] : [cur, v]) : v;
    }
    cb.sendLocalReply(s.limitedStatus, a.body, 'RL', {
      details: 'request_rate_limited',
      headers,
      grpcStatus: s.resourceExhausted ? 8 : 14,
    });
  }

  private onError(cb: HttpFilterCallbacks, c: Counters, reason: string): void {
    const s = this.cfg.settings;
    c.error?.inc();
    this.cfg.outage.failed(reason);
    if (!s.failureModeDeny) {
      c.failureModeAllowed?.inc();
      cb.continueDecoding();
      return;
    }
    cb.sendLocalReply(s.statusOnError, undefined, 'RLSE', { details: 'rate_limiter_error' });
  }

  encodeHeaders(_cb: HttpFilterCallbacks, _status: number, headers: HeaderMap): void {
    if (this.downstream === undefined) return;
    for (const [k, v] of this.downstream) headers[k] = v;
  }

  onDestroy(): void {
    this.destroyed = true;
    const cancel = this.cancel;
    this.cancel = undefined;
    cancel?.();
  }
}

export function parseRateLimitFilter(c: Record<string, any>, name: string, ctx: HttpFilterParseContext): RateLimitConfig {
  const s = parseRateLimitConfig(c, name);
  const client = new GrpcUnaryClient(s.target, ctx.resolveCluster(s.target.cluster));
  const what = `ratelimit ${s.target.cluster}`;
  const outage = ctx.shared.get(`ratelimit:outage:${what}`, () => new OutageLog(what));
  return new RateLimitConfig(name, s, client, outage, ctx.stats, ctx.statPrefix ?? '', ctx.localCluster ?? '');
}

/** Per-route overrides (RateLimitPerRoute) are not implemented: such a route is NACKed by the registry. */
export const rateLimitFilterFactory: HttpFilterFactory = {
  typeUrls: [RATELIMIT_TYPE],
  perRouteTypeUrls: [],
  parse: parseRateLimitFilter,
};
