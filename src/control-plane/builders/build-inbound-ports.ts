/** The ports a proxy's own workload serves, with the protocol of the service port that targets each. */
import type { Protocol, Workload } from '../../registry/types.js';
import { labelsMatch } from '../../registry/registry-labels.js';
import { protocolDeclared, protocolFromPortName } from '../../registry/registry-protocol.js';
import { workloadPortFor } from '../../registry/registry-endpoints.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { PushContext } from '../push-context.js';
import { splitHostPort } from './build-common.js';

export interface InboundPort {
  port: number;
  protocol: Protocol;
  /** no protocol declared: HTTP is sniffed, the rest is TCP */
  sniffed: boolean;
  /** Where the app listens for this port. */
  appAddress: string;
  appPort: number;
  /** the services whose ports target this one (Istio records them in the inbound cluster's metadata) */
  services: Array<{ host: string; name: string; namespace: string }>;
}

export function inboundPorts(pc: PushContext, proxy: ProxyIdentity): InboundPort[] {
  if (proxy.type === 'router' || (proxy.podPorts ?? []).length === 0) return [];
  const namedPorts: Record<string, number> = {};
  for (const p of proxy.podPorts) if (p.name) namedPorts[p.name] = p.containerPort;
  const self: Workload = {
    name: proxy.name, namespace: proxy.namespace, labels: proxy.labels, serviceAccount: proxy.serviceAccount,
    address: proxy.address, namedPorts, origin: 'proxy', ports: proxy.podPorts.map((p) => p.containerPort),
  };
  const found = new Map<number, Protocol>();
  const sniffed = new Set<number>();
  const servicesOf = new Map<number, InboundPort['services']>();
  for (const svc of pc.services) {
    if (svc.namespace !== proxy.namespace || !svc.selector || Object.keys(svc.selector).length === 0) continue;
    if (!labelsMatch(svc.selector, proxy.labels)) continue;
    for (const sp of svc.ports) {
      const port = workloadPortFor(self, sp);
      if (port === undefined || sp.protocol === 'UDP') continue;
      if (!found.has(port)) {
        found.set(port, sp.protocol);
        if (sp.sniffed) sniffed.add(port);
      }
      const list = servicesOf.get(port) ?? [];
      if (!list.some((s) => s.host === svc.hostname)) list.push({ host: svc.hostname, name: svc.name, namespace: svc.namespace });
      servicesOf.set(port, list);
    }
  }
  for (const p of proxy.podPorts) {
    if (!found.has(p.containerPort) && p.protocol !== 'UDP') {
      found.set(p.containerPort, protocolFromPortName(p.name));
      if (!protocolDeclared(p.name)) sniffed.add(p.containerPort);
    }
  }
  return [...found].sort((a, b) => a[0] - b[0]).map(([port, protocol]) => {
    const app = splitHostPort(proxy.appPorts?.[String(port)] ?? '');
    return { port, protocol, sniffed: sniffed.has(port), appAddress: app?.host ?? '127.0.0.1', appPort: app?.port ?? port, services: servicesOf.get(port) ?? [] };
  });
}
