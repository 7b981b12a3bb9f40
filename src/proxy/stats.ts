/**
 * A deliberately simple stats store (Envoy stat names, counters and gauges). The telemetry
 * engineer replaces it; hot paths increment plain object fields (ClusterStats) rather than map
 * lookups by string.
 */

export class ClusterStats {
  upstream_rq_total = 0;
  upstream_rq_active = 0;
  upstream_rq_pending_total = 0;
  upstream_rq_pending_active = 0;
  upstream_rq_pending_overflow = 0;
  upstream_rq_pending_failure_eject = 0;
  upstream_rq_1xx = 0;
  upstream_rq_2xx = 0;
  upstream_rq_3xx = 0;
  upstream_rq_4xx = 0;
  upstream_rq_5xx = 0;
  upstream_rq_completed = 0;
  upstream_rq_timeout = 0;
  upstream_rq_retry = 0;
  upstream_rq_retry_success = 0;
  upstream_rq_retry_overflow = 0;
  upstream_rq_rx_reset = 0;
  upstream_cx_total = 0;
  upstream_cx_active = 0;
  upstream_cx_connect_fail = 0;
  upstream_cx_overflow = 0;
  upstream_cx_destroy = 0;
  upstream_cx_rx_bytes_total = 0;
  upstream_cx_tx_bytes_total = 0;
  upstream_rq_per_try_timeout = 0;
  membership_healthy = 0;
  membership_total = 0;
  'circuit_breakers.default.cx_open' = 0;
  'circuit_breakers.default.rq_pending_open' = 0;
  'circuit_breakers.default.rq_open' = 0;
  'circuit_breakers.default.rq_retry_open' = 0;

  countResponse(status: number): void {
    this.upstream_rq_completed++;
    if (status < 200) this.upstream_rq_1xx++;
    else if (status < 300) this.upstream_rq_2xx++;
    else if (status < 400) this.upstream_rq_3xx++;
    else if (status < 500) this.upstream_rq_4xx++;
    else this.upstream_rq_5xx++;
  }
}

/** Gauges among the ClusterStats fields (Prometheus TYPE). */
export const CLUSTER_GAUGES = new Set([
  'upstream_rq_active', 'upstream_rq_pending_active', 'upstream_cx_active', 'membership_healthy', 'membership_total',
  'circuit_breakers.default.cx_open', 'circuit_breakers.default.rq_pending_open', 'circuit_breakers.default.rq_open',
  'circuit_breakers.default.rq_retry_open',
]);

export class StatsStore {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();
  /** cluster name -> its stats object (owned by the cluster manager, survives cluster updates) */
  readonly clusters = new Map<string, ClusterStats>();

  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  set(name: string, value: number): void {
    this.gauges.set(name, value);
  }

  clusterStats(name: string): ClusterStats {
    let s = this.clusters.get(name);
    if (!s) {
      s = new ClusterStats();
      this.clusters.set(name, s);
    }
    return s;
  }

  /** All stats as [name, value, isGauge], sorted by name. */
  entries(): Array<[string, number, boolean]> {
    const out: Array<[string, number, boolean]> = [];
    for (const [k, v] of this.counters) out.push([k, v, false]);
    for (const [k, v] of this.gauges) out.push([k, v, true]);
    for (const [cluster, s] of this.clusters) {
      for (const [k, v] of Object.entries(s)) {
        if (typeof v === 'number') out.push([`cluster.${cluster}.${k}`, v, CLUSTER_GAUGES.has(k)]);
      }
    }
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out;
  }
}
