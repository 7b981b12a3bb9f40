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

/** A change resolved once per push (not per proxy): what each proxy's scope is compared with. */
export interface ResolvedChange {
  /** a kind the scope does not track changed: every proxy */
  everyone: boolean;
  /** namespaces whose Sidecars changed */
  sidecarNamespaces: ReadonlySet<string>;
  /** VirtualService and DestinationRule keys */
  configKeys: readonly string[];
  /** hostnames of changed Services/ServiceEntries (before and after) and of changed endpoints */
  hostnames: ReadonlySet<string>;
}

/** Resolves a change against the push contexts before and after it (a deleted resource is in the first, an added one in the second). */
export function resolveChange(contexts: readonly PushContext[], change: ChangeScope): ResolvedChange {
  const sidecarNamespaces = new Set<string>();
  const configKeys: string[] = [];
  const hostnames = new Set(change.hostnames);
  const wanted = new Map<string, string>();
  for (const key of change.configKeys) {
    const [kind, ns] = key.split('/');
    if (!SCOPED_KINDS.has(kind)) return { everyone: true, sidecarNamespaces, configKeys, hostnames };
    if (kind === 'Sidecar') sidecarNamespaces.add(ns);
    else if (kind === 'Service' || kind === 'ServiceEntry') wanted.set(key, kind);
    else configKeys.push(key);
  }
  for (const kind of new Set(wanted.values())) {
    for (const pc of contexts) {
      for (const res of pc.ofKind(kind as never)) {
        if (wanted.has(`${kind}/${res.metadata.namespace}/${res.metadata.name}`)) for (const h of hostnamesOf(res)) hostnames.add(h);
      }
    }
  }
  return { everyone: false, sidecarNamespaces, configKeys, hostnames };
}

/** Whether `proxy` must be pushed for a change, judged by its scope in each of `contexts` (before and after the change). */
export function proxyNeedsPush(contexts: readonly PushContext[], proxy: ProxyIdentity, change: ResolvedChange): boolean {
  if (change.everyone || proxy.type !== 'sidecar') return true;
  if (change.sidecarNamespaces.has(proxy.namespace) || change.sidecarNamespaces.has(ROOT_NAMESPACE)) return true;
  for (const pc of contexts) {
    const scope = pc.sidecarScope(proxy);
    if (change.configKeys.some((k) => scope.configKeys.has(k))) return true;
    for (const h of change.hostnames) if (scope.hostnames.has(h)) return true;
  }
  return false;
}
