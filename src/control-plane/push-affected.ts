/**
 * Which proxies a change reaches (Istio's ProxyNeedsPush with SidecarScope.DependsOnConfig): a
 * sidecar is left out of a push when every changed resource is of a kind its scope tracks
 * (VirtualService, DestinationRule, Sidecar, Service, ServiceEntry) and none of them is one its
 * scope imports, before or after the change, and no changed endpoints belong to a service it
 * imports. Gateways and every other kind of change reach everyone.
 */
import type { ConfigResource, ServiceEntrySpec } from '../config/types.js';
import { serviceFqdn } from '../registry/registry-hosts.js';
import type { ProxyIdentity } from '../xds/node-metadata.js';
import { ROOT_NAMESPACE, type PushContext } from './push-context.js';

/** What a push is for; a push without one (mesh config, new service accounts, ...) reaches every proxy. */
export interface ChangeScope {
  /** `Kind/namespace/name` of the changed config */
  configKeys: readonly string[];
  /** services whose endpoints changed */
  hostnames: readonly string[];
}

const SCOPED_KINDS = new Set(['VirtualService', 'DestinationRule', 'Sidecar', 'Service', 'ServiceEntry']);

/** Merges two change scopes; undefined (everything) absorbs the other. */
export function mergeChangeScopes(a: ChangeScope | undefined, b: ChangeScope | undefined): ChangeScope | undefined {
  if (!a || !b) return undefined;
  return { configKeys: [...new Set([...a.configKeys, ...b.configKeys])], hostnames: [...new Set([...a.hostnames, ...b.hostnames])] };
}

/** The hostnames a Service or ServiceEntry defines. */
function hostnamesOf(res: ConfigResource): string[] {
  if (res.kind === 'Service') return [serviceFqdn(res.metadata.name, res.metadata.namespace)];
  return [...((res.spec as ServiceEntrySpec | undefined)?.hosts ?? [])];
}

function find(pc: PushContext, kind: string, ns: string, name: string): ConfigResource | undefined {
  return pc.ofKind(kind as never).find((r) => r.metadata.namespace === ns && r.metadata.name === name);
}

/**
 * Whether `proxy` must be pushed for `change`, judged by its scope in each of `contexts` (the push
 * contexts before and after the change: a resource deleted was imported before, one added after).
 */
export function proxyNeedsPush(contexts: readonly PushContext[], proxy: ProxyIdentity, change: ChangeScope): boolean {
  if (proxy.type !== 'sidecar') return true;
  const scopes = contexts.map((pc) => pc.sidecarScope(proxy));
  for (const key of change.configKeys) {
    const [kind, ns, name] = key.split('/');
    if (!SCOPED_KINDS.has(kind)) return true;
    if (kind === 'Sidecar') {
      if (ns === proxy.namespace || ns === ROOT_NAMESPACE) return true;
    } else if (kind === 'Service' || kind === 'ServiceEntry') {
      const hosts = contexts.flatMap((pc) => {
        const res = find(pc, kind, ns, name);
        return res ? hostnamesOf(res) : [];
      });
      if (hosts.some((h) => scopes.some((s) => s.hostnames.has(h)))) return true;
    } else if (scopes.some((s) => s.configKeys.has(key))) {
      return true;
    }
  }
  return change.hostnames.some((h) => scopes.some((s) => s.hostnames.has(h)));
}
