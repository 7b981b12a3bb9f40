/** Admin /clusters in Envoy's text and JSON forms: thresholds, outlier averages, per-host stats and health. */
import type { Cluster } from '../upstream/cluster.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { Host } from '../upstream/host.js';

function rate(c: Cluster, h: Host, local: boolean): number {
  const m = c.outlier?.monitor(h);
  if (!m) return -1;
  return local ? m.localSuccessRate : m.successRate;
}

function hostStats(h: Host): Array<[string, number]> {
  return [
    ['cx_active', h.cxActive],
    ['cx_connect_fail', h.cxConnectFail],
    ['cx_total', h.cxTotal],
    ['rq_active', h.rqActive],
    ['rq_error', h.rqError],
    ['rq_success', h.rqSuccess],
    ['rq_timeout', h.rqTimeout],
    ['rq_total', h.rqTotal],
  ];
}

export function clustersText(cm: ClusterManager): string {
  let out = '';
  for (const c of cm.clusters.values()) {
    const n = c.name;
    const cb = c.config.circuitBreakers;
    out += `${n}::observability_name::${n}\n`;
    const od = c.outlier;
    if (od) {
      out += `${n}::outlier::success_rate_average::${od.successRateAverage}\n`;
      out += `${n}::outlier::success_rate_ejection_threshold::${od.successRateEjectionThreshold}\n`;
      out += `${n}::outlier::local_origin_success_rate_average::${od.localSuccessRateAverage}\n`;
      out += `${n}::outlier::local_origin_success_rate_ejection_threshold::${od.localSuccessRateEjectionThreshold}\n`;
    }
    out += `${n}::default_priority::max_connections::${cb.maxConnections}\n`;
    out += `${n}::default_priority::max_pending_requests::${cb.maxPendingRequests}\n`;
    out += `${n}::default_priority::max_requests::${cb.maxRequests}\n`;
    out += `${n}::default_priority::max_retries::${cb.maxRetries}\n`;
    out += `${n}::added_via_api::true\n`;
    if (c.config.type === 'EDS') out += `${n}::eds_service_name::${c.config.edsName}\n`;
    for (const h of c.hosts) {
      const p = `${n}::${h.key}`;
      for (const [k, v] of hostStats(h)) out += `${p}::${k}::${v}\n`;
      out += `${p}::hostname::\n`;
      out += `${p}::health_flags::${h.healthFlags()}\n`;
      out += `${p}::weight::${h.weight}\n`;
      const [region, zone, subZone] = h.locality.split('/');
      out += `${p}::region::${region ?? ''}\n`;
      out += `${p}::zone::${zone ?? ''}\n`;
      out += `${p}::sub_zone::${subZone ?? ''}\n`;
      out += `${p}::canary::false\n`;
      out += `${p}::priority::${h.priority}\n`;
      out += `${p}::success_rate::${rate(c, h, false)}\n`;
      out += `${p}::local_origin_success_rate::${rate(c, h, true)}\n`;
    }
  }
  return out;
}

export function clustersJson(cm: ClusterManager): Record<string, unknown> {
  return {
    cluster_statuses: [...cm.clusters.values()].map((c) => {
      const cb = c.config.circuitBreakers;
      const od = c.outlier;
      return {
        name: c.name,
        observability_name: c.name,
        added_via_api: true,
        ...(c.config.type === 'EDS' ? { eds_service_name: c.config.edsName } : {}),
        ...(od && od.successRateEjectionThreshold >= 0 ? { success_rate_ejection_threshold: { value: od.successRateEjectionThreshold } } : {}),
        ...(od && od.localSuccessRateEjectionThreshold >= 0 ? { local_origin_success_rate_ejection_threshold: { value: od.localSuccessRateEjectionThreshold } } : {}),
        circuit_breakers: {
          thresholds: [{ priority: 'DEFAULT', max_connections: cb.maxConnections, max_pending_requests: cb.maxPendingRequests, max_requests: cb.maxRequests, max_retries: cb.maxRetries }],
        },
        host_statuses: c.hosts.map((h) => {
          const sr = rate(c, h, false);
          const lsr = rate(c, h, true);
          return {
            address: { socket_address: { address: h.address, port_value: h.port } },
            stats: hostStats(h).map(([name, value]) => ({ name, value })),
            health_status: {
              eds_health_status: h.edsHealth === 'UNKNOWN' ? 'HEALTHY' : h.edsHealth === 'TIMEOUT' ? 'UNHEALTHY' : h.edsHealth,
              ...(h.failedActiveHc ? { failed_active_health_check: true } : {}),
              ...(h.ejected ? { failed_outlier_check: true } : {}),
              ...(h.pendingActiveHc ? { pending_active_hc: true } : {}),
              ...(h.activeHcTimeout ? { active_hc_timeout: true } : {}),
            },
            ...(sr >= 0 ? { success_rate: { value: sr } } : {}),
            ...(lsr >= 0 ? { local_origin_success_rate: { value: lsr } } : {}),
            weight: h.weight,
            priority: h.priority,
          };
        }),
      };
    }),
  };
}
