/** Gateway (router) listeners: one `0.0.0.0_<port>` per Gateway server port selecting this proxy. */
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { GatewayServer } from '../../config/types.js';
import type { PushContext } from '../push-context.js';
import { pathNormalizationFields } from './build-path-normalization.js';
import { socketAddress } from './build-common.js';
import { hcmFilter, outboundHttpFilters, tcpFilters } from './build-http-filters.js';
import { listenerTelemetry } from './build-telemetry-filters.js';
import { resolveDestination } from './build-route-action.js';
import { matchApplies } from './build-route-match.js';
import { isGatewayHttpServer } from './build-routes.js';
import { gatewayTlsContext, httpsRouteName, isPassthrough, serverNames, terminatesTls } from './build-gateway-tls.js';
import { downstreamTlsSocket } from './build-tls-common.js';
import { TLS_INSPECTOR_TYPE } from '../../xds/type-urls.js';
import { buildAuthzFilters, type AuthzFilters } from './build-authz.js';

function gatewayTcpClusters(pc: PushContext, proxy: ProxyIdentity, gatewayKeys: string[], port: number): { name: string; weight: number }[] {
  for (const key of gatewayKeys) {
    for (const vs of pc.virtualServicesForGateway(key, proxy)) {
      const vsNamespace = vs.resource.metadata.namespace;
      const scope = { port, gateway: key, labels: proxy.labels, namespace: proxy.namespace, vsNamespace };
      for (const tcp of vs.resource.spec.tcp ?? []) {
        if (tcp.match?.length && !tcp.match.some((m) => matchApplies(m, scope))) continue;
        const routes = tcp.route ?? [];
        const dests = routes.map((d) => ({
          name: resolveDestination(d.destination, { pc, proxy, vsNamespace, port, proxyless: false }).cluster,
          weight: d.weight ?? (routes.length === 1 ? 100 : 0),
        })).filter((d) => d.weight > 0);
        if (dests.length) return dests;
      }
    }
  }
  return [];
}

/** SNI passthrough chains: VirtualService `tls` routes bound to the gateway, by their sniHosts. */
function passthroughChains(
  pc: PushContext, proxy: ProxyIdentity, gatewayKeys: string[], port: number, telemetry: ReturnType<typeof listenerTelemetry>, authz: AuthzFilters,
): EnvoyResource[] {
  const out: EnvoyResource[] = [];
  const seen = new Set<string>();
  for (const key of gatewayKeys) {
    for (const vs of pc.virtualServicesForGateway(key, proxy)) {
      const vsNamespace = vs.resource.metadata.namespace;
      const scope = { port, gateway: key, labels: proxy.labels, namespace: proxy.namespace, vsNamespace };
      for (const tls of vs.resource.spec.tls ?? []) {
        const routes = tls.route ?? [];
        const dests = routes.map((d) => ({
          name: resolveDestination(d.destination, { pc, proxy, vsNamespace, port: d.destination.port?.number ?? port, proxyless: false }).cluster,
          weight: d.weight ?? (routes.length === 1 ? 100 : 0),
        })).filter((d) => d.weight > 0);
        if (!dests.length) continue;
        for (const m of tls.match ?? []) {
          if (!matchApplies(m, scope)) continue;
          // the first route that claims an SNI name wins, as in Istio
          const names = m.sniHosts.filter((h) => !seen.has(h));
          if (!names.length) continue;
          for (const h of names) seen.add(h);
          out.push({
            filter_chain_match: { server_names: names },
            filters: [...authz.tcp, ...tcpFilters(dests.length === 1 ? dests[0].name : `${names[0]}:${port}`, dests, telemetry)],
          });
        }
      }
    }
  }
  return out;
}

export function gatewayListeners(pc: PushContext, proxy: ProxyIdentity): EnvoyResource[] {
  const byPort = new Map<number, { servers: GatewayServer[]; keys: string[]; owners: Map<GatewayServer, { name: string; namespace: string }> }>();
  for (const gw of pc.gatewaysForProxy(proxy)) {
    const key = `${gw.metadata.namespace}/${gw.metadata.name}`;
    for (const s of gw.spec.servers ?? []) {
      const entry = byPort.get(s.port.number) ?? { servers: [] as GatewayServer[], keys: [] as string[], owners: new Map<GatewayServer, { name: string; namespace: string }>() };
      entry.servers.push(s);
      entry.owners.set(s, { name: gw.metadata.name, namespace: gw.metadata.namespace });
      if (!entry.keys.includes(key)) entry.keys.push(key);
      byPort.set(s.port.number, entry);
    }
  }
  const out: EnvoyResource[] = [];
  const telemetry = listenerTelemetry(pc, proxy, 'gateway');
  // AuthorizationPolicies selecting the gateway's workload (or its Gateway by targetRef)
  const authz = buildAuthzFilters(pc, proxy);
  for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
    const { servers, keys, owners } = byPort.get(port)!;
    const name = `0.0.0.0_${port}`;
    const chains: EnvoyResource[] = [];
    // HTTPS servers: TLS terminated, then HTTP with the server's own routes; matched by SNI
    for (const s of servers.filter(terminatesTls)) {
      const owner = owners.get(s)!;
      const sni = serverNames(s);
      chains.push({
        ...(sni ? { filter_chain_match: { server_names: sni } } : {}),
        filters: [hcmFilter({
          statPrefix: `outbound_${name}`, rds: httpsRouteName(s, owner.name, owner.namespace), httpFilters: [...authz.http, ...outboundHttpFilters()], useRemoteAddress: true, telemetry,
          pathNormalization: pathNormalizationFields(pc.meshConfig),
        })],
        transport_socket: downstreamTlsSocket(gatewayTlsContext(s.tls!, true)),
      });
    }
    if (servers.some(isPassthrough)) chains.push(...passthroughChains(pc, proxy, keys, port, telemetry, authz));
    if (servers.some(isGatewayHttpServer)) {
      chains.push({
        filters: [hcmFilter({
          statPrefix: `outbound_${name}`, rds: `http.${port}`, httpFilters: [...authz.http, ...outboundHttpFilters()], useRemoteAddress: true, telemetry,
          pathNormalization: pathNormalizationFields(pc.meshConfig),
        })],
      });
    } else if (chains.length === 0) {
      const clusters = gatewayTcpClusters(pc, proxy, keys, port);
      if (clusters.length === 0) continue;
      chains.push({ filters: [...authz.tcp, ...tcpFilters(clusters.length === 1 ? clusters[0].name : name, clusters, telemetry)] });
    }
    if (chains.length === 0) continue;
    const tlsAware = chains.some((c) => c.transport_socket || c.filter_chain_match);
    out.push({
      name,
      address: socketAddress('0.0.0.0', port),
      bind_to_port: { value: true },
      traffic_direction: 'OUTBOUND',
      ...(tlsAware ? { listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TLS_INSPECTOR_TYPE } }] } : {}),
      filter_chains: chains,
    });
  }
  return out;
}
