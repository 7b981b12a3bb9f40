/**
 * The Kubernetes service registry (Istio's kube controller): Services, EndpointSlices, Pods,
 * Namespaces and Nodes from informers, turned into MeshServices and ServiceInstances. Indexes are
 * kept per host and recomputed only for the hosts an event touches; events say what changed so the
 * push scheduler can debounce them: a Service change is a `services` event, an EndpointSlice
 * change (or a pod/node change under one) an `endpoints` event for its host only (an EDS push).
 */
import type {
  MeshService, RegistryEvent, ServiceInstance, ServiceRegistry, Workload,
} from '../registry/types.js';
import { serviceFqdn } from '../registry/registry-hosts.js';
import type { KubeClient, KubeObject } from './kube-client.js';
import { Informer, type InformerStats } from './kube-informer.js';
import { endpointsFromSlices, serviceFromKube, workloadFromPod } from './kube-service-convert.js';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface KubeRegistryOptions {
  log?: (line: string) => void;
  /** informer backoff (tests shorten it) */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export class KubeRegistry implements ServiceRegistry {
  readonly services$: Informer;
  readonly slices: Informer;
  readonly pods: Informer;
  readonly namespaces: Informer;
  readonly nodes: Informer;
  private byHost = new Map<string, MeshService>();
  private serviceList: MeshService[] | undefined;
  /** slice keys by service host */
  private slicesByHost = new Map<string, Set<string>>();
  private instanceCache = new Map<string, Map<number, ServiceInstance[]>>();
  /** hosts whose endpoints include a pod (ns/name) */
  private hostsByPod = new Map<string, Set<string>>();
  private listeners = new Set<(e: RegistryEvent) => void>();
  private started = false;

  constructor(client: KubeClient, opts: KubeRegistryOptions = {}) {
    const mk = (path: string) => new Informer(client, { path, log: opts.log, backoffMs: opts.backoffMs, maxBackoffMs: opts.maxBackoffMs });
    this.services$ = mk('/api/v1/services');
    this.slices = mk('/apis/discovery.k8s.io/v1/endpointslices');
    this.pods = mk('/api/v1/pods');
    this.namespaces = mk('/api/v1/namespaces');
    this.nodes = mk('/api/v1/nodes');
    this.services$.on({
      add: (o) => this.serviceChanged(o),
      update: (o) => this.serviceChanged(o),
      delete: (o) => this.serviceDeleted(o),
    });
    this.slices.on({
      add: (o) => this.sliceChanged(o, undefined),
      update: (o, old) => this.sliceChanged(o, old),
      delete: (o) => this.sliceChanged(undefined, o),
    });
    this.pods.on({
      add: (o) => this.podChanged(o, undefined),
      update: (o, old) => this.podChanged(o, old),
      delete: (o) => this.podChanged(undefined, o),
    });
    this.nodes.on({
      // a node listed after the slices that name it gives their endpoints a locality
      add: (o) => this.nodeChanged(o, undefined),
      update: (o, old) => this.nodeChanged(o, old),
    });
  }

  start(): this {
    if (this.started) return this;
    this.started = true;
    for (const i of this.informers()) i.start();
    return this;
  }

  /** Resolves once every informer has listed once. */
  async synced(): Promise<void> {
    await Promise.all(this.informers().map((i) => i.synced));
  }

  stop(): void {
    for (const i of this.informers()) i.stop();
  }

  informers(): Informer[] {
    return [this.namespaces, this.nodes, this.pods, this.services$, this.slices];
  }

  stats(): Record<string, InformerStats> {
    return Object.fromEntries(this.informers().map((i) => [i.options.path, { ...i.stats }]));
  }

  // ------------------------------------------------------------------ ServiceRegistry
  services(): MeshService[] {
    this.serviceList ??= [...this.byHost.values()].sort((a, b) => (a.hostname < b.hostname ? -1 : 1));
    return this.serviceList;
  }

  serviceByHostname(hostname: string): MeshService | undefined {
    return this.byHost.get(hostname);
  }

  instances(hostname: string, port: number): ServiceInstance[] {
    const svc = this.byHost.get(hostname);
    if (!svc) return [];
    let byPort = this.instanceCache.get(hostname);
    if (!byPort) {
      byPort = this.computeInstances(svc);
      this.instanceCache.set(hostname, byPort);
    }
    return byPort.get(port) ?? [];
  }

  workloads(): Workload[] {
    const out: Workload[] = [];
    for (const pod of this.pods.list()) {
      const w = workloadFromPod(pod, pod.spec?.nodeName ? this.nodes.get(pod.spec.nodeName) : undefined);
      if (w) out.push(w);
    }
    return out;
  }

  onChange(listener: (event: RegistryEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  hasNamespace(ns: string): boolean {
    return this.namespaces.get(ns) !== undefined;
  }

  /** Labels of a namespace (injection, Sidecar selection). */
  namespaceLabels(ns: string): Record<string, string> | undefined {
    return this.namespaces.get(ns)?.metadata.labels;
  }

  // ------------------------------------------------------------------ internals
  private computeInstances(svc: MeshService): Map<number, ServiceInstance[]> {
    const byPort = new Map<number, ServiceInstance[]>();
    const slices = [...(this.slicesByHost.get(svc.hostname) ?? [])].map((k) => this.slices.get(k)).filter((s): s is KubeObject => !!s);
    const ctx = {
      pod: (ns: string, name: string) => this.pods.get(`${ns}/${name}`),
      node: (name: string) => this.nodes.get(name),
    };
    // every pod a slice names, listed yet or not: the pod's arrival (informers list in any order)
    // or a change of its labels recomputes this host
    for (const slice of slices) {
      for (const ep of ((slice as any).endpoints ?? []) as any[]) {
        if (ep.targetRef?.kind !== 'Pod' || !ep.targetRef.name) continue;
        const key = `${ep.targetRef.namespace ?? svc.namespace}/${ep.targetRef.name}`;
        let hosts = this.hostsByPod.get(key);
        if (!hosts) this.hostsByPod.set(key, (hosts = new Set()));
        hosts.add(svc.hostname);
      }
    }
    for (const sp of svc.ports) {
      const eps = svc.resolution === 'EDS' || svc.resolution === 'NONE'
        ? endpointsFromSlices(svc, sp, slices, ctx)
        : (svc.staticEndpoints ?? []).filter((e) => e.servicePort === undefined || e.servicePort === sp.port);
      byPort.set(sp.port, eps.map((endpoint) => ({ service: svc, servicePort: sp, endpoint })));
    }
    return byPort;
  }

  private serviceChanged(o: KubeObject): void {
    const svc = serviceFromKube(o);
    const before = this.byHost.get(svc.hostname);
    if (before && JSON.stringify(before) === JSON.stringify(svc)) return;
    this.byHost.set(svc.hostname, svc);
    this.serviceList = undefined;
    this.instanceCache.delete(svc.hostname);
    this.emit({ kind: 'services' });
  }

  private serviceDeleted(o: KubeObject): void {
    const host = serviceFqdn(o.metadata.name, o.metadata.namespace ?? 'default');
    if (!this.byHost.delete(host)) return;
    this.serviceList = undefined;
    this.instanceCache.delete(host);
    this.emit({ kind: 'services' });
  }

  private sliceHost(o: KubeObject): string | undefined {
    const name = o.metadata.labels?.[SERVICE_NAME_LABEL];
    return name ? serviceFqdn(name, o.metadata.namespace ?? 'default') : undefined;
  }

  private sliceChanged(now: KubeObject | undefined, old: KubeObject | undefined): void {
    const hosts = new Set<string>();
    for (const o of [old, now]) {
      if (!o) continue;
      const host = this.sliceHost(o);
      if (!host) continue;
      const key = `${o.metadata.namespace}/${o.metadata.name}`;
      let set = this.slicesByHost.get(host);
      if (!set) this.slicesByHost.set(host, (set = new Set()));
      if (o === now) set.add(key);
      else if (!now || this.sliceHost(now) !== host) set.delete(key);
      hosts.add(host);
    }
    this.endpointsChanged(hosts);
  }

  private podChanged(now: KubeObject | undefined, old: KubeObject | undefined): void {
    const o = (now ?? old) as KubeObject;
    if (now && old && JSON.stringify(now.metadata.labels ?? {}) === JSON.stringify(old.metadata.labels ?? {})
      && now.spec?.serviceAccountName === old.spec?.serviceAccountName) return;
    const hosts = this.hostsByPod.get(`${o.metadata.namespace}/${o.metadata.name}`);
    if (!now) this.hostsByPod.delete(`${o.metadata.namespace}/${o.metadata.name}`);
    if (hosts && hosts.size) this.endpointsChanged(new Set(hosts));
  }

  private nodeChanged(now: KubeObject, old: KubeObject | undefined): void {
    if (old && JSON.stringify(now.metadata.labels ?? {}) === JSON.stringify(old.metadata.labels ?? {})) return;
    const hosts = new Set<string>();
    for (const [host, byPort] of this.instanceCache) {
      for (const list of byPort.values()) if (list.length) hosts.add(host);
    }
    this.endpointsChanged(hosts);
  }

  private endpointsChanged(hosts: Set<string>): void {
    const changed: string[] = [];
    for (const host of hosts) {
      const before = this.instanceCache.get(host);
      this.instanceCache.delete(host);
      const svc = this.byHost.get(host);
      if (!svc) continue;
      const after = this.computeInstances(svc);
      this.instanceCache.set(host, after);
      if (!before || signature(before) !== signature(after)) changed.push(host);
    }
    if (changed.length === 0) return;
    // STATIC/DNS services carry their endpoints inside the cluster: a cluster change
    if (changed.some((h) => { const r = this.byHost.get(h)?.resolution; return r !== 'EDS' && r !== 'NONE'; })) {
      this.emit({ kind: 'services' });
      return;
    }
    this.emit({ kind: 'endpoints', hostnames: changed.sort() });
  }

  private emit(e: RegistryEvent): void {
    for (const l of [...this.listeners]) l(e);
  }
}

function signature(byPort: Map<number, ServiceInstance[]>): string {
  return JSON.stringify([...byPort].map(([p, l]) => [p, l.map((i) => i.endpoint)]));
}
