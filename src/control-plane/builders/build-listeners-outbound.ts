/** Sidecar outbound listeners: virtualOutbound (15001) and one `0.0.0.0_<port>` per service port. */
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { isIP } from 'node:net';
import type { MeshService, ServicePortInfo } from '../../registry/types.js';
import { pathNormalizationFields } from './build-path-normalization.js';
import { isHttpProtocol } from '../../registry/registry-protocol.js';
import type { PushContext } from '../push-context.js';
import { BLACKHOLE_CLUSTER, outboundClusterName, PASSTHROUGH_CLUSTER, socketAddress } from './build-common.js';
import { hcmFilter, outboundHttpFilters, tcpFilters } from './build-http-filters.js';
import type { ListenerTelemetry } from './build-telemetry-filters.js';
import { resolveDestination } from './build-route-action.js';
import { matchApplies } from './build-route-match.js';

export const VIRTUAL_OUTBOUND_PORT = 15001;

/** 15001: hands connections to the listener of their original destination; the rest pass through (or, REGISTRY_ONLY, are dropped). */
export function virtualOutboundListener(telemetry: ListenerTelemetry, mode: 'REGISTRY_ONLY' | 'ALLOW_ANY' = 'ALLOW_ANY'): EnvoyResource {
  const catchAll = mode === 'REGISTRY_ONLY' ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER;
  return {
    name: 'virtualOutbound',
    address: socketAddress('0.0.0.0', VIRTUAL_OUTBOUND_PORT),
    use_original_dst: { value: true },
    traffic_direction: 'OUTBOUND',
    filter_chains: [{
      name: 'virtualOutbound-catchall-tcp',
      filters: tcpFilters(catchAll, [{ name: catchAll, weight: 1 }], telemetry),
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

/** What a sniffing listener treats as HTTP (Envoy's http_inspector results). */
export const SNIFFED_HTTP_PROTOCOLS = ['http/1.0', 'http/1.1', 'h2c'];

function tcpChain(pc: PushContext, proxy: ProxyIdentity, svc: MeshService, port: number, telemetry: ListenerTelemetry): EnvoyResource {
  const dests = tcpDestinations(pc, proxy, svc, port);
  return { filters: tcpFilters(dests.length === 1 ? dests[0].name : `${svc.hostname}:${port}`, dests, telemetry) };
}

function httpChain(pc: PushContext, port: number, telemetry: ListenerTelemetry, sniffed: boolean): EnvoyResource {
  const name = `0.0.0.0_${port}`;
  const hcm = hcmFilter({ statPrefix: `outbound_${name}`, rds: String(port), httpFilters: outboundHttpFilters({ sidecar: true }), telemetry, pathNormalization: pathNormalizationFields(pc.meshConfig) });
  return sniffed ? { filter_chain_match: { application_protocols: [...SNIFFED_HTTP_PROTOCOLS] }, filters: [hcm] } : { filters: [hcm] };
}

/** A service's IPv4 virtual IPs (CIDR addresses of ServiceEntries are not listener addresses). */
function serviceVips(svc: MeshService): string[] {
  return svc.addresses.filter((a) => isIP(a) === 4);
}

function listener(name: string, address: string, port: number, chains: EnvoyResource[]): EnvoyResource {
  return {
    name,
    address: socketAddress(address, port),
    bind_to_port: { value: false },
    traffic_direction: 'OUTBOUND',
    filter_chains: chains,
  };
}

/**
 * Outbound listeners keyed as Istio keys them (virtualOutbound hands a connection to the one for
 * its original destination): a port with an HTTP service is one `0.0.0.0_<port>` listener with
 * an HCM (routes pick the service by Host); a TCP service with a virtual IP gets its own
 * `<vip>_<port>`; a TCP service without one owns `0.0.0.0_<port>` (the first, by hostname). On
 * ports whose protocol is not declared, HTTP is sniffed: an HTTP chain for `http/1.x`/`h2c`
 * next to the TCP chain.
 */
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
    const portOf = (s: MeshService): ServicePortInfo => s.ports.find((p) => p.port === port)!;
    // One HTTP service makes the wildcard listener HTTP (routes then pick the service by Host).
    const http = services.some((s) => isHttpProtocol(portOf(s).protocol));
    let wildcard: EnvoyResource[] | undefined = http ? [httpChain(pc, port, telemetry, false)] : undefined;
    const vipListeners: EnvoyResource[] = [];
    for (const svc of services) {
      const sp = portOf(svc);
      if (isHttpProtocol(sp.protocol)) continue;
      const chains = sp.sniffed ? [httpChain(pc, port, telemetry, true), tcpChain(pc, proxy, svc, port, telemetry)] : [tcpChain(pc, proxy, svc, port, telemetry)];
      const vips = serviceVips(svc);
      if (vips.length > 0) {
        const l = listener(`${vips[0]}_${port}`, vips[0], port, chains);
        if (vips.length > 1) l.additional_addresses = vips.slice(1).map((a) => ({ address: socketAddress(a, port) }));
        vipListeners.push(l);
      } else {
        // without an address to tell services apart the first one owns the port
        wildcard ??= chains;
      }
    }
    if (wildcard) out.push(listener(`0.0.0.0_${port}`, '0.0.0.0', port, wildcard));
    out.push(...vipListeners);
  }
  return out;
}
