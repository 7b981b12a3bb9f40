/** VirtualService http routes → Envoy Routes (one per applicable match), and the default route. */
import type { HTTPMatchRequest, HTTPRoute } from '../../config/types.js';
import type { EnvoyResource } from '../../xds/codec.js';
import type { IndexedVirtualService } from '../push-context.js';
import { outboundClusterName } from './build-common.js';
import {
  type ActionScope, applyTimeout, buildDirectResponse, buildHashPolicy, buildRedirect, buildRetryPolicy,
  buildRouteAction, resolveDestination,
} from './build-route-action.js';
import { CORS_FILTER, FAULT_FILTER, buildCorsPolicy, buildFault } from './build-route-filters.js';
import { applyHeaderOperations } from './build-route-headers.js';
import { buildRouteMatch, matchApplies, type MatchScope } from './build-route-match.js';

export interface RouteScope extends ActionScope {
  gateway?: string;
}

function matchScope(scope: RouteScope): MatchScope {
  return {
    port: scope.port, gateway: scope.gateway, labels: scope.proxy.labels, namespace: scope.proxy.namespace,
    vsNamespace: scope.vsNamespace,
  };
}

function oneRoute(name: string, http: HTTPRoute, match: HTTPMatchRequest | undefined, scope: RouteScope): EnvoyResource {
  const route: EnvoyResource = { name, match: buildRouteMatch(match) };
  if (http.redirect) {
    route.redirect = buildRedirect(http.redirect);
  } else if (http.directResponse) {
    route.direct_response = buildDirectResponse(http.directResponse);
  } else {
    route.route = buildRouteAction(http, match, scope);
    const dests = http.route ?? [];
    if (dests.length > 0) {
      const d = resolveDestination(dests[0].destination, scope);
      route.decorator = { operation: `${d.host}:${d.port ?? ''}/*` };
    }
    // A single destination's header operations belong to the route itself.
    if (route.route.cluster && dests.length === 1) applyHeaderOperations(route, dests[0].headers);
  }
  applyHeaderOperations(route, http.headers);
  const perFilter: EnvoyResource = {};
  if (http.fault) perFilter[FAULT_FILTER] = buildFault(http.fault);
  // gRPC clients reject per-route configs for filters they lack, so CORS is sidecar/gateway only.
  if (http.corsPolicy && !scope.proxyless) perFilter[CORS_FILTER] = buildCorsPolicy(http.corsPolicy);
  if (Object.keys(perFilter).length) route.typed_per_filter_config = perFilter;
  return route;
}

/** Routes of one VirtualService for this scope; match entries that do not apply are left out. */
export function buildVirtualServiceRoutes(vs: IndexedVirtualService, scope: Omit<RouteScope, 'vsNamespace'>): EnvoyResource[] {
  const ns = vs.resource.metadata.namespace;
  const full: RouteScope = { ...scope, vsNamespace: ns };
  const ms = matchScope(full);
  const out: EnvoyResource[] = [];
  for (const http of vs.resource.spec.http ?? []) {
    const name = http.name ?? `${vs.resource.metadata.name}.${ns}`;
    if (!http.match || http.match.length === 0) {
      out.push(oneRoute(name, http, undefined, full));
      continue;
    }
    for (const m of http.match) if (matchApplies(m, ms)) out.push(oneRoute(name, http, m, full));
  }
  return out;
}

/** Istio's route for a service without a VirtualService: its cluster, default retries, no timeout. */
export function buildDefaultRoute(host: string, port: number, scope: Omit<RouteScope, 'vsNamespace'>): EnvoyResource {
  const full: RouteScope = { ...scope, vsNamespace: scope.proxy.namespace };
  const action: EnvoyResource = { cluster: outboundClusterName(port, undefined, host) };
  applyTimeout(action, undefined, scope.proxyless);
  action.retry_policy = buildRetryPolicy(undefined);
  const hash = buildHashPolicy({ host, port, cluster: action.cluster }, full);
  if (hash) action.hash_policy = hash;
  return {
    name: 'default',
    match: { prefix: '/' },
    route: action,
    decorator: { operation: `${host}:${port}/*` },
  };
}
