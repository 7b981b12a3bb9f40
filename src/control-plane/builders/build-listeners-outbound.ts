/** Sidecar outbound listeners: virtualOutbound (15001) and one `0.0.0.0_<port>` per service port. */
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { MeshService } from '../../registry/types.js';
import { pathNormalizationFields } from './build-path-normalization.js';
import { isHttpProtocol } from '../../registry/registry-protocol.js';
import type { PushContext } from '../push-context.js';
import { outboundClusterName, PASSTHROUGH_CLUSTER, socketAddress } from './build-common.js';
import { hcmFilter, outboundHttpFilters, tcpFilters } from './build-http-filters.js';
import type { ListenerTelemetry } from './build-telemetry-filters.js';
import { resolveDestination } from './build-route-action.js';
import { matchApplies } from './build-route-match.js';

export const VIRTUAL_OUTBOUND_PORT = 15001;

export function virtualOutboundListener(telemetry: ListenerTelemetry): EnvoyResource {
  return {
    name: 'virtualOutbound',
    address: socketAddress('0.0.0.0', VIRTUAL_OUTBOUND_PORT),
    use_original_dst: { value: true },
    traffic_direction: 'OUTBOUND',
    filter_chains: [{
      name: 'virtualOutbound-catchall-tcp',
      filters: tcpFilters(PASSTHROUGH_CLUSTER, [{ name: PASSTHROUGH_CLUSTER, weight: 1 }], telemetry),
    }],
  };
}

/** TCP destinations for a service port: the first applicable VirtualService tcp route, else the service. */
export function tcpDestinations(pc: PushContext, proxy: ProxyIdentity, svc: MeshService, port: number, gateway?: string): { name: string; weight: number }[] {
  for (const vs of pc.virtualServicesForHost(svc.hostname, proxy)) {
    const vsNamespace = vs.resource.metadata.namespace;
    const scope = { port, gateway, labels: proxy.labels, namespace: proxy.namespace, vsNamespace };
    for (const tcp of vs.resource.spec.tcp ?? []) {
      if (tcp.match?.length && !tcp.match.some((m) => matchApplies(m, scope))) continue;
      const dests = (tcp.route ?? []).map((d) => ({
        name: resolveDestination(d.destination, { pc, proxy, vsNamespace, port, proxyless: false }).cluster,
        weight: d.weight ?? (tcp.route!.length === 1 ? 100 : 0),
      })).filter((d) => d.weight > 0);
      if (dests.length) return dests;
    }
  }
  return [{ name: outboundClusterName(port, undefined, svc.hostname), weight: 100 }];
}

function tcpChains(pc: PushContext, proxy: ProxyIdentity, services: MeshService[], port: number, telemetry: ListenerTelemetry): EnvoyResource[] {
  const chains: EnvoyResource[] = [];
  let fallback: EnvoyResource | undefined;
  for (const svc of services) {
    const dests = tcpDestinations(pc, proxy, svc, port);
    const filters = tcpFilters(dests.length === 1 ? dests[0].name : `${svc.hostname}:${port}`, dests, telemetry);
    const ips = svc.addresses.filter((a) => /^[\d.]+$/.test(a));
    if (ips.length) {
      chains.push({
        filter_chain_match: { prefix_ranges: ips.map((ip) => ({ address_prefix: ip, prefix_len: { value: 32 } })) },
        filters,
      });
    } else {
      // Without an address to tell services apart the first one owns the port.
      fallback ??= { filters };
    }
  }
  if (fallback) chains.push(fallback);
  return chains;
}

export function outboundListeners(pc: PushContext, proxy: ProxyIdentity, telemetry: ListenerTelemetry): EnvoyResource[] {
  const byPort = new Map<number, MeshService[]>();
  for (const svc of [...pc.services].sort((a, b) => (a.hostname < b.hostname ? -1 : 1))) {
    for (const sp of svc.ports) {
      if (sp.protocol === 'UDP') continue;
      const list = byPort.get(sp.port);
      if (list) list.push(svc);
      else byPort.set(sp.port, [svc]);
    }
  }
  const out: EnvoyResource[] = [];
  for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
    const services = byPort.get(port)!;
    // One HTTP service makes the whole port HTTP (routes then pick the service by Host).
    const http = services.some((s) => isHttpProtocol(s.ports.find((p) => p.port === port)!.protocol));
    const name = `0.0.0.0_${port}`;
    const chains = http
      ? [{ filters: [hcmFilter({ statPrefix: `outbound_${name}`, rds: String(port), httpFilters: outboundHttpFilters(), telemetry, pathNormalization: pathNormalizationFields(pc.meshConfig) })] }]
      : tcpChains(pc, proxy, services, port, telemetry);
    out.push({
      name,
      address: socketAddress('0.0.0.0', port),
      bind_to_port: { value: false },
      traffic_direction: 'OUTBOUND',
      filter_chains: chains,
    });
  }
  return out;
}
