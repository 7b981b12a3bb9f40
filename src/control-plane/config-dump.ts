/**
 * What the control plane generates for one connected proxy, in Envoy's /config_dump shape
 * (ClustersConfigDump, ListenersConfigDump, RoutesConfigDump, EndpointsConfigDump).
 */
import type { ControlPlane } from './control-plane.js';
import type { StreamStatus } from '../xds-server/index.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../xds/type-urls.js';
import { toEnvoyJson } from '../xds/envoy-json.js';

export function configDumpFor(cp: ControlPlane, stream: StreamStatus): unknown {
  const byType = new Map(stream.types.map((t) => [t.typeUrl, t]));
  const identity = cp.generator.identity(stream.stream);
  const gen = (typeUrl: string) => {
    const t = byType.get(typeUrl);
    const names = !t ? [] : t.subscribed === '*' ? undefined : t.subscribed;
    if (names && names.length === 0) return { version: t?.sentVersion ?? '', items: [] };
    return { version: t?.sentVersion ?? '', items: [...cp.generator.generate(typeUrl, identity, names).values()] };
  };
  const clusters = gen(CLUSTER_TYPE);
  const listeners = gen(LISTENER_TYPE);
  const routes = gen(ROUTE_TYPE);
  const endpoints = gen(ENDPOINT_TYPE);
  return {
    node: stream.stream.node,
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
        version_info: clusters.version,
        dynamic_active_clusters: clusters.items.map((c) => ({ version_info: clusters.version, cluster: toEnvoyJson({ '@type': CLUSTER_TYPE, ...c }) })),
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        version_info: listeners.version,
        dynamic_listeners: listeners.items.map((l) => ({
          name: l.name,
          active_state: { version_info: listeners.version, listener: toEnvoyJson({ '@type': LISTENER_TYPE, ...l }) },
        })),
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
        dynamic_route_configs: routes.items.map((r) => ({ version_info: routes.version, route_config: toEnvoyJson({ '@type': ROUTE_TYPE, ...r }) })),
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
        dynamic_endpoint_configs: endpoints.items.map((e) => ({ version_info: endpoints.version, endpoint_config: toEnvoyJson({ '@type': ENDPOINT_TYPE, ...e }) })),
      },
    ],
  };
}
