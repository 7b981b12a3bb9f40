/**
 * EnvoyFilter HTTP_FILTER patches applied to a proxy's built listeners (pilot's envoyfilter
 * patching, the part Clew implements): the EnvoyFilters in force (root namespace, then the
 * proxy's namespace; without workloadSelector, or with one matching the workload; by priority,
 * then name) patch the http_filters of every HttpConnectionManager whose context (SIDECAR_INBOUND,
 * SIDECAR_OUTBOUND, GATEWAY, ANY), listener port and name match: INSERT_FIRST, INSERT_BEFORE /
 * INSERT_AFTER a named sub-filter (without one: first / last), REMOVE. Validation refused every
 * other patch. What a patch produces goes to the proxies like any config: a result the proxy
 * cannot run (a filter after the router) is NACKed there and shown by `clew proxy-status`.
 */
import type { ConfigResource } from '../../config/types.js';
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { jsonToStruct } from '../../xds/struct.js';
import { HCM_TYPE, TYPED_STRUCT_TYPE, XDS_TYPED_STRUCT_TYPE } from '../../xds/type-urls.js';
import { labelsMatch } from '../../registry/registry-labels.js';
import { ROOT_NAMESPACE, type PushContext } from '../push-context.js';

interface Patch {
  applyTo?: string;
  match?: {
    context?: string;
    listener?: { portNumber?: number; name?: string; filterChain?: { filter?: { name?: string; subFilter?: { name?: string } } } };
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
  return { name: v.name, typed_config: tc };
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

/** Applies the EnvoyFilters in force to the proxy's listeners (new objects where patched). */
export function applyEnvoyFilters(pc: PushContext, proxy: ProxyIdentity, listeners: EnvoyResource[]): EnvoyResource[] {
  const patches = inForce(pc, proxy).flatMap((f) => f.spec?.configPatches ?? []).filter((p) => p.applyTo === 'HTTP_FILTER');
  if (patches.length === 0) return listeners;
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
        if (http === f.typed_config.http_filters) return f;
        changed = true;
        return { ...f, typed_config: { ...f.typed_config, http_filters: http } };
      });
      return { ...c, filters };
    });
    return changed ? { ...l, filter_chains: chains } : l;
  });
}
