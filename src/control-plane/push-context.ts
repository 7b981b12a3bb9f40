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
import { gatewayKey } from './push-gateway-key.js';
import { isDelegate, mergeDelegates } from './push-vs-delegation.js';
import { isExportedTo, meshDefaultExportTo } from './push-export-to.js';
import { computeSidecarScope, type SidecarScope } from './push-sidecar-scope.js';

export { gatewayKey };
export type { SidecarScope };

/** Istio's root namespace: config there applies mesh-wide when nothing more specific exists. */
export const ROOT_NAMESPACE = 'istio-system';

export interface ProxyScope {
  namespace: string;
  labels: Record<string, string>;
  /** `router` (a gateway) has no Sidecar scope: it sees everything exported to its namespace */
  type?: string;
}

/**
 * A VirtualService with its hosts resolved and its gateways normalised to `ns/name` or `mesh`.
 * A root VirtualService's `resource` has its delegates' routes merged in (push-vs-delegation.ts);
 * delegates (no hosts) are not indexed.
 */
export interface IndexedVirtualService {
  resource: VirtualService;
  hosts: string[];
  gateways: string[];
  /** `ns/name` of the delegates a root VirtualService names */
  delegates?: readonly string[];
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
  /** What the proxy imports: its Sidecar's egress hosts over what is exported to its namespace (computed once per Sidecar and namespace). */
  sidecarScope(proxy: ProxyScope): SidecarScope;
  /** exportTo (or the mesh default) of a service, VirtualService or DestinationRule admits `namespace` */
  serviceVisible(svc: MeshService, namespace: string): boolean;
  virtualServiceVisible(vs: VirtualService, namespace: string): boolean;
  destinationRuleVisible(dr: DestinationRule, namespace: string): boolean;
}

export interface PushContextInput {
  config: ConfigResource[];
  registry: ServiceRegistry;
  version?: string;
  /** default: Istio's default mesh config */
  meshConfig?: MeshConfig;
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

  const meshConfig = input.meshConfig ?? defaultMeshConfig();
  const svcExportDefault = meshDefaultExportTo(meshConfig, 'service');
  const vsExportDefault = meshDefaultExportTo(meshConfig, 'virtualService');
  const drExportDefault = meshDefaultExportTo(meshConfig, 'destinationRule');
  const serviceVisible = (svc: MeshService, ns: string): boolean => isExportedTo(svc.exportTo, svcExportDefault, svc.namespace, ns);
  const virtualServiceVisible = (vs: VirtualService, ns: string): boolean =>
    isExportedTo(vs.spec.exportTo, vsExportDefault, vs.metadata.namespace, ns);
  const destinationRuleVisible = (dr: DestinationRule, ns: string): boolean =>
    isExportedTo(dr.spec.exportTo, drExportDefault, dr.metadata.namespace, ns);
  const delegation = mergeDelegates({
    virtualServices: config.filter((c): c is VirtualService => c.kind === 'VirtualService'),
    resolveHost,
    exportedTo: virtualServiceVisible,
  });

  const virtualServices: IndexedVirtualService[] = [];
  const vsByHost = new Map<string, IndexedVirtualService[]>();
  const vsByGateway = new Map<string, IndexedVirtualService[]>();
  const destinationRules: DestinationRule[] = [];
  const drByHost = new Map<string, DestinationRule[]>();
  const gateways: Gateway[] = [];
  const sidecars: Sidecar[] = [];
  const telemetries: Telemetry[] = [];
  const byKind = new Map<string, ConfigResource[]>();
  for (const res of config) {
    const ns = res.metadata.namespace;
    push(byKind, res.kind, res);
    if (res.kind === 'VirtualService') {
      const vs = res as VirtualService;
      if (isDelegate(vs)) continue;
      const key = `${ns}/${vs.metadata.name}`;
      const gws = (vs.spec.gateways ?? []).map((g) => gatewayKey(g, ns));
      const delegates = delegation.delegatesOf.get(key);
      const indexed: IndexedVirtualService = Object.freeze({
        resource: delegation.merged.get(key) ?? vs,
        hosts: (vs.spec.hosts ?? []).map((h) => resolveHost(h, ns)),
        gateways: gws.length ? gws : ['mesh'],
        ...(delegates ? { delegates: Object.freeze(delegates) } : {}),
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

  const meshVirtualServices = virtualServices.filter((v) => v.gateways.includes('mesh'));
  const sidecarOf = (proxy: ProxyScope): Sidecar | undefined => {
    const own = sidecars.filter((s) => s.metadata.namespace === proxy.namespace);
    return own.find((s) => s.spec.workloadSelector?.labels && labelsMatch(s.spec.workloadSelector.labels, proxy.labels))
      ?? own.find((s) => !s.spec.workloadSelector?.labels)
      ?? sidecars.find((s) => s.metadata.namespace === ROOT_NAMESPACE && !s.spec.workloadSelector?.labels);
  };
  const scopes = new Map<string, SidecarScope>();
  const sidecarScope = (proxy: ProxyScope): SidecarScope => {
    const sidecar = proxy.type === 'router' ? undefined : sidecarOf(proxy);
    const key = `${proxy.namespace}|${sidecar ? `${sidecar.metadata.namespace}/${sidecar.metadata.name}` : ''}`;
    let scope = scopes.get(key);
    if (scope) return scope;
    const ns = proxy.namespace;
    scope = computeSidecarScope({
      namespace: ns,
      sidecar,
      services: services.filter((s) => serviceVisible(s, ns)),
      virtualServices: meshVirtualServices.filter((v) => virtualServiceVisible(v.resource, ns)),
      destinationHosts: (v) => destinationHosts(v.resource, resolveHost),
      // every rule for the host that the namespace can see (a scope is shared by proxies of any labels)
      destinationRuleSources: (h) => [...(frozenDrByHost[h] ?? []), ...wildcardDrHosts.filter((p) => hostMatches(p, h)).flatMap((p) => frozenDrByHost[p])]
        .filter((r) => destinationRuleVisible(r, ns)).map((r) => `${r.metadata.namespace}/${r.metadata.name}`),
    });
    scopes.set(key, scope);
    return scope;
  };

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
      const scope = sidecarScope(proxy);
      return [...new Set([...exact, ...wild])].filter((v) => virtualServiceVisible(v.resource, proxy.namespace) && scope.importsVirtualService(v));
    },
    virtualServicesForGateway(key, proxy) {
      return (frozenVsByGateway[key] ?? []).filter((v) => virtualServiceVisible(v.resource, proxy.namespace));
    },
    destinationRule(hostname, proxy) {
      let rules: readonly DestinationRule[] | undefined = frozenDrByHost[hostname];
      if (!rules) {
        const pattern = wildcardDrHosts.find((p) => hostMatches(p, hostname));
        rules = pattern ? frozenDrByHost[pattern] : undefined;
      }
      if (!rules) return undefined;
      const visible = rules.filter((r) => destinationRuleVisible(r, proxy.namespace)
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
    sidecarForProxy: sidecarOf,
    sidecarScope,
    serviceVisible,
    virtualServiceVisible,
    destinationRuleVisible,
  };
  return Object.freeze(pc);
}

/** The hosts a VirtualService's routes send to (http, tcp and tls destinations and mirrors), resolved. */
function destinationHosts(vs: VirtualService, resolve: (h: string, ns: string) => string): string[] {
  const ns = vs.metadata.namespace;
  const out = new Set<string>();
  for (const r of vs.spec.http ?? []) {
    // merged delegate routes carry hosts already resolved in the delegate's namespace
    for (const d of r.route ?? []) out.add(resolve(d.destination.host, ns));
    if (r.mirror) out.add(resolve(r.mirror.host, ns));
  }
  for (const r of [...(vs.spec.tcp ?? []), ...(vs.spec.tls ?? [])]) for (const d of r.route ?? []) out.add(resolve(d.destination.host, ns));
  return [...out];
}
