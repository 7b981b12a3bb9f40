/**
 * A RouteConfiguration compiled once per RDS update: virtual hosts indexed by domain, routes with
 * their matchers, actions, header ops, retry/mirror/hash policies and parsed per-filter configs.
 */
import { parseRouteUpgrades, type UpgradeMap } from './upgrade-config.js';
import { durationToMs } from '../../xds/codec.js';
import { compileRegex, fail } from '../core/errors.js';
import { overflowCounter } from '../../stats/stats-overflow.js';
import { Re2SyntaxError, type Re2, type Re2Substitution } from '../../regex/regex-re2.js';
import type { ClusterResolver, ClusterSlot } from '../upstream/cluster-slot.js';
import { checkHeaderValue, checkPathValue, compileHeaderOps, EMPTY_OPS, type HeaderOps } from './header-ops.js';
import { CompiledMatch, type MatchInput } from './route-match.js';
import { compileRetryPolicy, type RetryPolicy } from './retry-policy.js';
import { compileRateLimits, type RateLimitEntry } from './rate-limit-policy.js';

/** Parses one typed_per_filter_config entry; throws on invalid config; undefined = unknown type. */
/** parses one typed_per_filter_config entry; `optional`: a FilterConfig with is_optional (unknown types ignored) */
export type PerFilterParser = (filterName: string, config: Record<string, any>, optional: boolean) => unknown;

export interface HashPolicy {
  kind: 'header' | 'cookie' | 'source_ip' | 'query_parameter';
  name: string;
  terminal: boolean;
}

export interface MirrorPolicy {
  slot: ClusterSlot;
  /** probability in [0,1] */
  fraction: number;
}

export interface WeightedTarget {
  slot: ClusterSlot;
  weight: number;
  requestOps: HeaderOps;
  responseOps: HeaderOps;
  hostRewrite: string | undefined;
}

export interface RedirectAction {
  scheme?: string;
  host?: string;
  port?: number;
  path?: string;
  prefixRewrite?: string;
  stripQuery: boolean;
  status: number;
}

export interface VirtualHost {
  name: string;
  requestOps: HeaderOps;
  responseOps: HeaderOps;
  routes: Route[];
  retry: RetryPolicy | undefined;
  perFilter: Map<string, unknown>;
  /**
   * require_tls ALL (Istio's Gateway httpsRedirect): a request that did not arrive over TLS
   * (x-forwarded-proto, as the connection manager set it) gets this 301 to https instead
   */
  tlsRedirect?: Route;
  /** per_request_buffer_limit_bytes: the most request body buffered for retries and mirroring */
  bufferLimit?: number;
  /** rate_limits: descriptors for the global rate limit filter (rate-limit-policy.ts) */
  rateLimits: RateLimitEntry[];
}

export interface Route {
  name: string;
  match: CompiledMatch;
  vhost: VirtualHost;
  kind: 'route' | 'redirect' | 'direct';
  slot?: ClusterSlot;
  weighted?: { targets: WeightedTarget[]; total: number };
  clusterHeader?: string;
  prefixRewrite?: string;
  regexRewrite?: { re: Re2; sub: Re2Substitution };
  hostRewrite?: string;
  autoHostRewrite: boolean;
  timeoutMs: number;
  retry: RetryPolicy | undefined;
  mirrors: MirrorPolicy[];
  hashPolicies: HashPolicy[];
  redirect?: RedirectAction;
  direct?: { status: number; body: string | undefined };
  requestOps: HeaderOps;
  responseOps: HeaderOps;
  perFilter: Map<string, unknown>;
  /** decorator.operation: the span name of requests on this route */
  decorator?: string;
  /** RouteAction upgrade_configs: per-type overrides of the HCM's upgrade_configs */
  upgrades?: UpgradeMap;
  /** per_request_buffer_limit_bytes of the route (else its virtual host's, else the listener's) */
  bufferLimit?: number;
  /** RouteAction rate_limits */
  rateLimits: RateLimitEntry[];
  /** RouteAction include_vh_rate_limits: the virtual host's rate limits apply too */
  includeVhRateLimits: boolean;
}

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308,
};

function fraction(p: Record<string, any> | undefined): number {
  if (!p) return 1;
  const fp = p.default_value ?? p;
  const den = fp.denominator === 'TEN_THOUSAND' ? 10000 : fp.denominator === 'MILLION' ? 1e6 : 100;
  return Number(fp.numerator ?? 0) / den;
}

/** a UInt32Value byte limit, undefined when unset */
function bufferLimit(v: { value?: unknown } | undefined): number | undefined {
  if (v === undefined || v === null || v.value === undefined) return undefined;
  const n = Number(v.value);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

function parsePerFilter(obj: unknown, parse: PerFilterParser): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!obj || typeof obj !== 'object') return out;
  for (const [name, cfg] of Object.entries(obj as Record<string, Record<string, any>>)) {
    const wrapped = cfg['@type']?.endsWith('envoy.config.route.v3.FilterConfig');
    const inner = wrapped ? cfg.config : cfg;
    if (wrapped && cfg.disabled === true) continue;
    const parsed = parse(name, inner ?? {}, wrapped && cfg.is_optional === true);
    if (parsed !== undefined) out.set(name, parsed);
  }
  return out;
}

function compileRoute(r: Record<string, any>, vhost: VirtualHost, resolve: ClusterResolver, parse: PerFilterParser): Route {
  const route: Route = {
    name: String(r.name ?? ''),
    match: new CompiledMatch(r.match ?? fail(`route ${r.name ?? ''} without match`)),
    vhost,
    kind: 'route',
    autoHostRewrite: false,
    timeoutMs: 15000,
    retry: undefined,
    mirrors: [],
    hashPolicies: [],
    requestOps: compileHeaderOps(r.request_headers_to_add, r.request_headers_to_remove),
    responseOps: compileHeaderOps(r.response_headers_to_add, r.response_headers_to_remove),
    perFilter: parsePerFilter(r.typed_per_filter_config, parse),
    rateLimits: [],
    includeVhRateLimits: false,
  };
  if (typeof r.decorator?.operation === 'string' && r.decorator.operation !== '') route.decorator = r.decorator.operation;
  route.bufferLimit = bufferLimit(r.per_request_buffer_limit_bytes);
  if (r.route) {
    const a = r.route as Record<string, any>;
    if (a.cluster) route.slot = resolve(String(a.cluster));
    else if (a.weighted_clusters) {
      const targets: WeightedTarget[] = ((a.weighted_clusters.clusters ?? []) as Array<Record<string, any>>).map((c) => ({
        slot: resolve(String(c.name)),
        weight: Number(c.weight?.value ?? c.weight ?? 0),
        requestOps: compileHeaderOps(c.request_headers_to_add, c.request_headers_to_remove),
        responseOps: compileHeaderOps(c.response_headers_to_add, c.response_headers_to_remove),
        hostRewrite: c.host_rewrite_literal === undefined ? undefined : checkHeaderValue('weighted_clusters.host_rewrite_literal', String(c.host_rewrite_literal)),
      }));
      const total = targets.reduce((s, t) => s + t.weight, 0);
      if (targets.length === 0 || total <= 0) fail(`route ${route.name}: weighted_clusters with total weight 0`);
      route.weighted = { targets, total };
    } else if (a.cluster_header) route.clusterHeader = String(a.cluster_header).toLowerCase();
    else fail(`route ${route.name}: route action without cluster`);
    if (a.prefix_rewrite !== undefined) route.prefixRewrite = checkPathValue('route.prefix_rewrite', String(a.prefix_rewrite));
    if (a.regex_rewrite) route.regexRewrite = compileRegexRewrite(route.name, a.regex_rewrite);
    if (a.host_rewrite_literal) route.hostRewrite = checkHeaderValue('route.host_rewrite_literal', String(a.host_rewrite_literal));
    route.autoHostRewrite = a.auto_host_rewrite?.value === true;
    if (a.timeout !== undefined) route.timeoutMs = durationToMs(a.timeout) ?? 15000;
    if (a.max_stream_duration?.grpc_timeout_header_max !== undefined && a.timeout === undefined) route.timeoutMs = 0;
    route.retry = compileRetryPolicy(a.retry_policy) ?? vhost.retry;
    route.rateLimits = compileRateLimits(a.rate_limits, `route ${route.name}: rate_limits`);
    route.includeVhRateLimits = a.include_vh_rate_limits?.value === true || a.include_vh_rate_limits === true;
    route.upgrades = parseRouteUpgrades(a.upgrade_configs, route.name);
    route.mirrors = ((a.request_mirror_policies ?? []) as Array<Record<string, any>>).map((m) => ({
      slot: resolve(String(m.cluster)),
      fraction: fraction(m.runtime_fraction),
    }));
    route.hashPolicies = ((a.hash_policy ?? []) as Array<Record<string, any>>).map((h) => {
      const terminal = h.terminal === true;
      if (h.header) return { kind: 'header', name: String(h.header.header_name).toLowerCase(), terminal };
      if (h.cookie) return { kind: 'cookie', name: String(h.cookie.name), terminal };
      if (h.connection_properties) return { kind: 'source_ip', name: '', terminal };
      if (h.query_parameter) return { kind: 'query_parameter', name: String(h.query_parameter.name), terminal };
      fail(`route ${route.name}: unsupported hash policy`);
    });
  } else if (r.redirect) {
    const d = r.redirect as Record<string, any>;
    route.kind = 'redirect';
    route.redirect = {
      scheme: d.https_redirect ? 'https' : optional(d.scheme_redirect, (v) => checkPathValue('redirect.scheme_redirect', v)),
      host: optional(d.host_redirect, (v) => checkPathValue('redirect.host_redirect', v)),
      port: d.port_redirect !== undefined ? Number(d.port_redirect) : undefined,
      path: optional(d.path_redirect, (v) => checkPathValue('redirect.path_redirect', v)),
      prefixRewrite: optional(d.prefix_rewrite, (v) => checkPathValue('redirect.prefix_rewrite', v)),
      stripQuery: d.strip_query === true,
      status: REDIRECT_CODES[d.response_code ?? 'MOVED_PERMANENTLY'] ?? 301,
    };
  } else if (r.direct_response) {
    route.kind = 'direct';
    const body = r.direct_response.body;
    route.direct = {
      status: Number(r.direct_response.status),
      body: body?.inline_string ?? (body?.inline_bytes !== undefined ? Buffer.from(body.inline_bytes, 'base64').toString() : undefined),
    };
    if (!(route.direct.status >= 100 && route.direct.status <= 599)) fail(`route ${route.name}: invalid direct_response status`);
  } else {
    fail(`route ${route.name}: no action`);
  }
  return route;
}

/** authorities whose virtual host lookup is remembered per route config (clients choose them) */
const MAX_CACHED_AUTHORITIES = 4096;
const VHOST_CACHE_OVERFLOW = overflowCounter('route_vhost_cache');

export class RouteConfig {
  readonly name: string;
  readonly requestOps: HeaderOps;
  readonly responseOps: HeaderOps;
  private readonly exact = new Map<string, VirtualHost>();
  private readonly suffixes: Array<[string, VirtualHost]> = [];
  private readonly prefixes: Array<[string, VirtualHost]> = [];
  private wildcard: VirtualHost | undefined;
  private readonly cache = new Map<string, VirtualHost | null>();

  constructor(rc: Record<string, any>, resolve: ClusterResolver, parse: PerFilterParser) {
    this.name = String(rc.name ?? '');
    this.requestOps = compileHeaderOps(rc.request_headers_to_add, rc.request_headers_to_remove);
    this.responseOps = compileHeaderOps(rc.response_headers_to_add, rc.response_headers_to_remove);
    for (const v of (rc.virtual_hosts ?? []) as Array<Record<string, any>>) {
      const vhost: VirtualHost = {
        name: String(v.name ?? ''),
        requestOps: compileHeaderOps(v.request_headers_to_add, v.request_headers_to_remove),
        responseOps: compileHeaderOps(v.response_headers_to_add, v.response_headers_to_remove),
        routes: [],
        retry: compileRetryPolicy(v.retry_policy),
        perFilter: parsePerFilter(v.typed_per_filter_config, parse),
        bufferLimit: bufferLimit(v.per_request_buffer_limit_bytes),
        rateLimits: compileRateLimits(v.rate_limits, `virtual host ${String(v.name ?? '')}: rate_limits`),
      };
      vhost.routes = ((v.routes ?? []) as Array<Record<string, any>>).map((r) => compileRoute(r, vhost, resolve, parse));
      const requireTls = v.require_tls ?? 'NONE';
      if (requireTls === 'ALL' || requireTls === 2) {
        vhost.tlsRedirect = compileRoute({ name: `${vhost.name}/require_tls`, match: { prefix: '/' }, redirect: { https_redirect: true } }, vhost, resolve, parse);
      } else if (requireTls !== 'NONE' && requireTls !== 0) {
        // EXTERNAL_ONLY needs Envoy's internal-request classification, which this proxy lacks
        fail(`virtual host ${vhost.name}: require_tls ${String(requireTls)} is not supported (NONE or ALL)`);
      }
      for (const raw of (v.domains ?? []) as string[]) {
        const d = raw.toLowerCase();
        if (d === '*') {
          if (this.wildcard) fail(`route config ${this.name}: only one virtual host may have domain '*'`);
          this.wildcard = vhost;
        } else if (d.startsWith('*')) this.suffixes.push([d.slice(1), vhost]);
        else if (d.endsWith('*')) this.prefixes.push([d.slice(0, -1), vhost]);
        else {
          if (this.exact.has(d)) fail(`route config ${this.name}: duplicate domain ${d}`);
          this.exact.set(d, vhost);
        }
      }
    }
    // Longest wildcard wins, as in Envoy.
    this.suffixes.sort((a, b) => b[0].length - a[0].length);
    this.prefixes.sort((a, b) => b[0].length - a[0].length);
  }

  findVirtualHost(authority: string): VirtualHost | undefined {
    // keep-alive clients send the same Host request after request: compare before hashing
    if (authority === this.lastAuthority) return this.lastHost;
    const found = this.lookupVirtualHost(authority);
    this.lastAuthority = authority;
    this.lastHost = found;
    return found;
  }

  private lastAuthority: string | undefined;
  private lastHost: VirtualHost | undefined;

  private lookupVirtualHost(authority: string): VirtualHost | undefined {
    const host = authority.toLowerCase();
    const e = this.exact.get(host);
    if (e) return e;
    const c = this.cache.get(host);
    if (c !== undefined) return c ?? undefined;
    let found: VirtualHost | undefined;
    for (const [s, v] of this.suffixes) if (host.endsWith(s) && host.length > s.length) { found = v; break; }
    if (!found) for (const [p, v] of this.prefixes) if (host.startsWith(p) && host.length > p.length) { found = v; break; }
    found ??= this.wildcard;
    if (this.cache.size < MAX_CACHED_AUTHORITIES) this.cache.set(host, found ?? null);
    else VHOST_CACHE_OVERFLOW.inc();
    return found;
  }

  route(authority: string, input: MatchInput): Route | undefined {
    const vh = this.findVirtualHost(authority);
    if (!vh) return undefined;
    if (vh.tlsRedirect && input.headers['x-forwarded-proto'] !== 'https') return vh.tlsRedirect;
    const routes = vh.routes;
    for (let i = 0; i < routes.length; i++) if (routes[i].match.matches(input)) return routes[i];
    return undefined;
  }
}

export const EMPTY_HEADER_OPS = EMPTY_OPS;

function optional(v: unknown, check: (v: string) => string): string | undefined {
  return v === undefined || v === null ? undefined : check(String(v));
}

/** regex_rewrite: RE2 pattern and a substitution checked against its groups (bad either way: NACK). */
function compileRegexRewrite(routeName: string, rw: Record<string, any>): { re: Re2; sub: Re2Substitution } {
  const re = compileRegex(rw.pattern?.regex, `route ${routeName}: regex_rewrite`);
  const text = checkPathValue('route.regex_rewrite.substitution', String(rw.substitution ?? ''));
  try {
    return { re, sub: re.substitution(text) };
  } catch (err) {
    if (err instanceof Re2SyntaxError) fail(`route ${routeName}: regex_rewrite: ${err.message}`);
    throw err;
  }
}
