/**
 * "Config that validates is config every proxy takes": builds CDS, LDS and RDS for a proxy from a
 * push context, sends them through the wire codec, and parses them with the proxy's own parsers
 * (what the proxy does when an update arrives). Throws with the proxy's NACK message otherwise.
 */
import { buildClusters, buildListeners, buildRoutes, type PushContext } from '../../src/control-plane/builders/index.js';
import { decodeResource, encodeResource, type EnvoyResource } from '../../src/xds/codec.js';
import type { ProxyIdentity } from '../../src/xds/node-metadata.js';
import { CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../src/xds/type-urls.js';
import { parseCluster } from '../../src/proxy/upstream/cluster-config.js';
import { parseListener, type ListenerParseContext } from '../../src/proxy/listener/listener-config.js';
import { RouteConfig } from '../../src/proxy/router/route-config.js';
import { parsePerRouteFilterConfig } from '../../src/proxy/filters/registry.js';
import { NOOP_OBSERVER } from '../../src/proxy/core/observer.js';
import type { RouteProvider } from '../../src/proxy/http/hcm-config.js';

function wire(typeUrl: string, r: EnvoyResource): EnvoyResource {
  return decodeResource(typeUrl, encodeResource(typeUrl, r));
}

export function proxyAccepts(pc: PushContext, proxy: ProxyIdentity): void {
  const resolveCluster = (name: string) => ({ name, cluster: undefined });
  const ctx: ListenerParseContext = {
    rdsProvider: (name: string): RouteProvider => ({ name, config: undefined, version: '', raw: undefined, lastUpdated: undefined }),
    resolveCluster,
    perFilterParser: parsePerRouteFilterConfig,
    observer: NOOP_OBSERVER,
    bindOverride: (_n, address, port) => ({ address, port }),
    proxyAddress: proxy.address,
  };
  for (const c of buildClusters(pc, proxy)) parseCluster(wire(CLUSTER_TYPE, c));
  const names = new Set<string>();
  for (const l of buildListeners(pc, proxy)) {
    const decoded = wire(LISTENER_TYPE, l);
    if (decoded.api_listener) continue;
    parseListener(decoded, ctx);
    for (const fc of [...(decoded.filter_chains ?? []), ...(decoded.default_filter_chain ? [decoded.default_filter_chain] : [])]) {
      for (const f of fc.filters ?? []) if (f.typed_config?.rds?.route_config_name) names.add(f.typed_config.rds.route_config_name);
    }
  }
  for (const rc of buildRoutes(pc, proxy, [...names])) new RouteConfig(wire(ROUTE_TYPE, rc), resolveCluster, parsePerRouteFilterConfig);
}
