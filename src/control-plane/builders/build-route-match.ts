/** VirtualService HTTPMatchRequest → Envoy RouteMatch, plus the filters that decide whether a match applies. */
import type { HTTPMatchRequest, StringMatch } from '../../config/types.js';
import type { EnvoyResource } from '../../xds/codec.js';
import { labelsMatch } from '../../registry/registry-labels.js';
import { gatewayKey } from '../push-context.js';

export function regexMatcher(regex: string): EnvoyResource {
  return { google_re2: {}, regex };
}

/** Istio StringMatch → Envoy StringMatcher; undefined for an empty match (which means "present"). */
export function stringMatcher(m: StringMatch | undefined): EnvoyResource | undefined {
  if (!m) return undefined;
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined && m.prefix !== '') return { prefix: m.prefix };
  if (m.regex !== undefined) return { safe_regex: regexMatcher(m.regex) };
  return undefined;
}

export function headerMatcher(name: string, m: StringMatch | undefined, invert = false): EnvoyResource {
  const sm = stringMatcher(m);
  const out: EnvoyResource = sm ? { name, string_match: sm } : { name, present_match: true };
  if (invert) out.invert_match = true;
  return out;
}

export function buildRouteMatch(m: HTTPMatchRequest | undefined): EnvoyResource {
  const out: EnvoyResource = {};
  const uri = m?.uri;
  if (uri?.exact !== undefined) out.path = uri.exact;
  else if (uri?.prefix !== undefined) out.prefix = uri.prefix;
  else if (uri?.regex !== undefined) out.safe_regex = regexMatcher(uri.regex);
  else out.prefix = '/';
  if (m?.ignoreUriCase) out.case_sensitive = { value: false };
  const headers: EnvoyResource[] = [];
  for (const [name, sm] of Object.entries(m?.headers ?? {})) headers.push(headerMatcher(name, sm));
  if (m?.method) headers.push(headerMatcher(':method', m.method));
  if (m?.authority) headers.push(headerMatcher(':authority', m.authority));
  if (m?.scheme) headers.push(headerMatcher(':scheme', m.scheme));
  for (const [name, sm] of Object.entries(m?.withoutHeaders ?? {})) headers.push(headerMatcher(name, sm, true));
  if (headers.length) out.headers = headers;
  const query: EnvoyResource[] = [];
  for (const [name, sm] of Object.entries(m?.queryParams ?? {})) {
    const s = stringMatcher(sm);
    query.push(s ? { name, string_match: s } : { name, present_match: true });
  }
  if (query.length) out.query_parameters = query;
  return out;
}

export interface MatchScope {
  /** Port of the route configuration (listener or service port); undefined = any. */
  port?: number;
  /** Gateway `ns/name` when building gateway routes; undefined for sidecars (`mesh`). */
  gateway?: string;
  labels: Record<string, string>;
  namespace: string;
  /** Namespace of the VirtualService, for resolving short gateway names. */
  vsNamespace: string;
}

/** Whether a match entry applies to this proxy/route configuration (port, sourceLabels, gateways, sourceNamespace). */
export function matchApplies(m: HTTPMatchRequest | { port?: number; sourceLabels?: Record<string, string>; gateways?: string[]; sourceNamespace?: string }, scope: MatchScope): boolean {
  if (m.port !== undefined && scope.port !== undefined && m.port !== scope.port) return false;
  if (m.sourceLabels && !labelsMatch(m.sourceLabels, scope.labels)) return false;
  if (m.sourceNamespace && m.sourceNamespace !== scope.namespace) return false;
  if (m.gateways && m.gateways.length > 0) {
    const keys = m.gateways.map((g) => gatewayKey(g, scope.vsNamespace));
    if (!keys.includes(scope.gateway ?? 'mesh')) return false;
  }
  return true;
}
