/**
 * CDS: outbound clusters per service port and DestinationRule subset, inbound clusters for the
 * proxy's own workload ports, and Istio's fixed clusters (BlackHole, Passthrough, InboundPassthrough).
 */
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { jsonToStruct } from '../../xds/struct.js';
import type { MeshService, ServicePortInfo } from '../../registry/types.js';
import type { PushContext } from '../push-context.js';
import {
  adsConfigSource, BLACKHOLE_CLUSTER, DEFAULT_CONNECT_TIMEOUT, INBOUND_PASSTHROUGH_CLUSTER, inboundClusterName,
  outboundClusterName, PASSTHROUGH_CLUSTER, socketAddress,
} from './build-common.js';
import { applyTrafficPolicy, effectiveTrafficPolicy } from './build-cluster-traffic-policy.js';
import { buildLoadAssignment } from './build-load-assignment.js';
import { clusterTransport } from './build-cluster-tls.js';
import { inboundPorts } from './build-inbound-ports.js';
import { collectorClusters } from './build-telemetry-clusters.js';
import { isHttp2Protocol } from '../../registry/registry-protocol.js';
import { HTTP_PROTOCOL_OPTIONS_TYPE } from '../../xds/type-urls.js';

function outboundCluster(
  pc: PushContext, proxy: ProxyIdentity, svc: MeshService, sp: ServicePortInfo, subset: string | undefined,
): EnvoyResource {
  const name = outboundClusterName(sp.port, subset, svc.hostname);
  const c: EnvoyResource = { name };
  switch (svc.resolution) {
    case 'EDS':
      c.type = 'EDS';
      c.eds_cluster_config = { service_name: name, eds_config: adsConfigSource() };
      break;
    case 'STATIC':
      c.type = 'STATIC';
      break;
    case 'DNS':
      c.type = 'STRICT_DNS';
      c.dns_lookup_family = 'V4_ONLY';
      break;
    case 'DNS_ROUND_ROBIN':
      c.type = 'LOGICAL_DNS';
      c.dns_lookup_family = 'V4_ONLY';
      break;
    case 'NONE':
      c.type = 'ORIGINAL_DST';
      break;
  }
  const dr = pc.destinationRule(svc.hostname, proxy);
  const policy = effectiveTrafficPolicy(dr, subset, sp.port);
  applyTrafficPolicy(c, policy, sp.protocol);
  if (c.type === 'ORIGINAL_DST') {
    c.lb_policy = 'CLUSTER_PROVIDED';
    delete c.ring_hash_lb_config;
    delete c.maglev_lb_config;
  } else {
    Object.assign(c, clusterTransport(pc, proxy, svc, sp, subset, policy.tls, dr));
  }
  if (c.type === 'STATIC' || c.type === 'STRICT_DNS' || c.type === 'LOGICAL_DNS') {
    c.load_assignment = buildLoadAssignment(pc, proxy, name, svc, sp.port, subset);
  }
  return c;
}

function outboundClusters(pc: PushContext, proxy: ProxyIdentity): EnvoyResource[] {
  const out: EnvoyResource[] = [];
  for (const svc of pc.services) {
    const dr = pc.destinationRule(svc.hostname, proxy);
    for (const sp of svc.ports) {
      if (sp.protocol === 'UDP') continue;
      out.push(outboundCluster(pc, proxy, svc, sp, undefined));
      for (const s of dr?.spec.subsets ?? []) out.push(outboundCluster(pc, proxy, svc, sp, s.name));
    }
  }
  return out;
}

function inboundClusters(pc: PushContext, proxy: ProxyIdentity): EnvoyResource[] {
  return inboundPorts(pc, proxy).map((p) => {
    const name = inboundClusterName(p.port);
    const c: EnvoyResource = {
      name,
      type: 'STATIC',
      connect_timeout: { ...DEFAULT_CONNECT_TIMEOUT },
      lb_policy: 'ROUND_ROBIN',
      load_assignment: {
        cluster_name: name,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(p.appAddress, p.appPort) } }] }],
      },
    };
    // Under capture the app sees the sidecar's connections coming from 127.0.0.6 (Istio's
    // InboundPassthroughBindIpv4), which the capture rules let through untouched.
    if (proxy.interceptionMode !== 'NONE') c.upstream_bind_config = { source_address: { address: '127.0.0.6', port_value: 0 } };
    // Istio names the services behind an inbound port in the cluster's metadata; the proxy's
    // telemetry reads destination_service from it when the Host header is not trusted.
    if (p.services.length) c.metadata = { filter_metadata: { istio: jsonToStruct({ services: p.services }) } };
    // Like Istio, the app of an http2/grpc port is spoken to in HTTP/2 (a gRPC server accepts nothing else).
    if (isHttp2Protocol(p.protocol)) {
      c.typed_extension_protocol_options = {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': HTTP_PROTOCOL_OPTIONS_TYPE, explicit_http_config: { http2_protocol_options: {} } },
      };
    }
    return c;
  });
}

function fixedClusters(): EnvoyResource[] {
  return [
    { name: BLACKHOLE_CLUSTER, type: 'STATIC', connect_timeout: { ...DEFAULT_CONNECT_TIMEOUT } },
    {
      name: PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED',
      connect_timeout: { ...DEFAULT_CONNECT_TIMEOUT },
    },
    {
      name: INBOUND_PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED',
      connect_timeout: { ...DEFAULT_CONNECT_TIMEOUT },
      // Istio forwards inbound passthrough traffic from 127.0.0.6 so iptables can tell it apart.
      upstream_bind_config: { source_address: { address: '127.0.0.6', port_value: 0 } },
    },
  ];
}

/** Every cluster for the proxy, or only those in `names` when given (non-empty). */
export function buildClusters(pc: PushContext, proxy: ProxyIdentity, names?: string[]): EnvoyResource[] {
  const all = [...outboundClusters(pc, proxy), ...inboundClusters(pc, proxy), ...fixedClusters(), ...collectorClusters(pc, proxy)];
  if (!names || names.length === 0) return all;
  const wanted = new Set(names);
  return all.filter((c) => wanted.has(c.name as string));
}
