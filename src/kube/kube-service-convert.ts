/**
 * Kubernetes objects → the registry's platform-neutral model: a Service (ports with appProtocol
 * or a named protocol, selector, every ClusterIP, headless = passthrough, ExternalName = DNS), the
 * endpoints of its EndpointSlices (ready ones, each with its pod's labels and service account,
 * locality from the pod's `istio-locality` label or its node's topology labels and the
 * endpoint's zone), and a Pod as a workload.
 */
import type { EndpointInfo, MeshService, ServicePortInfo, Workload } from '../registry/types.js';
import { protocolForKubePort } from '../registry/registry-protocol.js';
import { serviceFqdn } from '../registry/registry-hosts.js';
import { TLS_MODE_LABEL } from '../registry/registry-endpoints.js';
import type { KubeObject } from './kube-client.js';

const DECLARED = /^(http|http2|grpc|grpc-web|https|tcp|tls|mongo|redis|mysql|udp)(-|$)/i;

export function serviceFromKube(svc: KubeObject): MeshService {
  const spec = svc.spec ?? {};
  const { name } = svc.metadata;
  const namespace = svc.metadata.namespace ?? 'default';
  const ports: ServicePortInfo[] = (spec.ports ?? []).map((p: any) => {
    const port: ServicePortInfo = {
      name: p.name ?? '',
      port: p.port,
      targetPort: p.targetPort ?? p.port,
      protocol: protocolForKubePort(p),
    };
    if (p.protocol !== 'UDP' && !p.appProtocol && !DECLARED.test(p.name ?? '')) port.sniffed = true;
    return port;
  });
  const ips: string[] = (spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])).filter((ip: string) => ip && ip !== 'None');
  const out: MeshService = {
    hostname: serviceFqdn(name, namespace),
    name,
    namespace,
    ports,
    resolution: 'EDS',
    location: 'MESH_INTERNAL',
    addresses: ips,
    origin: 'Service',
  };
  if (spec.selector && Object.keys(spec.selector).length > 0) out.selector = { ...spec.selector };
  if (spec.type === 'ExternalName' && spec.externalName) {
    // Istio: an ExternalName Service is a DNS service whose endpoint is the external name
    out.resolution = 'DNS';
    out.location = 'MESH_EXTERNAL';
    out.staticEndpoints = ports.map((sp) => ({
      address: spec.externalName, port: typeof sp.targetPort === 'number' ? sp.targetPort : sp.port,
      labels: {}, namespace, healthy: true, servicePort: sp.port,
    }));
  } else if (spec.clusterIP === 'None') {
    // headless: the caller's own destination address is kept (Istio's Passthrough resolution)
    out.resolution = 'NONE';
  }
  return out;
}

/** `region/zone/subzone` for an endpoint: the pod's istio-locality label, else node labels and the endpoint's zone. */
export function localityOf(pod: KubeObject | undefined, node: KubeObject | undefined, zone: string | undefined): string | undefined {
  const podLoc = pod?.metadata.labels?.['istio-locality'];
  if (podLoc) return podLoc.split('.').join('/');
  const labels = node?.metadata.labels ?? {};
  const region = labels['topology.kubernetes.io/region'] ?? '';
  const z = zone ?? labels['topology.kubernetes.io/zone'] ?? '';
  const sub = labels['topology.istio.io/subzone'] ?? '';
  if (!region && !z && !sub) return undefined;
  return `${region}/${z}/${sub}`;
}

export interface SliceContext {
  pod(namespace: string, name: string): KubeObject | undefined;
  node(name: string): KubeObject | undefined;
}

/**
 * Endpoints of one service port from the slices of its Service. Istio sends only ready endpoints
 * (a terminating endpoint has ready=false); `ready` unset means ready.
 */
export function endpointsFromSlices(svc: MeshService, sp: ServicePortInfo, slices: KubeObject[], ctx: SliceContext): EndpointInfo[] {
  const out: EndpointInfo[] = [];
  for (const slice of slices) {
    const sport = ((slice as any).ports ?? []).find((p: any) => (p.name ?? '') === sp.name && (p.protocol ?? 'TCP') !== 'SCTP');
    if (!sport || typeof sport.port !== 'number') continue;
    for (const ep of ((slice as any).endpoints ?? []) as any[]) {
      if (ep.conditions?.ready === false) continue;
      const ref = ep.targetRef?.kind === 'Pod' ? ep.targetRef : undefined;
      const pod = ref ? ctx.pod(ref.namespace ?? svc.namespace, ref.name) : undefined;
      const node = ep.nodeName ? ctx.node(ep.nodeName) : (pod?.spec?.nodeName ? ctx.node(pod.spec.nodeName) : undefined);
      for (const address of (ep.addresses ?? []) as string[]) {
        const info: EndpointInfo = {
          address,
          port: sport.port,
          labels: { ...(pod?.metadata.labels ?? {}) },
          namespace: svc.namespace,
          healthy: true,
        };
        // the injector's label says the pod has a sidecar: auto mTLS selects this endpoint
        if (info.labels[TLS_MODE_LABEL] === 'istio') info.tlsMode = 'istio';
        if (pod) {
          info.workloadName = pod.metadata.name;
          info.serviceAccount = pod.spec?.serviceAccountName ?? 'default';
        }
        const loc = localityOf(pod, node, ep.zone);
        if (loc) info.locality = loc;
        out.push(info);
      }
    }
  }
  out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
  return out;
}

/** A running pod with an IP as a workload (its container ports are its named ports). */
export function workloadFromPod(pod: KubeObject, node: KubeObject | undefined): Workload | undefined {
  const ip = pod.status?.podIP;
  if (!ip || pod.status?.phase !== 'Running' || pod.metadata.deletionTimestamp) return undefined;
  const namedPorts: Record<string, number> = {};
  const ports: number[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (typeof p.containerPort !== 'number') continue;
      ports.push(p.containerPort);
      if (p.name) namedPorts[p.name] = p.containerPort;
    }
  }
  const w: Workload = {
    name: pod.metadata.name,
    namespace: pod.metadata.namespace ?? 'default',
    labels: { ...(pod.metadata.labels ?? {}) },
    serviceAccount: pod.spec?.serviceAccountName ?? 'default',
    address: ip,
    namedPorts,
    ports,
    origin: 'Pod',
  };
  const loc = localityOf(pod, node, undefined);
  if (loc) w.locality = loc;
  return w;
}
