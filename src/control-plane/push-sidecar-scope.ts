/**
 * What one proxy imports (Istio's SidecarScope): the services and mesh VirtualServices its
 * Sidecar's egress hosts select among those exported to its namespace, and the config it
 * depends on, so that a push for a change it does not import can skip it.
 *
 * Egress hosts are `namespace/dnsName`: `.` is the proxy's namespace, `*` any namespace, `~`
 * none; the name may be `*` or `*.suffix`. A service is imported when a host of its own namespace
 * covers it, else when a host of namespace `*` does (an explicit namespace entry hides the wildcard one, as in
 * Istio); a hostname imported from several namespaces keeps the proxy's own. A listener with a
 * port imports only that port of each service. A VirtualService is imported when one of its
 * hosts meets an egress host of its namespace (or of `*`); the services its routes send to are
 * imported with it (Istio infers them, preferring the proxy's namespace). Without a Sidecar (and
 * for gateways) the scope imports every host of every namespace: all that is exported to it.
 */
import type { Sidecar, VirtualService } from '../config/types.js';
import type { MeshService } from '../registry/types.js';
import { hostMatches, hostsIntersect } from '../registry/registry-hosts.js';

/** A mesh VirtualService as the scope needs it (the push context's index entry). */
export interface ScopeVirtualService {
  resource: VirtualService;
  hosts: string[];
  /** `ns/name` of the delegates merged into it */
  delegates?: readonly string[];
}

export interface SidecarScope {
  /** `ns/name` of the Sidecar, undefined for the default scope */
  readonly sidecar: string | undefined;
  readonly namespace: string;
  /** imported services, ports trimmed to the egress listener's port where it has one; by hostname */
  readonly services: readonly MeshService[];
  service(hostname: string): MeshService | undefined;
  importsVirtualService(vs: ScopeVirtualService): boolean;
  /** config keys (`Kind/namespace/name`) this scope was computed from */
  readonly configKeys: ReadonlySet<string>;
  /** hostnames of the imported services */
  readonly hostnames: ReadonlySet<string>;
}

export interface ScopeInput {
  namespace: string;
  sidecar: Sidecar | undefined;
  /** services exported to the namespace */
  services: readonly MeshService[];
  /** mesh VirtualServices exported to the namespace */
  virtualServices: readonly ScopeVirtualService[];
  /** resolved destination hosts of a VirtualService's routes */
  destinationHosts: (vs: ScopeVirtualService) => string[];
  /** `ns/name` of the DestinationRules that apply to a host for this namespace */
  destinationRuleSources: (hostname: string) => readonly string[];
}

interface EgressImport {
  /** namespace ('*' = any) → host patterns */
  hosts: Map<string, string[]>;
  port?: number;
}

function egressImports(sidecar: Sidecar | undefined, namespace: string): EgressImport[] {
  const egress = sidecar?.spec.egress ?? [];
  if (egress.length === 0) return [{ hosts: new Map([['*', ['*']]]) }];
  return egress.map((e) => {
    const hosts = new Map<string, string[]>();
    for (const h of e.hosts ?? []) {
      const slash = h.indexOf('/');
      if (slash < 0) continue;
      let ns = h.slice(0, slash);
      if (ns === '.') ns = namespace;
      const list = hosts.get(ns);
      if (list) list.push(h.slice(slash + 1));
      else hosts.set(ns, [h.slice(slash + 1)]);
    }
    // Istio's HTTP_PROXY egress listener is a generic proxy: it takes every port
    const port = e.port?.number && e.port.protocol?.toUpperCase() !== 'HTTP_PROXY' ? e.port.number : undefined;
    return { hosts, port };
  });
}

function withPort(svc: MeshService, port: number | undefined): MeshService | undefined {
  if (port === undefined) return svc;
  const p = svc.ports.find((sp) => sp.port === port);
  return p ? { ...svc, ports: [p] } : undefined;
}

export function computeSidecarScope(input: ScopeInput): SidecarScope {
  const { namespace, sidecar } = input;
  const imports = egressImports(sidecar, namespace);
  const configKeys = new Set<string>();
  if (sidecar) configKeys.add(`Sidecar/${sidecar.metadata.namespace}/${sidecar.metadata.name}`);

  const byHost = new Map<string, MeshService>();
  const add = (svc: MeshService | undefined): void => {
    if (!svc) return;
    const found = byHost.get(svc.hostname);
    if (!found) {
      byHost.set(svc.hostname, svc);
      return;
    }
    // listeners importing different ports of one service: the service keeps them all
    if (found.namespace !== svc.namespace) return;
    const ports = [...found.ports];
    for (const p of svc.ports) if (!ports.some((q) => q.port === p.port)) ports.push(p);
    byHost.set(svc.hostname, { ...found, ports });
  };

  const importedVs = new Set<ScopeVirtualService>();
  for (const imp of imports) {
    const wildcard = imp.hosts.get('*');
    const chosen: MeshService[] = [];
    for (const svc of input.services) {
      const patterns = imp.hosts.get(svc.namespace) ?? wildcard;
      if (!patterns || !patterns.some((p) => hostMatches(p, svc.hostname))) continue;
      const trimmed = withPort(svc, imp.port);
      if (trimmed) chosen.push(trimmed);
    }
    // one namespace per hostname: the proxy's own when it has one
    const owner = new Map<string, string>();
    for (const s of chosen) if (!owner.has(s.hostname) || s.namespace === namespace) owner.set(s.hostname, s.namespace);
    for (const s of chosen) if (owner.get(s.hostname) === s.namespace) add(s);

    for (const vs of input.virtualServices) {
      const vsNs = vs.resource.metadata.namespace;
      const patterns = [...(imp.hosts.get(vsNs) ?? []), ...(wildcard ?? [])];
      if (!vs.hosts.some((h) => patterns.some((p) => hostsIntersect(h, p)))) continue;
      importedVs.add(vs);
    }
  }
  for (const vs of importedVs) {
    configKeys.add(`VirtualService/${vs.resource.metadata.namespace}/${vs.resource.metadata.name}`);
    for (const d of vs.delegates ?? []) configKeys.add(`VirtualService/${d}`);
    for (const host of input.destinationHosts(vs)) {
      if (byHost.has(host)) continue;
      const candidates = input.services.filter((s) => s.hostname === host);
      const pick = candidates.find((s) => s.namespace === namespace)
        ?? [...candidates].sort((a, b) => (a.namespace < b.namespace ? -1 : 1))[0];
      if (!pick) continue;
      // with a port on every listener, the destination must have one of those ports
      const ports = imports.map((i) => i.port);
      add(ports.includes(undefined) ? pick : ports.map((p) => withPort(pick, p)).find(Boolean));
    }
  }
  const services = [...byHost.values()];
  for (const s of services) for (const src of input.destinationRuleSources(s.hostname)) configKeys.add(`DestinationRule/${src}`);
  return Object.freeze({
    sidecar: sidecar ? `${sidecar.metadata.namespace}/${sidecar.metadata.name}` : undefined,
    namespace,
    services: Object.freeze(services),
    service: (h: string) => byHost.get(h),
    importsVirtualService: (vs: ScopeVirtualService) => importedVs.has(vs),
    configKeys,
    hostnames: new Set(byHost.keys()),
  });
}
