/** Computes the endpoints of one service port from the workloads a service selects. */
import type { EndpointInfo, MeshService, ServicePortInfo, Workload } from './types.js';
import { labelsMatch } from './registry-labels.js';

/** The workload port a service port targets, or undefined when the workload cannot serve it. */
export function workloadPortFor(w: Workload, sp: ServicePortInfo): number | undefined {
  if (typeof sp.targetPort === 'string') {
    const n = Number(sp.targetPort);
    if (Number.isInteger(n) && n > 0) return n;
    return w.namedPorts[sp.targetPort];
  }
  // A WorkloadEntry may remap a port by the service port's name (Istio's ServiceEntry behaviour).
  if (w.origin === 'WorkloadEntry' && sp.name && w.namedPorts[sp.name] !== undefined) return w.namedPorts[sp.name];
  return sp.targetPort;
}

function endpointOf(w: Workload, port: number): EndpointInfo {
  const ep: EndpointInfo = {
    address: w.address,
    // a local pod on a shared address serves its workload port on a port of its own
    port: w.endpointPorts?.[String(port)] ?? port,
    labels: w.labels,
    workloadName: w.name,
    namespace: w.namespace,
    serviceAccount: w.serviceAccount,
    healthy: true,
  };
  if (w.locality) ep.locality = w.locality;
  if (w.weight) ep.weight = w.weight;
  // Istio's injector labels pods with a sidecar security.istio.io/tlsMode=istio; a proxy-registered
  // workload has one unless it says otherwise
  const label = w.labels[TLS_MODE_LABEL];
  if (label === 'istio' || (w.origin === 'proxy' && label !== 'disabled')) ep.tlsMode = 'istio';
  return ep;
}

export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

export function endpointsFor(svc: MeshService, sp: ServicePortInfo, workloads: Workload[]): EndpointInfo[] {
  const out: EndpointInfo[] = [];
  for (const ep of svc.staticEndpoints ?? []) {
    if (ep.servicePort === undefined || ep.servicePort === sp.port) out.push(ep);
  }
  if (svc.selector && Object.keys(svc.selector).length > 0) {
    for (const w of workloads) {
      if (w.namespace !== svc.namespace || !w.address) continue;
      // A proxy that declares no ports (e.g. a proxyless client) is a client only.
      if (w.origin === 'proxy' && (w.ports ?? []).length === 0) continue;
      if (!labelsMatch(svc.selector, w.labels)) continue;
      const port = workloadPortFor(w, sp);
      if (port !== undefined) out.push(endpointOf(w, port));
    }
  }
  // A DNS ServiceEntry without endpoints resolves its own host name.
  if ((svc.resolution === 'DNS' || svc.resolution === 'DNS_ROUND_ROBIN') && out.length === 0
    && !svc.selector && !svc.staticEndpoints && !svc.hostname.includes('*')) {
    out.push({
      address: svc.hostname,
      port: typeof sp.targetPort === 'number' ? sp.targetPort : sp.port,
      labels: {},
      namespace: svc.namespace,
      healthy: true,
    });
  }
  return out;
}
