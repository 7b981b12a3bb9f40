/** Hand-written Envoy resources in Clew's object form, shaped like the control plane's. */
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { FAULT_TYPE, HCM_TYPE, ROUTER_TYPE, TCP_PROXY_TYPE } from '../../../src/xds/type-urls.js';

export function socketAddress(address: string, port: number): EnvoyResource {
  return { socket_address: { address, port_value: port } };
}

export function edsCluster(name: string, extra: EnvoyResource = {}): EnvoyResource {
  return { name, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} }, service_name: name }, connect_timeout: { seconds: 1 }, ...extra };
}

export function staticCluster(name: string, endpoints: Array<[string, number]>, extra: EnvoyResource = {}): EnvoyResource {
  return { name, type: 'STATIC', connect_timeout: { seconds: 1 }, load_assignment: assignment(name, endpoints), ...extra };
}

export function assignment(name: string, endpoints: Array<[string, number]>, extra: { priority?: number } = {}): EnvoyResource {
  return {
    cluster_name: name,
    endpoints: [{ priority: extra.priority ?? 0, lb_endpoints: endpoints.map(([a, p]) => ({ endpoint: { address: socketAddress(a, p) } })) }],
  };
}

export function passthroughCluster(): EnvoyResource {
  return { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: { seconds: 1 } };
}

export function blackHoleCluster(): EnvoyResource {
  return { name: 'BlackHoleCluster', type: 'STATIC', connect_timeout: { seconds: 1 } };
}

export const routerFilter = { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } };
export const faultFilter = { name: 'envoy.filters.http.fault', typed_config: { '@type': FAULT_TYPE } };

export function hcm(routeName: string, filters: EnvoyResource[] = [routerFilter], extra: EnvoyResource = {}): EnvoyResource {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HCM_TYPE,
      stat_prefix: routeName,
      rds: { config_source: { ads: {} }, route_config_name: routeName },
      http_filters: filters,
      upgrade_configs: [{ upgrade_type: 'websocket' }],
      ...extra,
    },
  };
}

export function tcpProxy(cluster: string): EnvoyResource {
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY_TYPE, stat_prefix: cluster, cluster } };
}

/** virtualOutbound: use_original_dst, passthrough TcpProxy as the catch-all chain. */
export function virtualOutbound(port = 15001, address = '127.0.0.1'): EnvoyResource {
  return {
    name: 'virtualOutbound',
    address: socketAddress(address, port),
    use_original_dst: { value: true },
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ name: 'virtualOutbound-catchall-tcp', filters: [tcpProxy('PassthroughCluster')] }],
  };
}

/** An outbound per-port listener (bind_to_port false) with HCM on RDS `<port>`. */
export function outboundHttpListener(port: number, filters?: EnvoyResource[], hcmExtra?: EnvoyResource): EnvoyResource {
  return {
    name: `0.0.0.0_${port}`,
    address: socketAddress('0.0.0.0', port),
    bind_to_port: { value: false },
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ filters: [hcm(String(port), filters, hcmExtra)] }],
  };
}

export function outboundTcpListener(port: number, cluster: string): EnvoyResource {
  return {
    name: `0.0.0.0_${port}`,
    address: socketAddress('0.0.0.0', port),
    bind_to_port: { value: false },
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ filters: [tcpProxy(cluster)] }],
  };
}

/** A bound listener (gateway / inbound in local mode). */
export function boundHttpListener(name: string, address: string, port: number, routeName: string, filters?: EnvoyResource[], hcmExtra?: EnvoyResource): EnvoyResource {
  return { name, address: socketAddress(address, port), filter_chains: [{ filters: [hcm(routeName, filters, hcmExtra)] }] };
}

export function routeConfig(name: string, virtualHosts: EnvoyResource[], extra: EnvoyResource = {}): EnvoyResource {
  return { name, virtual_hosts: virtualHosts, validate_clusters: { value: false }, ...extra };
}

export function vhost(name: string, domains: string[], routes: EnvoyResource[], extra: EnvoyResource = {}): EnvoyResource {
  return { name, domains, routes, ...extra };
}

export function route(match: EnvoyResource, cluster: string, extraAction: EnvoyResource = {}, extra: EnvoyResource = {}): EnvoyResource {
  return { match, route: { cluster, ...extraAction }, ...extra };
}
