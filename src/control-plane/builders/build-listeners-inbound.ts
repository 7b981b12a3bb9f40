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

function inboundFilters(p: InboundPort, telemetry: ListenerTelemetry, pathNormalization: EnvoyResource): EnvoyResource[] {
  const cluster = inboundClusterName(p.port);
  if (isHttpProtocol(p.protocol)) {
    return [hcmFilter({
      statPrefix: `inbound_0.0.0.0_${p.port}`,
      routeConfig: inboundRouteConfig(p.port),
      httpFilters: [routerFilter()],
      telemetry,
      pathNormalization,
    })];
  }
  return tcpFilters(cluster, [{ name: cluster, weight: 1 }], telemetry);
}

export function inboundListeners(pc: PushContext, proxy: ProxyIdentity, telemetry: ListenerTelemetry): EnvoyResource[] {
  const ports = inboundPorts(pc, proxy);
  const normalization = pathNormalizationFields(pc.meshConfig);
  if (proxy.interceptionMode === 'NONE') {
    if (!proxy.address) return [];
    return ports.map((p) => ({
      name: `${proxy.address}_${p.port}`,
      address: socketAddress(proxy.address, p.port),
      traffic_direction: 'INBOUND',
      filter_chains: [{ filters: inboundFilters(p, telemetry, normalization) }],
    }));
  }
  return [{
    name: 'virtualInbound',
    address: socketAddress('0.0.0.0', VIRTUAL_INBOUND_PORT),
    traffic_direction: 'INBOUND',
    listener_filters: [{
      name: 'envoy.filters.listener.original_dst',
      typed_config: { '@type': ORIGINAL_DST_LISTENER_FILTER_TYPE },
    }],
    filter_chains: [
      ...ports.map((p) => ({
        name: `0.0.0.0_${p.port}`,
        filter_chain_match: { destination_port: { value: p.port } },
        filters: inboundFilters(p, telemetry, normalization),
      })),
      {
        name: 'virtualInbound-catchall-tcp',
        filters: tcpFilters(INBOUND_PASSTHROUGH_CLUSTER, [{ name: INBOUND_PASSTHROUGH_CLUSTER, weight: 1 }], telemetry),
      },
    ],
  }];
}
