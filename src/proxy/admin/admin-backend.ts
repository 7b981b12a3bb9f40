/** The proxy's answers to admin requests (text formats follow Envoy's). */
import type { XdsNode } from '../../xds/node-metadata.js';
import type { ConfigApplier } from '../config/config-applier.js';
import type { ListenerManager } from '../listener/listener-manager.js';
import type { StatsStore } from '../../stats/stats-store.js';
import { prometheusChunks } from '../../stats/stats-prometheus.js';
import { envoyStatsText } from '../telemetry/stats-envoy-text.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import { clustersJson, clustersText } from './admin-clusters.js';
import type { AdminBackend } from './admin-server.js';
import { buildConfigDump } from './config-dump.js';
import { certsJson } from './admin-secrets.js';
import type { SecretManager } from '../secret/secret-manager.js';

export interface BackendDeps {
  node: XdsNode;
  applier: ConfigApplier;
  clusters: ClusterManager;
  listeners: ListenerManager;
  stats: StatsStore;
  /** SDS secrets (config_dump, /certs) */
  secrets?: SecretManager;
  startTime: number;
  isReady(): boolean;
  /** a whole-proxy drain is under way (SIGTERM, hot restart) */
  isDraining?(): boolean;
  /** hot restart generation (`clew proxy --hot-restart`), undefined without hot restart */
  restartEpoch?: number;
  /** worker processes of this proxy (`--concurrency`) */
  concurrency?: number;
  setLogLevel(level: string): boolean;
  quit(): void;
  refreshServerStats(): void;
}

export function createAdminBackend(d: BackendDeps): AdminBackend {
  const state = (): string => (d.isDraining?.() ? 'DRAINING' : d.isReady() ? 'LIVE' : d.applier.received.cds || d.applier.received.lds ? 'INITIALIZING' : 'PRE_INITIALIZING');
  return {
    isReady: d.isReady,
    state,
    serverInfo: () => ({
      version: 'clew/0.1.0',
      state: state(),
      hot_restart_version: d.restartEpoch === undefined ? 'disabled' : 'clew.1',
      command_line_options: { concurrency: d.concurrency ?? 1, restart_epoch: d.restartEpoch ?? 0 },
      node: d.node,
      uptime_current_epoch: `${Math.floor((Date.now() - d.startTime) / 1000)}s`,
      uptime_all_epochs: `${Math.floor((Date.now() - d.startTime) / 1000)}s`,
    }),
    configDump: () => buildConfigDump(d.node, d.applier, d.clusters, d.listeners, d.secrets),
    certs: () => certsJson(d.clusters, d.listeners),
    clustersText: () => clustersText(d.clusters),
    clustersJson: () => clustersJson(d.clusters),
    listenersText: () => {
      let out = '';
      for (const l of d.listeners.listeners.values()) out += `${l.config.name}::${l.config.address}:${l.boundPort ?? l.config.port}\n`;
      return out;
    },
    listenersJson: () => ({
      listener_statuses: [...d.listeners.listeners.values()].map((l) => ({
        name: l.config.name,
        local_address: { socket_address: { address: l.config.address, port_value: l.boundPort ?? l.config.port } },
      })),
    }),
    statsText: () => {
      d.refreshServerStats();
      return envoyStatsText(d.stats);
    },
    statsPrometheus: () => {
      d.refreshServerStats();
      return prometheusChunks(d.stats);
    },
    setLogLevel: d.setLogLevel,
    drainListeners: (o) => d.listeners.drainAll(o),
    quit: d.quit,
  };
}
