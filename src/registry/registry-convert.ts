/**
 * Turns Istio/Kubernetes config (Services, ServiceEntries, WorkloadEntries) and proxy identities
 * into the registry's platform-neutral model.
 */
import type {
  ConfigResource, KubeServiceSpec, ServiceEntrySpec, WorkloadEntrySpec,
} from '../config/types.js';
import type { ProxyIdentity } from '../xds/node-metadata.js';
import type { EndpointInfo, MeshService, Protocol, ServicePortInfo, Workload } from './types.js';
import { parseProtocol, protocolDeclared, protocolForKubePort, protocolFromPortName } from './registry-protocol.js';
import { serviceFqdn } from './registry-hosts.js';

export function servicesFromKube(res: ConfigResource<KubeServiceSpec>): MeshService[] {
  const spec = res.spec ?? {};
  const { name, namespace } = res.metadata;
  const ports: ServicePortInfo[] = (spec.ports ?? []).map((p) => ({
    name: p.name ?? '',
    port: p.port,
    targetPort: p.targetPort ?? p.port,
    protocol: protocolForKubePort(p),
    ...(p.protocol !== 'UDP' && !protocolDeclared(p.name, p.appProtocol) ? { sniffed: true } : {}),
  }));
  const clusterIP = spec.clusterIP && spec.clusterIP !== 'None' ? [spec.clusterIP] : [];
  return [{
    hostname: serviceFqdn(name, namespace),
    name,
    namespace,
    ports,
    selector: spec.selector,
    resolution: 'EDS',
    location: 'MESH_INTERNAL',
    addresses: clusterIP,
    ...(spec.clusterIP === 'None' ? { headless: true } : {}),
    origin: 'Service',
    ...kubeExportTo(res.metadata.annotations)
  }];
}

/** A Service's exportTo: the `networking.istio.io/exportTo` annotation, comma separated. */
function kubeExportTo(annotations: Record<string, string> | undefined): { exportTo?: string[] } {
  const list = (annotations?.['networking.istio.io/exportTo'] ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  return list.length > 0 ? { exportTo: list } : {};
}

function sePortProtocol(p: { protocol?: string; name: string }): Protocol {
  return parseProtocol(p.protocol) ?? protocolFromPortName(p.name);
}

/** One MeshService per ServiceEntry host (Istio does the same). */
export function servicesFromServiceEntry(res: ConfigResource<ServiceEntrySpec>): MeshService[] {
  const spec = res.spec;
  const namespace = res.metadata.namespace;
  const ports: ServicePortInfo[] = (spec.ports ?? []).map((p) => ({
    name: p.name,
    port: p.number,
    targetPort: p.targetPort ?? p.number,
    protocol: sePortProtocol(p),
    ...(!protocolDeclared(p.name, p.protocol) ? { sniffed: true } : {}),
  }));
  const resolution = spec.resolution ?? 'NONE';
  const location = spec.location ?? 'MESH_EXTERNAL';
  return (spec.hosts ?? []).map((host) => {
    const svc: MeshService = {
      hostname: host,
      name: host,
      namespace,
      ports,
      resolution: resolution === 'NONE' ? 'NONE' : resolution,
      location,
      addresses: spec.addresses ?? [],
      origin: 'ServiceEntry',
    };
    if (spec.exportTo && spec.exportTo.length > 0) svc.exportTo = [...spec.exportTo];
    if (spec.workloadSelector?.labels) svc.selector = spec.workloadSelector.labels;
    if (spec.endpoints && spec.endpoints.length > 0) {
      svc.staticEndpoints = spec.endpoints.flatMap((ep) => staticEndpoints(ep, ports, namespace));
    }
    return svc;
  });
}

/** Inline ServiceEntry endpoints: one EndpointInfo per service port (port from the endpoint's port map). */
function staticEndpoints(ep: WorkloadEntrySpec, ports: ServicePortInfo[], namespace: string): EndpointInfo[] {
  if (!ep.address) return [];
  return ports.map((sp) => {
    const info: EndpointInfo = {
      address: ep.address as string,
      port: ep.ports?.[sp.name] ?? (typeof sp.targetPort === 'number' ? sp.targetPort : sp.port),
      labels: ep.labels ?? {},
      namespace,
      healthy: true,
      servicePort: sp.port,
    };
    if (ep.locality) info.locality = ep.locality;
    if (ep.weight) info.weight = ep.weight;
    if (ep.serviceAccount) info.serviceAccount = ep.serviceAccount;
    return info;
  });
}

export function workloadFromEntry(res: ConfigResource<WorkloadEntrySpec>): Workload {
  const spec = res.spec ?? {};
  const w: Workload = {
    name: res.metadata.name,
    namespace: res.metadata.namespace,
    labels: { ...(res.metadata.labels ?? {}), ...(spec.labels ?? {}) },
    serviceAccount: spec.serviceAccount ?? 'default',
    address: spec.address ?? '',
    namedPorts: { ...(spec.ports ?? {}) },
    ports: Object.values(spec.ports ?? {}),
    origin: 'WorkloadEntry',
  };
  if (spec.locality) w.locality = spec.locality;
  if (spec.weight) w.weight = spec.weight;
  return w;
}

export function localityString(l: ProxyIdentity['locality']): string | undefined {
  if (!l || (!l.region && !l.zone && !l.sub_zone)) return undefined;
  return [l.region ?? '', l.zone ?? '', l.sub_zone ?? ''].join('/');
}

export function workloadFromProxy(proxyId: string, p: ProxyIdentity): Workload {
  const namedPorts: Record<string, number> = {};
  for (const pp of p.podPorts ?? []) if (pp.name) namedPorts[pp.name] = pp.containerPort;
  const w: Workload = {
    name: p.name,
    namespace: p.namespace,
    labels: { ...(p.labels ?? {}) },
    serviceAccount: p.serviceAccount,
    address: p.address,
    namedPorts,
    ports: (p.podPorts ?? []).map((pp) => pp.containerPort),
    origin: 'proxy',
    proxyId,
  };
  if (p.endpointPorts) w.endpointPorts = { ...p.endpointPorts };
  const loc = localityString(p.locality);
  if (loc) w.locality = loc;
  return w;
}
