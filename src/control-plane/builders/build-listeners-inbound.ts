/**
 * Sidecar inbound listeners. REDIRECT/TPROXY: `virtualInbound` on 15006 with a filter chain per
 * workload port. NONE (local mode): a listener per workload port bound to the workload's address.
 */
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { isHttpProtocol } from '../../registry/registry-protocol.js';
import { ORIGINAL_DST_LISTENER_FILTER_TYPE } from '../../xds/type-urls.js';
import type { PushContext } from '../push-context.js';
import { INBOUND_PASSTHROUGH_CLUSTER, inboundClusterName, socketAddress } from './build-common.js';
import { pathNormalizationFields } from './build-path-normalization.js';
import { hcmFilter, routerFilter, tcpFilters } from './build-http-filters.js';
import type { ListenerTelemetry } from './build-telemetry-filters.js';
import { inboundPorts, type InboundPort } from './build-inbound-ports.js';
import { SNIFFED_HTTP_PROTOCOLS } from './build-listeners-outbound.js';
import { buildAuthzFilters, type AuthzFilters } from './build-authz.js';

export const VIRTUAL_INBOUND_PORT = 15006;

function inboundRouteConfig(port: number): EnvoyResource {
  const cluster = inboundClusterName(port);
  return {
    name: cluster,
    virtual_hosts: [{
      name: `inbound|http|${port}`,
      domains: ['*'],
      routes: [{
        name: 'default',
        match: { prefix: '/' },
        route: { cluster, timeout: { seconds: 0 } },
        decorator: { operation: `${cluster}/*` },
      }],
    }],
    validate_clusters: { value: false },
  };
}

function httpFilters(p: InboundPort, telemetry: ListenerTelemetry, pathNormalization: EnvoyResource, authz: AuthzFilters): EnvoyResource[] {
  return [hcmFilter({
    statPrefix: `inbound_0.0.0.0_${p.port}`,
    routeConfig: inboundRouteConfig(p.port),
    // AuthorizationPolicy's RBAC filters (DENY, AUDIT, ALLOW) before the router
    httpFilters: [...authz.http, routerFilter()],
    telemetry,
    pathNormalization,
  })];
}

/**
 * The filter chains of a workload port: HTTP, TCP, or (protocol not declared) both, the HTTP one
 * taken when the first bytes are HTTP (Istio's protocol sniffing); `match` is added to each.
 */
function inboundChains(p: InboundPort, telemetry: ListenerTelemetry, match: Record<string, unknown>, normalization: EnvoyResource, authz: AuthzFilters): EnvoyResource[] {
  const cluster = inboundClusterName(p.port);
  // network RBAC before tcp_proxy (a TCP port is authorized per connection)
  const tcp = [...authz.tcp, ...tcpFilters(cluster, [{ name: cluster, weight: 1 }], telemetry)];
  const name = `0.0.0.0_${p.port}`;
  const withMatch = (m: Record<string, unknown>): Record<string, unknown> => (Object.keys(m).length ? { filter_chain_match: m } : {});
  if (isHttpProtocol(p.protocol)) return [{ name, ...withMatch(match), filters: httpFilters(p, telemetry, normalization, authz) }];
  if (!p.sniffed) return [{ name, ...withMatch(match), filters: tcp }];
  return [
    { name, filter_chain_match: { ...match, application_protocols: [...SNIFFED_HTTP_PROTOCOLS] }, filters: httpFilters(p, telemetry, normalization, authz) },
    { name, ...withMatch(match), filters: tcp },
  ];
}

export function inboundListeners(pc: PushContext, proxy: ProxyIdentity, telemetry: ListenerTelemetry): EnvoyResource[] {
  const ports = inboundPorts(pc, proxy);
  const normalization = pathNormalizationFields(pc.meshConfig);
  const authz = buildAuthzFilters(pc, proxy);
  if (proxy.interceptionMode === 'NONE') {
    if (!proxy.address) return [];
    return ports.map((p) => ({
      name: `${proxy.address}_${p.port}`,
      address: socketAddress(proxy.address, p.port),
      traffic_direction: 'INBOUND',
      filter_chains: inboundChains(p, telemetry, {}, normalization, authz).map(({ name: _n, ...c }) => c),
    }));
  }
  return [{
    name: 'virtualInbound',
    address: socketAddress('0.0.0.0', VIRTUAL_INBOUND_PORT),
    // TPROXY delivers connections still addressed to the pod's IP and port: the socket must accept them
    ...(proxy.interceptionMode === 'TPROXY' ? { transparent: { value: true } } : {}),
    traffic_direction: 'INBOUND',
    listener_filters: [{
      name: 'envoy.filters.listener.original_dst',
      typed_config: { '@type': ORIGINAL_DST_LISTENER_FILTER_TYPE },
    }],
    filter_chains: [
      ...ports.flatMap((p) => inboundChains(p, telemetry, { destination_port: { value: p.port } }, normalization, authz)),
      {
        name: 'virtualInbound-catchall-tcp',
        filters: [...authz.tcp, ...tcpFilters(INBOUND_PASSTHROUGH_CLUSTER, [{ name: INBOUND_PASSTHROUGH_CLUSTER, weight: 1 }], telemetry)],
      },
    ],
  }];
}
