/**
 * Publishes the mesh's root certificate to every namespace as the ConfigMap `istio-ca-root-cert`
 * (key `root-cert.pem`), which injected sidecars mount to verify the control plane (istiod's
 * namespace controller). Only the status Lease holder writes; a namespace that appears or whose
 * ConfigMap is missing or different gets it (create, or update with the resourceVersion read).
 * Kubernetes' own namespaces are skipped, as Istio skips them.
 */
import type { KubeClient, KubeObject } from './kube-client.js';
import { isConflict, isNotFound } from './kube-errors.js';
import type { Informer } from './kube-informer.js';
import type { LeaderElection } from './kube-leader.js';

export const ROOT_CERT_CONFIGMAP = 'istio-ca-root-cert';
const SKIPPED = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

export class RootCertPublisher {
  private stopped = false;
  private readonly log: (line: string) => void;
  /** ConfigMaps written (tests, metrics) */
  written = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly namespaces: Informer,
    private readonly leader: LeaderElection,
    private readonly rootPem: () => string,
    log?: (line: string) => void,
  ) {
    this.log = log ?? (() => {});
    const check = (o: KubeObject) => void this.ensure(o);
    namespaces.on({ add: check, update: check });
  }

  /** Every namespace once (at start and when leadership is gained). */
  resyncAll(): void {
    for (const ns of this.namespaces.list()) void this.ensure(ns);
  }

  stop(): void {
    this.stopped = true;
  }

  private async ensure(ns: KubeObject): Promise<void> {
    const name = ns.metadata.name;
    if (this.stopped || !this.leader.isLeader() || SKIPPED.has(name) || ns.metadata.deletionTimestamp) return;
    const path = `/api/v1/namespaces/${encodeURIComponent(name)}/configmaps`;
    const data = { 'root-cert.pem': this.rootPem() };
    const body = (rv?: string) => ({
      apiVersion: 'v1', kind: 'ConfigMap',
      metadata: { name: ROOT_CERT_CONFIGMAP, namespace: name, labels: { 'istio.io/config': 'true' }, ...(rv ? { resourceVersion: rv } : {}) },
      data,
    });
    try {
      let current: KubeObject | undefined;
      try {
        current = await this.client.get<KubeObject>(`${path}/${ROOT_CERT_CONFIGMAP}`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (!current) {
        await this.client.request('POST', path, body());
      } else if ((current as any).data?.['root-cert.pem'] !== data['root-cert.pem']) {
        await this.client.request('PUT', `${path}/${ROOT_CERT_CONFIGMAP}`, body(current.metadata.resourceVersion));
      } else {
        return;
      }
      this.written++;
    } catch (err) {
      // another writer got there first (its version comes back through the next event), or the
      // namespace is going away
      if (isConflict(err) || isNotFound(err)) return;
      this.log(`root certificate ConfigMap in ${name}: ${(err as Error).message}`);
    }
  }
}
