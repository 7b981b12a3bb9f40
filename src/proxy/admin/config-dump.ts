/** /config_dump in Envoy's v3 admin shape, built from the last applied resources. */
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../xds/type-urls.js';
import type { ConfigApplier } from '../config/config-applier.js';
import type { ListenerManager } from '../listener/listener-manager.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { XdsNode } from '../../xds/node-metadata.js';
import { toEnvoyJson } from '../../xds/envoy-json.js';
import type { SecretManager } from '../secret/secret-manager.js';
import { secretsConfigDump } from './admin-secrets.js';

const j = (t: string, r: unknown): unknown => ({ '@type': t, ...(toEnvoyJson(r) as object) });

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

export function buildConfigDump(node: XdsNode, applier: ConfigApplier, clusters: ClusterManager, listeners: ListenerManager, secrets?: SecretManager): unknown {
  const v = applier.versions;
  const dynamicListeners = [...listeners.listeners.values()].map((l) => ({
    name: l.config.name,
    active_state: {
      version_info: l.version,
      listener: j(LISTENER_TYPE, l.config.raw),
      last_updated: l.lastUpdated.toISOString(),
    },
  }));
  return {
    configs: [
      { '@type': `${ADMIN}BootstrapConfigDump`, bootstrap: { node } },
      {
        '@type': `${ADMIN}ClustersConfigDump`,
        version_info: v[CLUSTER_TYPE] ?? '',
        dynamic_active_clusters: [...clusters.clusters.values()].map((c) => ({
          version_info: c.versionInfo,
          cluster: j(CLUSTER_TYPE, c.config.raw),
          last_updated: c.lastUpdated.toISOString(),
        })),
      },
      {
        '@type': `${ADMIN}ListenersConfigDump`,
        version_info: v[LISTENER_TYPE] ?? '',
        dynamic_listeners: dynamicListeners,
        // older (v2-era) readers look for this key
        dynamic_active_listeners: dynamicListeners.map((l) => l.active_state),
      },
      {
        '@type': `${ADMIN}RoutesConfigDump`,
        dynamic_route_configs: [...applier.routes.values()]
          .filter((p) => p.raw)
          .map((p) => ({
            version_info: p.version,
            route_config: j(ROUTE_TYPE, p.raw),
            last_updated: p.lastUpdated?.toISOString(),
          })),
      },
      {
        '@type': `${ADMIN}EndpointsConfigDump`,
        dynamic_endpoint_configs: [...clusters.assignments.values()].map((a) => ({
          version_info: a.version,
          endpoint_config: j(ENDPOINT_TYPE, a.resource),
          last_updated: a.lastUpdated.toISOString(),
        })),
      },
      ...(secrets ? [secretsConfigDump(secrets)] : []),
    ],
  };
}
