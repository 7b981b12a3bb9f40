/**
 * EnvoyFilter patches applied to a proxy's built listeners and route configurations (pilot's
 * envoyfilter patching, the part Clew implements): the EnvoyFilters in force (root namespace, then
 * the proxy's namespace; without workloadSelector, or with one matching the workload; by
 * priority, then name)
 * - HTTP_FILTER: patch the http_filters of every HttpConnectionManager whose context
 *   (SIDECAR_INBOUND, SIDECAR_OUTBOUND, GATEWAY, ANY), listener port and name match:
 *   INSERT_FIRST, INSERT_BEFORE / INSERT_AFTER a named sub-filter (without one: first / last),
 *   REMOVE;
 * - VIRTUAL_HOST MERGE: merge the value into every virtual host whose route configuration (RDS,
 *   or inline in an inbound HCM) matches the context, routeConfiguration.portNumber (the port of
 *   the route name: `8080`, `http.8080`, `inbound|8080||`), routeConfiguration.name and
 *   vhost.name (empty or absent: any); proto merge: messages merged field by field, lists
 *   appended, scalars replaced (Istio's rate-limit task adds `rate_limits` this way). As in Istio,
 *   vhost.route does not narrow a VIRTUAL_HOST patch.
 * Validation refused every other patch. What a patch produces goes to the proxies like any
 * config: a result the proxy cannot run (a filter after the router, a rate limit action it lacks)
 * is NACKed there and shown by `clew proxy-status`.
 */
import type { ConfigResource } from '../../config/types.js';
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { jsonToStruct } from '../../xds/struct.js';
import { fromProtoJson } from '../../xds/proto-json.js';
import { HCM_TYPE, TYPED_STRUCT_TYPE, XDS_TYPED_STRUCT_TYPE } from '../../xds/type-urls.js';
import { labelsMatch } from '../../registry/registry-labels.js';
import { ROOT_NAMESPACE, type PushContext } from '../push-context.js';

interface Patch {
  applyTo?: string;
  match?: {
    context?: string;
    listener?: { portNumber?: number; name?: string; filterChain?: { filter?: { name?: string; subFilter?: { name?: string } } } };
    routeConfiguration?: { portNumber?: number; name?: string; vhost?: { name?: string } };
  };
  patch?: { operation?: string; value?: Record<string, any> };
}
export interface EnvoyFilterSpec {
  workloadSelector?: { labels?: Record<string, string> };
  priority?: number;
  configPatches?: Patch[];
}
type EnvoyFilter = ConfigResource<EnvoyFilterSpec>;

function inForce(pc: PushContext, proxy: ProxyIdentity): EnvoyFilter[] {
  const all = pc.ofKind<EnvoyFilterSpec>('EnvoyFilter') as readonly EnvoyFilter[];
  const applies = (f: EnvoyFilter): boolean => {
    const labels = f.spec?.workloadSelector?.labels ?? {};
    return Object.keys(labels).length === 0 || labelsMatch(labels, proxy.labels);
  };
  const order = (a: EnvoyFilter, b: EnvoyFilter): number => (a.spec?.priority ?? 0) - (b.spec?.priority ?? 0) || a.metadata.name.localeCompare(b.metadata.name);
  const root = all.filter((f) => f.metadata.namespace === ROOT_NAMESPACE && applies(f)).sort(order);
  const ns = proxy.namespace === ROOT_NAMESPACE ? [] : all.filter((f) => f.metadata.namespace === proxy.namespace && applies(f)).sort(order);
  return [...root, ...ns];
}

/** the filter as the wire wants it: a TypedStruct's `value` as a protobuf Struct */
function wireFilter(v: Record<string, any>): EnvoyResource {
  const tc = (v.typed_config ?? v.typedConfig) as Record<string, any>;
  const t = tc['@type'];
  if (t === TYPED_STRUCT_TYPE || t === XDS_TYPED_STRUCT_TYPE) {
    const value = tc.value && typeof tc.value === 'object' ? jsonToStruct(tc.value) : {};
    return { name: v.name, typed_config: { '@type': t, type_url: tc.type_url ?? tc.typeUrl, value } };
  }
  const { '@type': _t, ...body } = tc;
  return { name: v.name, typed_config: { '@type': t, ...objectForm(t, body) } };
}

const VIRTUAL_HOST_TYPE = 'type.googleapis.com/envoy.config.route.v3.VirtualHost';

/** a patch value in the object form the encoder takes (durations written "10s" as Istio accepts them); validated before */
function objectForm(typeUrl: string, v: Record<string, any>): Record<string, any> {
  try {
    return fromProtoJson(typeUrl, v);
  } catch {
    return v;
  }
}

function applyPatch(filters: EnvoyResource[], p: Patch): EnvoyResource[] {
  const op = p.patch?.operation;
  const sub = p.match?.listener?.filterChain?.filter?.subFilter?.name;
  const at = sub === undefined ? -1 : filters.findIndex((f) => f.name === sub);
  if (op === 'REMOVE') return at < 0 ? filters : filters.filter((_f, i) => i !== at);
  const f = wireFilter(p.patch?.value ?? {});
  if (op === 'INSERT_FIRST' || (op === 'INSERT_BEFORE' && sub === undefined)) return [f, ...filters];
  if (op === 'INSERT_AFTER' && sub === undefined) return [...filters, f];
  if (at < 0) return filters; // the named sub-filter is not in this chain: no match (Istio)
  const i = op === 'INSERT_BEFORE' ? at : at + 1;
  return [...filters.slice(0, i), f, ...filters.slice(i)];
}

type Context = 'SIDECAR_INBOUND' | 'SIDECAR_OUTBOUND' | 'GATEWAY';

function matches(p: Patch, ctx: Context, port: number | undefined, listenerName: string): boolean {
  if (p.applyTo !== 'HTTP_FILTER') return false;
  const want = p.match?.context ?? 'ANY';
  if (want !== 'ANY' && want !== ctx) return false;
  const l = p.match?.listener;
  if (l?.portNumber !== undefined && l.portNumber !== port) return false;
  if (l?.name !== undefined && l.name !== listenerName) return false;
  return true;
}

/** proto3 merge of a JSON value into a JSON object: messages field by field, lists appended, scalars replaced */
export function protoMerge(into: Record<string, any>, value: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = { ...into };
  for (const [k, v] of Object.entries(value)) {
    const cur = out[k];
    if (Array.isArray(v)) out[k] = Array.isArray(cur) ? [...cur, ...v] : [...v];
    else if (v && typeof v === 'object' && cur && typeof cur === 'object' && !Array.isArray(cur)) out[k] = protoMerge(cur, v);
    else out[k] = v;
  }
  return out;
}

/** the listener port a route configuration's name stands for (`8080`, `http.8080`, `https.443.…`, `inbound|8080||`) */
function routeNamePort(name: string): number | undefined {
  const m = /^(?:inbound\|(\d+)\||(\d+)$|https?\.(\d+)(?:\.|$))/.exec(name);
  const n = m ? Number(m[1] ?? m[2] ?? m[3]) : NaN;
  return Number.isInteger(n) ? n : undefined;
}

function vhostPatchMatches(p: Patch, ctx: Context, rcName: string): boolean {
  if (p.applyTo !== 'VIRTUAL_HOST' || p.patch?.operation !== 'MERGE') return false;
  const want = p.match?.context ?? 'ANY';
  if (want !== 'ANY' && want !== ctx) return false;
  const rc = p.match?.routeConfiguration;
  if (rc?.portNumber !== undefined && rc.portNumber !== 0 && rc.portNumber !== routeNamePort(rcName)) return false;
  if (rc?.name !== undefined && rc.name !== '' && rc.name !== rcName) return false;
  return true;
}

/** VIRTUAL_HOST MERGE patches applied to one route configuration (a new object when patched). */
function patchRouteConfig(rc: EnvoyResource, patches: readonly Patch[], ctx: Context): EnvoyResource {
  const name = String(rc.name ?? '');
  const mine = patches.filter((p) => vhostPatchMatches(p, ctx, name));
  if (mine.length === 0) return rc;
  const vhosts = ((rc.virtual_hosts ?? []) as EnvoyResource[]).map((vh) => {
    let out = vh;
    for (const p of mine) {
      const want = p.match?.routeConfiguration?.vhost?.name;
      if (want !== undefined && want !== '' && want !== vh.name) continue;
      out = protoMerge(out, objectForm(VIRTUAL_HOST_TYPE, p.patch?.value ?? {}));
    }
    return out;
  });
  return { ...rc, virtual_hosts: vhosts };
}

function patchesOf(pc: PushContext, proxy: ProxyIdentity, applyTo: string): Patch[] {
  return inForce(pc, proxy).flatMap((f) => f.spec?.configPatches ?? []).filter((p) => p.applyTo === applyTo);
}

/** Applies the EnvoyFilters' VIRTUAL_HOST patches to the route configurations served over RDS. */
export function applyEnvoyFilterRoutes(pc: PushContext, proxy: ProxyIdentity, routeConfigs: EnvoyResource[]): EnvoyResource[] {
  const patches = patchesOf(pc, proxy, 'VIRTUAL_HOST');
  if (patches.length === 0) return routeConfigs;
  // a sidecar's RDS names are its outbound ports; an inbound route configuration is inline (below)
  const ctx: Context = proxy.type === 'router' ? 'GATEWAY' : 'SIDECAR_OUTBOUND';
  return routeConfigs.map((rc) => patchRouteConfig(rc, patches, ctx));
}

/** Applies the EnvoyFilters in force to the proxy's listeners (new objects where patched). */
export function applyEnvoyFilters(pc: PushContext, proxy: ProxyIdentity, listeners: EnvoyResource[]): EnvoyResource[] {
  const patches = patchesOf(pc, proxy, 'HTTP_FILTER');
  const vhostPatches = patchesOf(pc, proxy, 'VIRTUAL_HOST');
  if (patches.length === 0 && vhostPatches.length === 0) return listeners;
  return listeners.map((l) => {
    const ctx: Context = proxy.type === 'router' ? 'GATEWAY' : l.traffic_direction === 'INBOUND' ? 'SIDECAR_INBOUND' : 'SIDECAR_OUTBOUND';
    const listenerPort = l.address?.socket_address?.port_value as number | undefined;
    let changed = false;
    const chains = ((l.filter_chains ?? []) as EnvoyResource[]).map((c) => {
      const port = (c.filter_chain_match?.destination_port?.value as number | undefined) ?? listenerPort;
      const filters = ((c.filters ?? []) as EnvoyResource[]).map((f) => {
        if (f.typed_config?.['@type'] !== HCM_TYPE) return f;
        let http = (f.typed_config.http_filters ?? []) as EnvoyResource[];
        for (const p of patches) if (matches(p, ctx, port, String(l.name))) http = applyPatch(http, p);
        const inline = f.typed_config.route_config as EnvoyResource | undefined;
        const rc = inline && vhostPatches.length ? patchRouteConfig(inline, vhostPatches, ctx) : inline;
        if (http === f.typed_config.http_filters && rc === inline) return f;
        changed = true;
        return { ...f, typed_config: { ...f.typed_config, http_filters: http, ...(rc ? { route_config: rc } : {}) } };
      });
      return { ...c, filters };
    });
    return changed ? { ...l, filter_chains: chains } : l;
  });
}
