/**
 * VirtualService delegation as Istio builds it (pilot's mergeVirtualServicesIfNeeded): a
 * VirtualService without hosts is a delegate, never routed on its own; an http route of a root
 * VirtualService with `delegate: {name, namespace}` is replaced by the delegate's http routes,
 * each merged with the root route:
 *  - match: every delegate match must lie within some root match (a delegate `/reviews/v2`
 *    prefix under a root `/reviews` prefix; regexes never nest); each compatible pair becomes one
 *    merged match (root fields fill what the delegate leaves out, header/query maps are united);
 *    a delegate route with a match no root match contains is dropped (a conflict);
 *  - name: `root-delegate`, or whichever is set;
 *  - rewrite, timeout, retries, fault, mirror, mirror percentage, corsPolicy and headers: the
 *    delegate's own, else the root route's.
 * A root route whose delegate does not exist, is a root itself, or is not exported to the root's
 * namespace (its exportTo, else MeshConfig's defaultVirtualServiceExportTo) is left out. Only one
 * level is supported. Short hosts of a delegate are relative to the delegate's namespace, so they
 * are resolved (destinations, mirrors, match gateways) before merging.
 */
import type { HTTPMatchRequest, HTTPRoute, StringMatch, VirtualService } from '../config/types.js';
import { gatewayKey } from './push-gateway-key.js';

export interface DelegationInput {
  /** every VirtualService, in config order */
  virtualServices: readonly VirtualService[];
  /** short host → FQDN in a namespace (the push context's resolver) */
  resolveHost: (host: string, namespace: string) => string;
  /** whether a VirtualService is exported to a namespace (exportTo, else the mesh default) */
  exportedTo: (vs: VirtualService, namespace: string) => boolean;
}

export interface DelegationResult {
  /** root VirtualServices with their delegates merged in, by `ns/name` */
  merged: Map<string, VirtualService>;
  /** `ns/name` of a root → `ns/name` of every delegate it names (found or not) */
  delegatesOf: Map<string, string[]>;
}

const INHERITED = ['rewrite', 'timeout', 'retries', 'fault', 'mirror', 'mirrorPercent', 'mirrorPercentage', 'corsPolicy', 'headers'] as const;

export function isDelegate(vs: VirtualService): boolean {
  return (vs.spec.hosts ?? []).length === 0;
}

function isRoot(vs: VirtualService): boolean {
  return !isDelegate(vs) && (vs.spec.http ?? []).some((r) => r.delegate);
}

export function mergeDelegates(input: DelegationInput): DelegationResult {
  const delegates = new Map<string, VirtualService>();
  for (const vs of input.virtualServices) if (isDelegate(vs)) delegates.set(`${vs.metadata.namespace}/${vs.metadata.name}`, vs);
  const merged = new Map<string, VirtualService>();
  const delegatesOf = new Map<string, string[]>();
  for (const root of input.virtualServices) {
    if (!isRoot(root)) continue;
    const rootNs = root.metadata.namespace;
    const rootKey = `${rootNs}/${root.metadata.name}`;
    const named: string[] = [];
    const http: HTTPRoute[] = [];
    for (const route of root.spec.http ?? []) {
      if (!route.delegate) {
        http.push(route);
        continue;
      }
      const key = `${route.delegate.namespace || rootNs}/${route.delegate.name}`;
      named.push(key);
      const delegate = delegates.get(key);
      if (!delegate || !input.exportedTo(delegate, rootNs)) continue;
      const resolved = (delegate.spec.http ?? []).filter((r) => !r.delegate)
        .map((r) => resolveRoute(r, delegate.metadata.namespace, input.resolveHost));
      http.push(...mergeRoutes(resolveRoute(route, rootNs, input.resolveHost), resolved));
    }
    delegatesOf.set(rootKey, named);
    merged.set(rootKey, { ...root, spec: { ...root.spec, http } });
  }
  return { merged, delegatesOf };
}

/** A route with its hosts and gateway names made absolute for `namespace` (a copy). */
function resolveRoute(r: HTTPRoute, namespace: string, resolve: DelegationInput['resolveHost']): HTTPRoute {
  const out: HTTPRoute = { ...r };
  if (r.route) out.route = r.route.map((d) => ({ ...d, destination: { ...d.destination, host: resolve(d.destination.host, namespace) } }));
  if (r.mirror) out.mirror = { ...r.mirror, host: resolve(r.mirror.host, namespace) };
  if (r.match) {
    out.match = r.match.map((m) => (m.gateways ? { ...m, gateways: m.gateways.map((g) => gatewayKey(g, namespace)) } : m));
  }
  return out;
}

/** The delegate's routes merged with the root route; conflicting ones left out. */
export function mergeRoutes(root: HTTPRoute, delegateRoutes: readonly HTTPRoute[]): HTTPRoute[] {
  const out: HTTPRoute[] = [];
  for (const d of delegateRoutes) {
    const match = mergeMatches(root.match, d.match);
    if (match === 'conflict') continue;
    const r: HTTPRoute = { ...d };
    delete r.delegate;
    if (match) r.match = match;
    else delete r.match;
    const name = d.name && root.name ? `${root.name}-${d.name}` : d.name ?? root.name;
    if (name) r.name = name;
    for (const k of INHERITED) {
      if (r[k] === undefined && root[k] !== undefined) (r as Record<string, unknown>)[k] = root[k];
    }
    out.push(r);
  }
  return out;
}

/** Every delegate match within some root match, each compatible pair merged; 'conflict' otherwise. */
export function mergeMatches(
  root: readonly HTTPMatchRequest[] | undefined,
  delegate: readonly HTTPMatchRequest[] | undefined,
): HTTPMatchRequest[] | undefined | 'conflict' {
  if (!root || root.length === 0) return delegate ? [...delegate] : undefined;
  if (!delegate || delegate.length === 0) return [...root];
  const out: HTTPMatchRequest[] = [];
  for (const leaf of delegate) {
    const within = root.filter((r) => !matchConflict(r, leaf));
    if (within.length === 0) return 'conflict';
    for (const r of within) out.push(mergeMatch(r, leaf));
  }
  return out;
}

function unite<V>(a: Record<string, V> | undefined, b: Record<string, V> | undefined): Record<string, V> | undefined {
  if (!a && !b) return undefined;
  return { ...a, ...b };
}

function mergeMatch(root: HTTPMatchRequest, leaf: HTTPMatchRequest): HTTPMatchRequest {
  const out: HTTPMatchRequest = { ...leaf };
  const name = leaf.name && root.name ? `${root.name}-${leaf.name}` : leaf.name ?? root.name;
  if (name) out.name = name;
  out.uri ??= root.uri;
  out.scheme ??= root.scheme;
  out.method ??= root.method;
  out.authority ??= root.authority;
  out.headers = unite(root.headers, leaf.headers);
  out.withoutHeaders = unite(root.withoutHeaders, leaf.withoutHeaders);
  out.queryParams = unite(root.queryParams, leaf.queryParams);
  out.sourceLabels = unite(root.sourceLabels, leaf.sourceLabels);
  if (!out.port) out.port = root.port;
  out.sourceNamespace ||= root.sourceNamespace;
  if (!out.gateways || out.gateways.length === 0) out.gateways = root.gateways;
  for (const k of Object.keys(out) as (keyof HTTPMatchRequest)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** Whether `leaf` is NOT contained in `root` (Istio's hasConflict). */
function matchConflict(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  if (stringConflict(root.uri, leaf.uri) || stringConflict(root.scheme, leaf.scheme)
    || stringConflict(root.method, leaf.method) || stringConflict(root.authority, leaf.authority)) return true;
  for (const [k, v] of Object.entries(leaf.headers ?? {})) if (stringConflict(root.headers?.[k], v)) return true;
  for (const [k, v] of Object.entries(leaf.withoutHeaders ?? {})) if (stringConflict(root.withoutHeaders?.[k], v)) return true;
  for (const [k, v] of Object.entries(leaf.queryParams ?? {})) if (stringConflict(root.queryParams?.[k], v)) return true;
  if ((root.ignoreUriCase ?? false) !== (leaf.ignoreUriCase ?? false)) return true;
  if (root.port && leaf.port && root.port !== leaf.port) return true;
  if (root.sourceNamespace && leaf.sourceNamespace !== root.sourceNamespace) return true;
  for (const [k, v] of Object.entries(leaf.sourceLabels ?? {})) {
    if (root.sourceLabels && k in root.sourceLabels && root.sourceLabels[k] !== v) return true;
  }
  if (root.gateways?.length && leaf.gateways?.length) {
    const set = new Set(root.gateways);
    if (!leaf.gateways.every((g) => set.has(g))) return true;
  }
  return false;
}

/** Whether the leaf's string match is NOT within the root's (absent on either side: compatible). */
function stringConflict(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (!root || !leaf) return false;
  if (root.regex || leaf.regex) {
    // a regex admits no narrower match and narrows nothing (a regex under a regex is a conflict too)
    return true;
  }
  if (root.exact) return leaf.exact !== root.exact;
  if (root.prefix) {
    if (leaf.prefix) return !leaf.prefix.startsWith(root.prefix);
    if (leaf.exact) return !leaf.exact.startsWith(root.prefix);
  }
  return true;
}
