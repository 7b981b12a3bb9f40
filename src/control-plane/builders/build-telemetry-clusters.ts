/**
 * CDS clusters for tracing collectors that are not registry services: `outbound|<port>||<host>`,
 * STATIC for an IP, STRICT_DNS for a host name (Istio would drop such a provider; Clew keeps it
 * usable in local mode, where a collector is often just an address).
 */
import { isIP } from 'node:net';
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { PushContext } from '../push-context.js';
import { DEFAULT_CONNECT_TIMEOUT, socketAddress } from './build-common.js';
import { tracingCollectors } from './build-telemetry-filters.js';

export function collectorClusters(pc: PushContext, proxy: ProxyIdentity): EnvoyResource[] {
  const out = new Map<string, EnvoyResource>();
  for (const t of tracingCollectors(pc, proxy)) {
    const c = t.collector;
    if (c.inRegistry || out.has(c.cluster)) continue;
    const cluster: EnvoyResource = {
      name: c.cluster,
      type: isIP(c.host) ? 'STATIC' : 'STRICT_DNS',
      connect_timeout: { ...DEFAULT_CONNECT_TIMEOUT },
      lb_policy: 'ROUND_ROBIN',
      load_assignment: {
        cluster_name: c.cluster,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(c.host, c.port) } }] }],
      },
    };
    if (cluster.type === 'STRICT_DNS') cluster.dns_lookup_family = 'V4_ONLY';
    out.set(c.cluster, cluster);
  }
  return [...out.values()];
}
