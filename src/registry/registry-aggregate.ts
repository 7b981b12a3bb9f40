/**
 * The aggregate registry (Istio's aggregate controller): several registries, each with a cluster
 * id — Kubernetes, the config directory's Services/ServiceEntries/WorkloadEntries, self-registered
 * proxies — seen as one. Services: the first registry (in the order given) that defines a host
 * name wins, as Istio lets a Kubernetes Service win over a ServiceEntry of the same host.
 * Endpoints: every registry's instances of that host are merged (the same service in two
 * clusters has the endpoints of both). Events of every registry pass through unchanged.
 *
 * Adding a registry: implement ServiceRegistry (services, instances, workloads, onChange) and
 * pass it to ControlPlane's `registries` with a cluster id; nothing else changes.
 */
import type {
  MeshService, RegistryEvent, ServiceInstance, ServiceRegistry, Workload,
} from './types.js';
import { resolveHostname } from './registry-hosts.js';

export interface RegistrySource {
  /** Istio's cluster id (`Kubernetes` for the main cluster, `config` for the config directory) */
  clusterId: string;
  registry: ServiceRegistry;
}

export class AggregateRegistry implements ServiceRegistry {
  constructor(readonly sources: readonly RegistrySource[]) {
    const ids = new Set<string>();
    for (const s of sources) {
      if (ids.has(s.clusterId)) throw new Error(`registry cluster id ${s.clusterId} given twice`);
      ids.add(s.clusterId);
    }
  }

  services(): MeshService[] {
    if (this.sources.length === 1) return this.sources[0].registry.services();
    const seen = new Set<string>();
    const out: MeshService[] = [];
    for (const s of this.sources) {
      for (const svc of s.registry.services()) {
        if (seen.has(svc.hostname)) continue;
        seen.add(svc.hostname);
        out.push(svc);
      }
    }
    return out;
  }

  serviceByHostname(hostname: string): MeshService | undefined {
    for (const s of this.sources) {
      const svc = s.registry.serviceByHostname(hostname);
      if (svc) return svc;
    }
    return undefined;
  }

  /** The cluster id of the registry whose service of this host is in force. */
  clusterOf(hostname: string): string | undefined {
    return this.sources.find((s) => s.registry.serviceByHostname(hostname))?.clusterId;
  }

  instances(hostname: string, port: number): ServiceInstance[] {
    let out: ServiceInstance[] | undefined;
    let owner: MeshService | undefined;
    for (const s of this.sources) {
      const svc = s.registry.serviceByHostname(hostname);
      if (!svc) continue;
      owner ??= svc;
      const list = s.registry.instances(hostname, port);
      if (list.length === 0) continue;
      if (!out) {
        out = svc === owner ? list : list.map((i) => ({ ...i, service: owner as MeshService }));
      } else {
        out = [...out, ...list.map((i) => (svc === owner ? i : { ...i, service: owner as MeshService }))];
      }
    }
    return out ?? [];
  }

  workloads(): Workload[] {
    if (this.sources.length === 1) return this.sources[0].registry.workloads();
    return this.sources.flatMap((s) => s.registry.workloads());
  }

  onChange(listener: (event: RegistryEvent) => void): () => void {
    const offs = this.sources.map((s) => s.registry.onChange(listener));
    return () => offs.forEach((off) => off());
  }

  hasNamespace(ns: string): boolean {
    return this.sources.some((s) => s.registry.hasNamespace?.(ns));
  }

  resolveHost(host: string, namespace: string): string {
    return resolveHostname(host, namespace, (h) => this.serviceByHostname(h) !== undefined, (ns) => this.hasNamespace(ns));
  }
}
