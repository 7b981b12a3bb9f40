/**
 * Istio's derivations from a workload's labels: workload name, canonical service/revision,
 * SPIFFE principal. Shared by metrics, metadata exchange and tracing so they cannot disagree.
 */
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { structToJson } from '../../xds/struct.js';
import type { PeerInfo } from '../core/stream-info.js';

export const UNKNOWN = 'unknown';
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_CLUSTER_ID = 'Kubernetes';

export const LABEL_CANONICAL_NAME = 'service.istio.io/canonical-name';
export const LABEL_CANONICAL_REVISION = 'service.istio.io/canonical-revision';
/** optional override of the workload name (Istio reads it from the pod's owner) */
export const LABEL_WORKLOAD_NAME = 'service.istio.io/workload-name';

export function workloadName(id: Pick<ProxyIdentity, 'name' | 'labels'>): string {
  return id.labels[LABEL_WORKLOAD_NAME] || id.name;
}

/** canonical-name label, else app.kubernetes.io/name, else app, else the workload name */
export function canonicalService(labels: Record<string, string>, workload: string): string {
  return labels[LABEL_CANONICAL_NAME] || labels['app.kubernetes.io/name'] || labels.app || workload;
}

/** canonical-revision label, else app.kubernetes.io/version, else version, else `latest` */
export function canonicalRevision(labels: Record<string, string>): string {
  return labels[LABEL_CANONICAL_REVISION] || labels['app.kubernetes.io/version'] || labels.version || 'latest';
}

export function spiffePrincipal(namespace: string, serviceAccount: string, trustDomain = DEFAULT_TRUST_DOMAIN): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The local proxy seen as a peer (same shape a remote peer decodes to). */
export function peerInfoFromIdentity(id: ProxyIdentity, trustDomain = DEFAULT_TRUST_DOMAIN, cluster = DEFAULT_CLUSTER_ID): PeerInfo {
  const workload = workloadName(id);
  return {
    workload,
    namespace: id.namespace,
    app: id.labels.app,
    version: id.labels.version,
    canonicalService: canonicalService(id.labels, workload),
    canonicalRevision: canonicalRevision(id.labels),
    principal: spiffePrincipal(id.namespace, id.serviceAccount || 'default', trustDomain),
    cluster,
  };
}

const SERVICE_OF = new WeakMap<object, string | null>();

/**
 * The service host Istio records in a cluster's metadata (`filter_metadata.istio.services[0]
 * .host`, which inbound clusters carry), cached per cluster resource; undefined without it.
 */
export function clusterServiceHost(raw: Record<string, any> | undefined): string | undefined {
  if (!raw) return undefined;
  let v = SERVICE_OF.get(raw);
  if (v === undefined) {
    const istio = raw.metadata?.filter_metadata?.istio;
    const md = istio && typeof istio === 'object' && istio.fields ? structToJson(istio) : istio;
    const services = (md as { services?: Array<{ host?: unknown }> } | undefined)?.services;
    const host = Array.isArray(services) ? services[0]?.host : undefined;
    v = typeof host === 'string' && host !== '' ? host : null;
    SERVICE_OF.set(raw, v);
  }
  return v ?? undefined;
}
