/**
 * The push context: an immutable snapshot of config + registry that builders read (Istio's
 * PushContext). Indexes are computed once and frozen, so one push always sees one world.
 */
import { createHash } from 'node:crypto';
import type {
  ConfigResource, IstioKind, DestinationRule, DestinationRuleSpec, Gateway, Sidecar, Subset, Telemetry, VirtualService,
} from '../config/types.js';
import { defaultMeshConfig, type MeshConfig } from '../config/mesh-config.js';
import type { MeshService, ServiceInstance, ServiceRegistry, Workload } from '../registry/types.js';
import { hostMatches, resolveHostname } from '../registry/registry-hosts.js';
import { labelsMatch } from '../registry/registry-labels.js';

/** Istio's root namespace: config there applies mesh-wide when nothing more specific exists. */
export const ROOT_NAMESPACE = 'istio-system';

export interface ProxyScope {
  namespace: string;
  labels: Record<string, string>;
}

/** A VirtualService with its hosts resolved and its gateways normalised to `ns/name` or `mesh`. */
export interface IndexedVirtualService {
  resource: VirtualService;
  hosts: string[];
  gateways: string[];
}

/** DestinationRules for one host merged as Istio does (first rule's policy wins, subsets appended). */
export interface MergedDestinationRule {
  host: string;
  namespace: string;
  spec: DestinationRuleSpec;
  /** `ns/name` of every merged rule, oldest first. */
  sources: string[];
}

export interface PushContext {
  readonly version: string;
  readonly config: readonly ConfigResource[];
  readonly services: readonly MeshService[];
  readonly workloads: readonly Workload[];
  readonly virtualServices: readonly IndexedVirtualService[];
  readonly destinationRules: readonly DestinationRule[];
  readonly gateways: readonly Gateway[];
  readonly sidecars: readonly Sidecar[];
  /** Telemetry resources in config order (the resolution per proxy is in builders/build-telemetry-policy.ts). */
  readonly telemetries: readonly Telemetry[];
  /** The mesh config in force: Istio's defaults with --mesh-config (and the istio ConfigMap) applied. */
  readonly meshConfig: Readonly<MeshConfig>;
  /** Mesh-bound VirtualServices by resolved host (wildcard hosts are under their pattern). */
  readonly vsByHost: Readonly<Record<string, readonly IndexedVirtualService[]>>;
  /** Gateway-bound VirtualServices by gateway `ns/name`. */
  readonly vsByGateway: Readonly<Record<string, readonly IndexedVirtualService[]>>;
  /** DestinationRules by resolved host, in config order. */
  readonly drByHost: Readonly<Record<string, readonly DestinationRule[]>>;
  /** Every resource of a kind, in config order: the index a new kind's builders use (kinds table: config/kinds.ts). */
  ofKind<S = unknown>(kind: IstioKind): readonly ConfigResource<S>[];
  service(hostname: string): MeshService | undefined;
  instances(hostname: string, port: number): readonly ServiceInstance[];
  resolveHost(host: string, namespace: string): string;
  /** Mesh VirtualServices visible to the proxy whose hosts cover `hostname` (exact first). */
  virtualServicesForHost(hostname: string, proxy: ProxyScope): IndexedVirtualService[];
  virtualServicesForGateway(gatewayKey: string, proxy: ProxyScope): IndexedVirtualService[];
  destinationRule(hostname: string, proxy: ProxyScope): MergedDestinationRule | undefined;
  gatewaysForProxy(proxy: ProxyScope): Gateway[];
  sidecarForProxy(proxy: ProxyScope): Sidecar | undefined;
}

export interface PushContextInput {
  config: ConfigResource[];
  registry: ServiceRegistry;
  version?: string;
  /** default: Istio's default mesh config */
  meshConfig?: MeshConfig;
}

/** exportTo: absent or `*` = everywhere, `.` = own namespace, else the listed namespaces. */
export function visibleTo(res: ConfigResource<{ exportTo?: string[] }>, namespace: string): boolean {
  const exportTo = res.spec?.exportTo;
  if (!exportTo || exportTo.length === 0) return true;
  return exportTo.some((e) => e === '*' || e === namespace || (e === '.' && res.metadata.namespace === namespace));
}

/** `bookinfo-gateway` in ns default → `default/bookinfo-gateway`; `mesh` stays. */
export function gatewayKey(name: string, namespace: string): string {
  if (name === 'mesh') return 'mesh';
  if (name.includes('/')) return name;
  if (name.includes('.')) {
    const [gw, ns] = name.split('.');
    return `${ns}/${gw}`;
  }
  return `${namespace}/${name}`;
}

function freezeIndex<T>(m: Map<string, T[]>): Readonly<Record<string, readonly T[]>> {
  const out: Record<string, readonly T[]> = {};
  for (const [k, v] of m) out[k] = Object.freeze(v);
  return Object.freeze(out);
}

function push<T>(m: Map<string, T[]>, k: string, v: T): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function mergeRules(rules: DestinationRule[], host: string): MergedDestinationRule {
  const first = rules[0];
  const subsets: Subset[] = [];
  const seen = new Set<string>();
  let trafficPolicy = first.spec.trafficPolicy;
  for (const r of rules) {
    trafficPolicy ??= r.spec.trafficPolicy;
    for (const s of r.spec.subsets ?? []) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      subsets.push(s);
    }
  }
  const spec: DestinationRuleSpec = { ...first.spec, host };
  if (trafficPolicy) spec.trafficPolicy = trafficPolicy;
  if (subsets.length) spec.subsets = subsets;
  return {
    host,
    namespace: first.metadata.namespace,
    spec,
    sources: rules.map((r) => `${r.metadata.namespace}/${r.metadata.name}`),
  };
}

export function createPushContext(input: PushContextInput): PushContext {
  const { registry } = input;
  const config = Object.freeze([...input.config]);
  const services = Object.freeze([...registry.services()]);
  const byHost = new Map(services.map((s) => [s.hostname, s]));
  const namespaces = new Set<string>([...config.map((c) => c.metadata.namespace), ...services.map((s) => s.namespace)]);
  const resolveHost = (host: string, namespace: string): string =>
    resolveHostname(host, namespace, (h) => byHost.has(h), (ns) => namespaces.has(ns));

  const instancesIndex = new Map<string, Map<number, readonly ServiceInstance[]>>();
  for (const s of services) {
    const byPort = new Map<number, readonly ServiceInstance[]>();
    for (const p of s.ports) byPort.set(p.port, Object.freeze([...registry.instances(s.hostname, p.port)]));
    instancesIndex.set(s.hostname, byPort);
  }

  const virtualServices: IndexedVirtualService[] = [];
  const vsByHost = new Map<string, IndexedVirtualService[]>();
  const vsByGateway = new Map<string, IndexedVirtualService[]>();
  const destinationRules: DestinationRule[] = [];
  const drByHost = new Map<string, DestinationRule[]>();
  const gateways: Gateway[] = [];
  const sidecars: Sidecar[] = [];
  const telemetries: Telemetry[] = [];
  const meshConfig = input.meshConfig ?? defaultMeshConfig();
  const byKind = new Map<string, ConfigResource[]>();
  for (const res of config) {
    const ns = res.metadata.namespace;
    push(byKind, res.kind, res);
    if (res.kind === 'VirtualService') {
      const vs = res as VirtualService;
      const gws = (vs.spec.gateways ?? []).map((g) => gatewayKey(g, ns));
      const indexed: IndexedVirtualService = Object.freeze({
        resource: vs,
        hosts: (vs.spec.hosts ?? []).map((h) => resolveHost(h, ns)),
        gateways: gws.length ? gws : ['mesh'],
      });
      virtualServices.push(indexed);
      for (const g of indexed.gateways) {
        if (g === 'mesh') for (const h of indexed.hosts) push(vsByHost, h, indexed);
        else push(vsByGateway, g, indexed);
      }
    } else if (res.kind === 'DestinationRule') {
      const dr = res as DestinationRule;
      destinationRules.push(dr);
      push(drByHost, resolveHost(dr.spec.host, ns), dr);
    } else if (res.kind === 'Gateway') {
      gateways.push(res as Gateway);
    } else if (res.kind === 'Sidecar') {
      sidecars.push(res as Sidecar);
    } else if (res.kind === 'Telemetry') {
      telemetries.push(res as Telemetry);
    }
  }
  const frozenVsByHost = freezeIndex(vsByHost);
  const frozenVsByGateway = freezeIndex(vsByGateway);
  const frozenDrByHost = freezeIndex(drByHost);
  const frozenByKind = freezeIndex(byKind);
  const wildcardVsHosts = Object.keys(frozenVsByHost).filter((h) => h.startsWith('*'));
  const wildcardDrHosts = Object.keys(frozenDrByHost).filter((h) => h.startsWith('*'))
    .sort((a, b) => b.length - a.length);

  const version = input.version ?? createHash('sha1')
    .update(JSON.stringify(config.map((c) => [c.kind, c.metadata, c.spec])))
    .update(JSON.stringify(meshConfig))
    .update(JSON.stringify([...instancesIndex].map(([h, m]) => [h, [...m].map(([p, l]) => [p, l.map((i) => i.endpoint)])])))
    .digest('hex').slice(0, 12);

  const pc: PushContext = {
    version,
    config,
    services,
    workloads: Object.freeze([...registry.workloads()]),
    virtualServices: Object.freeze(virtualServices),
    destinationRules: Object.freeze(destinationRules),
    gateways: Object.freeze(gateways),
    sidecars: Object.freeze(sidecars),
    telemetries: Object.freeze(telemetries),
    meshConfig: Object.freeze(meshConfig),
    vsByHost: frozenVsByHost,
    vsByGateway: frozenVsByGateway,
    drByHost: frozenDrByHost,
    ofKind: <S>(kind: IstioKind) => (frozenByKind[kind] ?? []) as readonly ConfigResource<S>[],
    service: (h) => byHost.get(h),
    instances: (h, port) => instancesIndex.get(h)?.get(port) ?? [],
    resolveHost,
    virtualServicesForHost(hostname, proxy) {
      const exact = frozenVsByHost[hostname] ?? [];
      const wild = wildcardVsHosts.filter((p) => hostMatches(p, hostname)).flatMap((p) => frozenVsByHost[p]);
      return [...exact, ...wild].filter((v) => visibleTo(v.resource, proxy.namespace));
    },
    virtualServicesForGateway(key, proxy) {
      return (frozenVsByGateway[key] ?? []).filter((v) => visibleTo(v.resource, proxy.namespace));
    },
    destinationRule(hostname, proxy) {
      let rules: readonly DestinationRule[] | undefined = frozenDrByHost[hostname];
      if (!rules) {
        const pattern = wildcardDrHosts.find((p) => hostMatches(p, hostname));
        rules = pattern ? frozenDrByHost[pattern] : undefined;
      }
      if (!rules) return undefined;
      const visible = rules.filter((r) => visibleTo(r, proxy.namespace)
        && (!r.spec.workloadSelector?.matchLabels
          || (r.metadata.namespace === proxy.namespace && labelsMatch(r.spec.workloadSelector.matchLabels, proxy.labels))));
      if (visible.length === 0) return undefined;
      // Istio's precedence: the proxy's namespace, then the service's, then the root namespace.
      const svcNs = byHost.get(hostname)?.namespace;
      for (const ns of [proxy.namespace, svcNs, ROOT_NAMESPACE]) {
        if (!ns) continue;
        const group = visible.filter((r) => r.metadata.namespace === ns);
        if (group.length) return mergeRules(group, hostname);
      }
      const firstNs = visible[0].metadata.namespace;
      return mergeRules(visible.filter((r) => r.metadata.namespace === firstNs), hostname);
    },
    gatewaysForProxy(proxy) {
      return gateways.filter((g) => labelsMatch(g.spec.selector, proxy.labels));
    },
    sidecarForProxy(proxy) {
      const own = sidecars.filter((s) => s.metadata.namespace === proxy.namespace);
      return own.find((s) => s.spec.workloadSelector?.labels && labelsMatch(s.spec.workloadSelector.labels, proxy.labels))
        ?? own.find((s) => !s.spec.workloadSelector?.labels)
        ?? sidecars.find((s) => s.metadata.namespace === ROOT_NAMESPACE && !s.spec.workloadSelector?.labels);
    },
  };
  return Object.freeze(pc);
}
