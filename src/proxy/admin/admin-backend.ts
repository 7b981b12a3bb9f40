/** The proxy's answers to admin requests (text formats follow Envoy's). */
import type { XdsNode } from '../../xds/node-metadata.js';
import type { ConfigApplier } from '../config-applier.js';
import type { ListenerManager } from '../listener/listener-manager.js';
import type { StatsStore } from '../../stats/stats-store.js';
import { prometheusText } from '../../stats/stats-prometheus.js';
import { envoyStatsText } from '../telemetry/stats-envoy-text.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { AdminBackend } from './admin-server.js';
import { buildConfigDump } from './config-dump.js';

export interface BackendDeps {
  node: XdsNode;
  applier: ConfigApplier;
  clusters: ClusterManager;
  listeners: ListenerManager;
  stats: StatsStore;
  startTime: number;
  isReady(): boolean;
  setLogLevel(level: string): boolean;
  quit(): void;
  refreshServerStats(): void;
}

export function createAdminBackend(d: BackendDeps): AdminBackend {
  const state = (): string => (d.isReady() ? 'LIVE' : d.applier.received.cds || d.applier.received.lds ? 'INITIALIZING' : 'PRE_INITIALIZING');
  return {
    isReady: d.isReady,
    state,
    serverInfo: () => ({
      version: 'clew/0.1.0',
      state: state(),
      hot_restart_version: 'disabled',
      command_line_options: { concurrency: 1 },
      node: d.node,
      uptime_current_epoch: `${Math.floor((Date.now() - d.startTime) / 1000)}s`,
      uptime_all_epochs: `${Math.floor((Date.now() - d.startTime) / 1000)}s`,
    }),
    configDump: () => buildConfigDump(d.node, d.applier, d.clusters, d.listeners),
    clustersText: () => {
      let out = '';
      for (const c of d.clusters.clusters.values()) {
        const n = c.name;
        const cb = c.config.circuitBreakers;
        out += `${n}::observability_name::${n}\n`;
        out += `${n}::default_priority::max_connections::${cb.maxConnections}\n`;
        out += `${n}::default_priority::max_pending_requests::${cb.maxPendingRequests}\n`;
        out += `${n}::default_priority::max_requests::${cb.maxRequests}\n`;
        out += `${n}::default_priority::max_retries::${cb.maxRetries}\n`;
        out += `${n}::added_via_api::true\n`;
        for (const h of c.hosts) {
          const p = `${n}::${h.key}`;
          out += `${p}::cx_active::${h.cxActive}\n`;
          out += `${p}::rq_active::${h.rqActive}\n`;
          out += `${p}::rq_error::${h.rqError}\n`;
          out += `${p}::rq_success::${h.rqSuccess}\n`;
          out += `${p}::rq_total::${h.rqTotal}\n`;
          const flags = h.ejected ? '/failed_outlier_check' : h.healthy ? 'healthy' : '/failed_eds_health';
          out += `${p}::health_flags::${flags}\n`;
          out += `${p}::weight::${h.weight}\n`;
          out += `${p}::priority::${h.priority}\n`;
        }
      }
      return out;
    },
    clustersJson: () => ({
      cluster_statuses: [...d.clusters.clusters.values()].map((c) => ({
        name: c.name,
        added_via_api: true,
        host_statuses: c.hosts.map((h) => ({
          address: { socket_address: { address: h.address, port_value: h.port } },
          stats: [
            { name: 'cx_active', value: h.cxActive },
            { name: 'rq_active', value: h.rqActive },
            { name: 'rq_error', value: h.rqError },
            { name: 'rq_success', value: h.rqSuccess },
            { name: 'rq_total', value: h.rqTotal },
          ],
          health_status: { eds_health_status: h.healthy ? 'HEALTHY' : 'UNHEALTHY', failed_outlier_check: h.ejected || undefined },
          weight: h.weight,
          priority: h.priority,
        })),
      })),
    }),
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
      return prometheusText(d.stats);
    },
    setLogLevel: d.setLogLevel,
    drainListeners: () => d.listeners.drainAll(),
    quit: d.quit,
  };
}
