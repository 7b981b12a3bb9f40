/**
 * Which security policies (AuthorizationPolicy, RequestAuthentication) are in force for a proxy,
 * Istio's way: the root namespace's without a selector (mesh-wide), the proxy namespace's without
 * one, and those of its namespace whose selector (or Gateway targetRef) picks the workload.
 */
import type { ConfigResource } from '../../config/types.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { labelsMatch } from '../../registry/registry-labels.js';
import { ROOT_NAMESPACE, type PushContext } from '../push-context.js';

const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/** what workload selection reads of a security policy */
export interface Selecting {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: { group?: string; kind: string; name: string };
  targetRefs?: Array<{ group?: string; kind: string; name: string }>;
}

function isNamespaceWide(p: ConfigResource<Selecting>): boolean {
  return Object.keys(p.spec?.selector?.matchLabels ?? {}).length === 0 && !p.spec?.targetRef && !p.spec?.targetRefs?.length;
}

function selects(p: ConfigResource<Selecting>, proxy: ProxyIdentity): boolean {
  const labels = p.spec?.selector?.matchLabels ?? {};
  if (Object.keys(labels).length > 0) return labelsMatch(labels, proxy.labels);
  const refs = [...(p.spec?.targetRef ? [p.spec.targetRef] : []), ...(p.spec?.targetRefs ?? [])];
  return refs.some((r) => r.kind === 'Gateway' && proxy.labels[GATEWAY_NAME_LABEL] === r.name);
}

/** The policies of a kind in force for a proxy, in namespace/name order (stable output). */
export function policiesInForce<S extends Selecting>(pc: PushContext, proxy: ProxyIdentity, kind: 'AuthorizationPolicy' | 'RequestAuthentication'): ConfigResource<S>[] {
  return (pc.ofKind<S>(kind) as readonly ConfigResource<S>[])
    .filter((p) => {
      const ns = p.metadata.namespace;
      if (isNamespaceWide(p)) return ns === ROOT_NAMESPACE || ns === proxy.namespace;
      return ns === proxy.namespace && selects(p, proxy);
    })
    .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
}
