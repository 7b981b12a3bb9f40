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
import { buildAuthzFilters } from './build-authz.js';

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

export function gatewayListeners(pc: PushContext, proxy: ProxyIdentity): EnvoyResource[] {
  const byPort = new Map<number, { servers: GatewayServer[]; keys: string[] }>();
  for (const gw of pc.gatewaysForProxy(proxy)) {
    const key = `${gw.metadata.namespace}/${gw.metadata.name}`;
    for (const s of gw.spec.servers ?? []) {
      const entry = byPort.get(s.port.number) ?? { servers: [], keys: [] };
      entry.servers.push(s);
      if (!entry.keys.includes(key)) entry.keys.push(key);
      byPort.set(s.port.number, entry);
    }
  }
  const out: EnvoyResource[] = [];
  const telemetry = listenerTelemetry(pc, proxy, 'gateway');
  // AuthorizationPolicies selecting the gateway's workload (or its Gateway by targetRef)
  const authz = buildAuthzFilters(pc, proxy);
  for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
    const { servers, keys } = byPort.get(port)!;
    const name = `0.0.0.0_${port}`;
    let filters: EnvoyResource[];
    if (servers.some(isGatewayHttpServer)) {
      filters = [hcmFilter({
        statPrefix: `outbound_${name}`, rds: `http.${port}`, httpFilters: [...authz.http, ...outboundHttpFilters()], useRemoteAddress: true, telemetry,
        pathNormalization: pathNormalizationFields(pc.meshConfig),
      })];
    } else {
      const clusters = gatewayTcpClusters(pc, proxy, keys, port);
      // TLS termination needs certificates (SDS), which Clew does not serve yet.
      if (clusters.length === 0) continue;
      filters = [...authz.tcp, ...tcpFilters(clusters.length === 1 ? clusters[0].name : name, clusters, telemetry)];
    }
    out.push({
      name,
      address: socketAddress('0.0.0.0', port),
      bind_to_port: { value: true },
      traffic_direction: 'OUTBOUND',
      filter_chains: [{ filters }],
    });
  }
  return out;
}
