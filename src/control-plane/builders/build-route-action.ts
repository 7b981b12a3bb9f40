/**
 * The action half of a route: RouteAction (clusters, weights, timeout, retries, rewrite, mirror,
 * hash policy), RedirectAction and DirectResponseAction.
 */
import type {
  Destination, HTTPDirectResponse, HTTPMatchRequest, HTTPRedirect, HTTPRetry, HTTPRoute, HTTPRouteDestination,
} from '../../config/types.js';
import type { EnvoyResource } from '../../xds/codec.js';
import type { PushContext, ProxyScope } from '../push-context.js';
import {
  duration, fractionFromInteger, fractionFromPercent, outboundClusterName, pickServicePort,
} from './build-common.js';
import { effectiveTrafficPolicy } from './build-cluster-traffic-policy.js';
import { applyHeaderOperations } from './build-route-headers.js';
import { regexMatcher } from './build-route-match.js';

export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

export interface ActionScope {
  pc: PushContext;
  proxy: ProxyScope;
  /** Namespace of the VirtualService (short destination hosts are relative to it). */
  vsNamespace: string;
  /** Port of the route configuration; the default for destinations without a port. */
  port?: number;
  /** Proxyless gRPC clients read max_stream_duration for timeouts. */
  proxyless: boolean;
}

export interface ResolvedDestination {
  host: string;
  port: number | undefined;
  subset?: string;
  cluster: string;
}

export function resolveDestination(d: Destination, scope: ActionScope): ResolvedDestination {
  const host = scope.pc.resolveHost(d.host, scope.vsNamespace);
  const port = d.port?.number ?? pickServicePort(scope.pc.service(host), scope.port);
  return { host, port, subset: d.subset, cluster: outboundClusterName(port ?? 0, d.subset, host) };
}

/** Istio's retry policy: default 2 attempts; attempts 0 disables; numeric retryOn entries become status codes. */
export function buildRetryPolicy(r: HTTPRetry | undefined): EnvoyResource | undefined {
  const policy: EnvoyResource = {
    retry_on: DEFAULT_RETRY_ON,
    num_retries: { value: 2 },
    retriable_status_codes: [503],
    host_selection_retry_max_attempts: 5,
  };
  if (!r) return policy;
  if (!r.attempts || r.attempts <= 0) return undefined;
  policy.num_retries = { value: r.attempts };
  if (r.retryOn) {
    const names: string[] = [];
    const codes: number[] = [];
    for (const part of r.retryOn.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (/^\d+$/.test(part)) codes.push(Number(part));
      else names.push(part);
    }
    if (codes.length && !names.includes('retriable-status-codes')) names.push('retriable-status-codes');
    policy.retry_on = codes.length ? names.join(',') : r.retryOn;
    if (codes.length) policy.retriable_status_codes = codes;
    else delete policy.retriable_status_codes;
  }
  if (r.perTryTimeout) policy.per_try_timeout = duration(r.perTryTimeout);
  return policy;
}

/** Consistent-hash settings of the destination's DestinationRule → route hash_policy. */
export function buildHashPolicy(dest: ResolvedDestination, scope: ActionScope): EnvoyResource[] | undefined {
  const dr = scope.pc.destinationRule(dest.host, scope.proxy);
  const ch = effectiveTrafficPolicy(dr, dest.subset, dest.port ?? 0).loadBalancer?.consistentHash;
  if (!ch) return undefined;
  if (ch.httpHeaderName) return [{ header: { header_name: ch.httpHeaderName } }];
  if (ch.httpCookie) {
    const cookie: EnvoyResource = { name: ch.httpCookie.name };
    if (ch.httpCookie.ttl) cookie.ttl = duration(ch.httpCookie.ttl);
    if (ch.httpCookie.path) cookie.path = ch.httpCookie.path;
    return [{ cookie }];
  }
  if (ch.useSourceIp) return [{ connection_properties: { source_ip: true } }];
  if (ch.httpQueryParameterName) return [{ query_parameter: { name: ch.httpQueryParameterName } }];
  return undefined;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * rewrite.uri is a literal path; as an RE2 substitution its backslashes must be escaped (`\1`
 * would be a group, `\>` is refused by the proxy). Found by the config fuzz target.
 */
function literalSubstitution(uri: string): string {
  return uri.replace(/\\/g, '\\\\');
}

function applyRewrite(action: EnvoyResource, http: HTTPRoute, match: HTTPMatchRequest | undefined): void {
  const rw = http.rewrite;
  if (!rw) return;
  if (rw.uriRegexRewrite) {
    action.regex_rewrite = { pattern: regexMatcher(rw.uriRegexRewrite.match), substitution: rw.uriRegexRewrite.rewrite };
  } else if (rw.uri !== undefined) {
    const uri = match?.uri;
    if (uri?.exact !== undefined) {
      action.regex_rewrite = { pattern: regexMatcher(`^${escapeRegex(uri.exact)}$`), substitution: literalSubstitution(rw.uri) };
    } else if (uri?.regex !== undefined) {
      action.regex_rewrite = { pattern: regexMatcher(uri.regex), substitution: literalSubstitution(rw.uri) };
    } else {
      action.prefix_rewrite = rw.uri;
    }
  }
  if (rw.authority) action.host_rewrite_literal = rw.authority;
}

function buildMirror(http: HTTPRoute, scope: ActionScope): EnvoyResource[] | undefined {
  if (!http.mirror) return undefined;
  let fraction: { numerator: number; denominator: string };
  if (http.mirrorPercentage) fraction = fractionFromPercent(http.mirrorPercentage);
  else if (http.mirrorPercent !== undefined) fraction = fractionFromInteger(http.mirrorPercent);
  else fraction = { numerator: 100, denominator: 'HUNDRED' };
  if (fraction.numerator === 0) return undefined;
  const dest = resolveDestination(http.mirror, scope);
  return [{ cluster: dest.cluster, runtime_fraction: { default_value: fraction } }];
}

function weightedClusters(dests: HTTPRouteDestination[], scope: ActionScope): EnvoyResource {
  const allUnweighted = dests.every((d) => d.weight === undefined);
  const clusters: EnvoyResource[] = [];
  for (const d of dests) {
    const weight = allUnweighted ? 1 : d.weight ?? 0;
    if (weight <= 0) continue; // Istio drops zero-weight destinations.
    const cw: EnvoyResource = { name: resolveDestination(d.destination, scope).cluster, weight: { value: weight } };
    applyHeaderOperations(cw, d.headers);
    clusters.push(cw);
  }
  return { clusters };
}

/** Timeout fields: Istio's default is 0s (disabled); proxyless gRPC reads max_stream_duration. */
export function applyTimeout(action: EnvoyResource, timeout: string | undefined, proxyless: boolean): void {
  action.timeout = duration(timeout) ?? { seconds: 0 };
  if (proxyless) action.max_stream_duration = { max_stream_duration: { ...action.timeout } };
}

export function buildRouteAction(http: HTTPRoute, match: HTTPMatchRequest | undefined, scope: ActionScope): EnvoyResource {
  const dests = (http.route ?? []).filter((d) => d.weight === undefined || d.weight > 0 || http.route!.length === 1);
  const action: EnvoyResource = {};
  if (dests.length === 1) {
    action.cluster = resolveDestination(dests[0].destination, scope).cluster;
  } else {
    action.weighted_clusters = weightedClusters(dests, scope);
  }
  applyTimeout(action, http.timeout, scope.proxyless);
  const retry = buildRetryPolicy(http.retries);
  if (retry) action.retry_policy = retry;
  applyRewrite(action, http, match);
  const mirror = buildMirror(http, scope);
  if (mirror) action.request_mirror_policies = mirror;
  if (dests.length > 0) {
    const hash = buildHashPolicy(resolveDestination(dests[0].destination, scope), scope);
    if (hash) action.hash_policy = hash;
  }
  return action;
}

const REDIRECT_CODES: Record<number, string> = {
  301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT',
};

export function buildRedirect(r: HTTPRedirect): EnvoyResource {
  const out: EnvoyResource = { response_code: REDIRECT_CODES[r.redirectCode ?? 301] ?? 'MOVED_PERMANENTLY' };
  if (r.uri !== undefined) out.path_redirect = r.uri;
  if (r.authority !== undefined) out.host_redirect = r.authority;
  if (r.port !== undefined) out.port_redirect = r.port;
  if (r.scheme !== undefined) out.scheme_redirect = r.scheme;
  return out;
}

export function buildDirectResponse(d: HTTPDirectResponse): EnvoyResource {
  const out: EnvoyResource = { status: d.status };
  if (d.body?.string !== undefined) out.body = { inline_string: d.body.string };
  else if (d.body?.bytes !== undefined) out.body = { inline_bytes: d.body.bytes };
  return out;
}
