/**
 * The embedded service registry: services from Kubernetes Service and ServiceEntry config,
 * workloads from WorkloadEntries and from connected proxies (their node metadata).
 * Every mutation recomputes the endpoint index and emits what changed.
 */
import type {
  ConfigResource, KubeServiceSpec, ServiceEntrySpec, WorkloadEntrySpec,
} from '../config/types.js';
import type { ProxyIdentity } from '../xds/node-metadata.js';
import type {
  MeshService, RegistryEvent, ServiceInstance, ServiceRegistry, Workload,
} from './types.js';
import { servicesFromKube, servicesFromServiceEntry, workloadFromEntry, workloadFromProxy } from './registry-convert.js';
import { endpointsFor } from './registry-endpoints.js';
import { resolveHostname } from './registry-hosts.js';
import type { VipAllocator } from './registry-vips.js';

type Index = Map<string, Map<number, ServiceInstance[]>>;

export class LocalRegistry implements ServiceRegistry {
  /** allocates virtual IPs to services without one (the control plane's; none: addresses as configured) */
  constructor(private readonly vips?: VipAllocator) {}

  private serviceList: MeshService[] = [];
  private byHost = new Map<string, MeshService>();
  private namespaces = new Set<string>();
  private entryWorkloads: Workload[] = [];
  private proxyWorkloads = new Map<string, Workload>();
  private index: Index = new Map();
  private listeners = new Set<(e: RegistryEvent) => void>();

  /** Replaces every Service, ServiceEntry and WorkloadEntry (other kinds are ignored). */
  setConfig(resources: ConfigResource[]): void {
    const services: MeshService[] = [];
    const entries: Workload[] = [];
    const kube = resources.filter((r) => r.kind === 'Service');
    const se = resources.filter((r) => r.kind === 'ServiceEntry');
    for (const r of kube) services.push(...servicesFromKube(r as ConfigResource<KubeServiceSpec>));
    for (const r of se) services.push(...servicesFromServiceEntry(r as ConfigResource<ServiceEntrySpec>));
    for (const r of resources) {
      if (r.kind === 'WorkloadEntry') entries.push(workloadFromEntry(r as ConfigResource<WorkloadEntrySpec>));
    }
    const byHost = new Map<string, MeshService>();
    // First definition of a host wins (Kubernetes Services before ServiceEntries), as in Istio.
    for (const s of services) if (!byHost.has(s.hostname)) byHost.set(s.hostname, s);
    this.vips?.assign([...byHost.values()]);
    this.mutate(() => {
      this.serviceList = [...byHost.values()];
      this.byHost = byHost;
      this.namespaces = new Set([
        ...resources.map((r) => r.metadata.namespace),
        ...[...this.proxyWorkloads.values()].map((w) => w.namespace),
      ]);
      this.entryWorkloads = entries;
    });
  }

  /** Registers (or updates) the workload of a connected proxy. */
  upsertProxyWorkload(proxyId: string, identity: ProxyIdentity): void {
    this.mutate(() => {
      this.proxyWorkloads.set(proxyId, workloadFromProxy(proxyId, identity));
      this.namespaces.add(identity.namespace);
    });
  }

  /** Removes a proxy's workload; grace periods are the caller's business. */
  removeProxyWorkload(proxyId: string): void {
    if (!this.proxyWorkloads.has(proxyId)) return;
    this.mutate(() => {
      this.proxyWorkloads.delete(proxyId);
    });
  }

  services(): MeshService[] {
    return this.serviceList;
  }

  serviceByHostname(hostname: string): MeshService | undefined {
    return this.byHost.get(hostname);
  }

  instances(hostname: string, port: number): ServiceInstance[] {
    return this.index.get(hostname)?.get(port) ?? [];
  }

  workloads(): Workload[] {
    return [...this.entryWorkloads, ...this.proxyWorkloads.values()];
  }

  onChange(listener: (event: RegistryEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  hasNamespace(namespace: string): boolean {
    return this.namespaces.has(namespace);
  }

  resolveHost(host: string, namespace: string): string {
    return resolveHostname(host, namespace, (h) => this.byHost.has(h), (ns) => this.namespaces.has(ns));
  }

  // ------------------------------------------------------------------ internals
  private mutate(change: () => void): void {
    const beforeServices = servicesSignature(this.serviceList);
    const beforeEndpoints = endpointSignatures(this.index);
    const beforeAccounts = accountSignature(this.index);
    change();
    this.index = buildIndex(this.serviceList, this.workloads());
    if (servicesSignature(this.serviceList) !== beforeServices) {
      this.emit({ kind: 'services' });
      return;
    }
    // the service accounts behind a service are in its clusters (the SANs auto mTLS checks): a
    // change there is a cluster change, as in Istio (a new account triggers a full push)
    if (accountSignature(this.index) !== beforeAccounts) {
      this.emit({ kind: 'services' });
      return;
    }
    const after = endpointSignatures(this.index);
    const changed: string[] = [];
    for (const [host, sig] of after) if (beforeEndpoints.get(host) !== sig) changed.push(host);
    for (const host of beforeEndpoints.keys()) if (!after.has(host)) changed.push(host);
    if (changed.length === 0) return;
    // STATIC/DNS services carry their endpoints inside the Cluster (load_assignment), so for them
    // an endpoint change is a cluster change.
    if (changed.some((h) => { const r = this.byHost.get(h)?.resolution; return r !== undefined && r !== 'EDS'; })) {
      this.emit({ kind: 'services' });
      return;
    }
    this.emit({ kind: 'endpoints', hostnames: changed.sort() });
  }

  private emit(e: RegistryEvent): void {
    for (const l of [...this.listeners]) l(e);
  }
}

/** Workloads keyed by `namespace NUL label=value`, so a selector finds its candidates directly. */
function labelIndex(workloads: Workload[]): Map<string, Workload[]> {
  const idx = new Map<string, Workload[]>();
  for (const w of workloads) {
    for (const [k, v] of Object.entries(w.labels)) {
      const key = `${w.namespace}\u0000${k}=${v}`;
      const list = idx.get(key);
      if (list) list.push(w);
      else idx.set(key, [w]);
    }
  }
  return idx;
}

function buildIndex(services: MeshService[], workloads: Workload[]): Index {
  const index: Index = new Map();
  const byLabel = labelIndex(workloads);
  for (const svc of services) {
    const byPort = new Map<number, ServiceInstance[]>();
    // endpointsFor still checks the whole selector; the index only narrows the candidates
    const first = svc.selector ? Object.entries(svc.selector)[0] : undefined;
    const candidates = first ? byLabel.get(`${svc.namespace}\u0000${first[0]}=${first[1]}`) ?? [] : [];
    for (const sp of svc.ports) {
      byPort.set(sp.port, endpointsFor(svc, sp, candidates).map((endpoint) => ({ service: svc, servicePort: sp, endpoint })));
    }
    index.set(svc.hostname, byPort);
  }
  return index;
}

function servicesSignature(services: MeshService[]): string {
  return JSON.stringify(
    services
      .map((s) => ({ ...s, staticEndpoints: undefined }))
      .sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0)),
  );
}

function endpointSignatures(index: Index): Map<string, string> {
  const out = new Map<string, string>();
  for (const [host, byPort] of index) {
    out.set(host, JSON.stringify([...byPort].map(([port, list]) => [port, list.map((i) => i.endpoint)])));
  }
  return out;
}

/** host -> the service accounts of its endpoints, one string for the whole registry. */
function accountSignature(index: Index): string {
  const out: string[] = [];
  for (const [host, byPort] of index) {
    const accounts = new Set<string>();
    for (const list of byPort.values()) for (const i of list) if (i.endpoint.serviceAccount) accounts.add(`${i.endpoint.namespace ?? ''}/${i.endpoint.serviceAccount}`);
    out.push(`${host}=${[...accounts].sort().join(',')}`);
  }
  return out.sort().join(';');
}

export function createLocalRegistry(): LocalRegistry {
  return new LocalRegistry();
}
