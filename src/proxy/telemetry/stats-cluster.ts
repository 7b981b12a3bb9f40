/**
 * Envoy's per-cluster stats (`cluster.<name>.*`) as pre-resolved handles, so the cluster manager,
 * pools and router only increment fields. Names are Envoy's; the Istio circuit-breaking task
 * reads upstream_rq_pending_overflow, upstream_rq_pending_active, upstream_rq_pending_total,
 * upstream_rq_pending_failure_eject and circuit_breakers.default.rq_pending_open.
 */
import type { Counter, Gauge, Histogram, Scope, StatsStore } from '../../stats/stats-store.js';

export class ClusterStats {
  readonly scope: Scope;
  readonly upstream_rq_total: Counter;
  readonly upstream_rq_completed: Counter;
  readonly upstream_rq_active: Gauge;
  readonly upstream_rq_pending_total: Counter;
  readonly upstream_rq_pending_active: Gauge;
  readonly upstream_rq_pending_overflow: Counter;
  readonly upstream_rq_pending_failure_eject: Counter;
  readonly upstream_rq_timeout: Counter;
  readonly upstream_rq_per_try_timeout: Counter;
  readonly upstream_rq_retry: Counter;
  readonly upstream_rq_retry_success: Counter;
  readonly upstream_rq_retry_overflow: Counter;
  readonly upstream_rq_rx_reset: Counter;
  /** retries or mirroring given up because the request body outgrew the buffer limit */
  readonly retry_or_shadow_abandoned: Counter;
  readonly upstream_rq_tx_reset: Counter;
  readonly upstream_rq_time: Histogram;
  readonly upstream_cx_total: Counter;
  readonly upstream_cx_active: Gauge;
  readonly upstream_cx_connect_fail: Counter;
  readonly upstream_cx_connect_timeout: Counter;
  readonly upstream_cx_overflow: Counter;
  readonly upstream_cx_destroy: Counter;
  readonly upstream_cx_rx_bytes_total: Counter;
  readonly upstream_cx_tx_bytes_total: Counter;
  readonly upstream_cx_none_healthy: Counter;
  readonly membership_healthy: Gauge;
  readonly membership_total: Gauge;
  readonly outlier_detection_ejections_active: Gauge;
  readonly outlier_detection_ejections_enforced_total: Counter;
  /** circuit_breakers.default.* gauges: 1 while the breaker is open */
  readonly cb_cx_open: Gauge;
  readonly cb_rq_pending_open: Gauge;
  readonly cb_rq_open: Gauge;
  readonly cb_rq_retry_open: Gauge;
  /** circuit_breakers.default.remaining_* gauges (track_remaining) */
  readonly cb_remaining_cx: Gauge;
  readonly cb_remaining_pending: Gauge;
  readonly cb_remaining_rq: Gauge;
  readonly cb_remaining_retries: Gauge;
  /** a host was chosen while its priority was in panic (all hosts used) */
  readonly lb_healthy_panic: Counter;
  private outlierStats: OutlierDetectionStats | undefined;
  private hcStats: HealthCheckStats | undefined;
  private readonly byCode = new Map<number, Counter>();
  private readonly byClass: Counter[] = [];

  constructor(store: StatsStore, clusterName: string) {
    const s = (this.scope = store.scope(`cluster.${clusterName}.`));
    this.upstream_rq_total = s.counter('upstream_rq_total');
    this.upstream_rq_completed = s.counter('upstream_rq_completed');
    this.upstream_rq_active = s.gauge('upstream_rq_active');
    this.upstream_rq_pending_total = s.counter('upstream_rq_pending_total');
    this.upstream_rq_pending_active = s.gauge('upstream_rq_pending_active');
    this.upstream_rq_pending_overflow = s.counter('upstream_rq_pending_overflow');
    this.upstream_rq_pending_failure_eject = s.counter('upstream_rq_pending_failure_eject');
    this.upstream_rq_timeout = s.counter('upstream_rq_timeout');
    this.upstream_rq_per_try_timeout = s.counter('upstream_rq_per_try_timeout');
    this.upstream_rq_retry = s.counter('upstream_rq_retry');
    this.upstream_rq_retry_success = s.counter('upstream_rq_retry_success');
    this.upstream_rq_retry_overflow = s.counter('upstream_rq_retry_overflow');
    this.upstream_rq_rx_reset = s.counter('upstream_rq_rx_reset');
    this.retry_or_shadow_abandoned = s.counter('retry_or_shadow_abandoned');
    this.upstream_rq_tx_reset = s.counter('upstream_rq_tx_reset');
    this.upstream_rq_time = s.histogram('upstream_rq_time');
    this.upstream_cx_total = s.counter('upstream_cx_total');
    this.upstream_cx_active = s.gauge('upstream_cx_active');
    this.upstream_cx_connect_fail = s.counter('upstream_cx_connect_fail');
    this.upstream_cx_connect_timeout = s.counter('upstream_cx_connect_timeout');
    this.upstream_cx_overflow = s.counter('upstream_cx_overflow');
    this.upstream_cx_destroy = s.counter('upstream_cx_destroy');
    this.upstream_cx_rx_bytes_total = s.counter('upstream_cx_rx_bytes_total');
    this.upstream_cx_tx_bytes_total = s.counter('upstream_cx_tx_bytes_total');
    this.upstream_cx_none_healthy = s.counter('upstream_cx_none_healthy');
    this.membership_healthy = s.gauge('membership_healthy');
    this.membership_total = s.gauge('membership_total');
    this.outlier_detection_ejections_active = s.gauge('outlier_detection.ejections_active');
    this.outlier_detection_ejections_enforced_total = s.counter('outlier_detection.ejections_enforced_total');
    const cb = s.scope('circuit_breakers.default.');
    this.cb_cx_open = cb.gauge('cx_open');
    this.cb_rq_pending_open = cb.gauge('rq_pending_open');
    this.cb_rq_open = cb.gauge('rq_open');
    this.cb_rq_retry_open = cb.gauge('rq_retry_open');
    this.cb_remaining_cx = cb.gauge('remaining_cx');
    this.cb_remaining_pending = cb.gauge('remaining_pending');
    this.cb_remaining_rq = cb.gauge('remaining_rq');
    this.cb_remaining_retries = cb.gauge('remaining_retries');
    this.lb_healthy_panic = s.counter('lb_healthy_panic');
  }

  /** outlier_detection.* (created with the cluster's first detector, as in Envoy) */
  outlier(): OutlierDetectionStats {
    return (this.outlierStats ??= new OutlierDetectionStats(this.scope, this));
  }

  /** health_check.* (created with the cluster's first health checker) */
  healthCheck(): HealthCheckStats {
    return (this.hcStats ??= new HealthCheckStats(this.scope.scope('health_check.')));
  }

  /** Counts a response: upstream_rq_<code>, upstream_rq_<class>xx, upstream_rq_completed, upstream_rq_time. */
  response(code: number, elapsedMs?: number): void {
    let c = this.byCode.get(code);
    if (!c) this.byCode.set(code, (c = this.scope.counter(`upstream_rq_${code}`)));
    c.inc();
    const cls = Math.floor(code / 100);
    if (cls >= 1 && cls <= 5) {
      let k = this.byClass[cls];
      if (!k) k = this.byClass[cls] = this.scope.counter(`upstream_rq_${cls}xx`);
      k.inc();
    }
    this.upstream_rq_completed.inc();
    if (elapsedMs !== undefined) this.upstream_rq_time.record(elapsedMs);
  }
}

/** Envoy's outlier detection stats (`cluster.<name>.outlier_detection.*`); ejections_active and
 * ejections_enforced_total are the ClusterStats handles. */
export class OutlierDetectionStats {
  readonly ejections_active: Gauge;
  readonly ejections_enforced_total: Counter;
  readonly ejections_overflow: Counter;
  /** deprecated Envoy counters, still emitted */
  readonly ejections_total: Counter;
  readonly ejections_consecutive_5xx: Counter;
  readonly ejections_success_rate: Counter;
  /** per ejection type: ejections_detected_<type> and ejections_enforced_<type> */
  readonly detected: Readonly<Record<OutlierEjectionType, Counter>>;
  readonly enforced: Readonly<Record<OutlierEjectionType, Counter>>;

  constructor(scope: Scope, c: ClusterStats) {
    const s = scope.scope('outlier_detection.');
    this.ejections_active = c.outlier_detection_ejections_active;
    this.ejections_enforced_total = c.outlier_detection_ejections_enforced_total;
    this.ejections_overflow = s.counter('ejections_overflow');
    this.ejections_total = s.counter('ejections_total');
    this.ejections_consecutive_5xx = s.counter('ejections_consecutive_5xx');
    this.ejections_success_rate = s.counter('ejections_success_rate');
    const detected = {} as Record<OutlierEjectionType, Counter>;
    const enforced = {} as Record<OutlierEjectionType, Counter>;
    for (const t of OUTLIER_EJECTION_TYPES) {
      detected[t] = s.counter(`ejections_detected_${t}`);
      enforced[t] = s.counter(`ejections_enforced_${t}`);
    }
    this.detected = detected;
    this.enforced = enforced;
  }
}

/** Envoy's OutlierEjectionType names as they appear in stat names. */
export const OUTLIER_EJECTION_TYPES = [
  'consecutive_5xx',
  'success_rate',
  'consecutive_gateway_failure',
  'consecutive_local_origin_failure',
  'local_origin_success_rate',
  'failure_percentage',
  'local_origin_failure_percentage',
] as const;
export type OutlierEjectionType = (typeof OUTLIER_EJECTION_TYPES)[number];

/** Envoy's active health check stats (`cluster.<name>.health_check.*`). */
export class HealthCheckStats {
  readonly attempt: Counter;
  readonly success: Counter;
  readonly failure: Counter;
  readonly passive_failure: Counter;
  readonly network_failure: Counter;
  readonly verify_cluster: Counter;
  readonly healthy: Gauge;
  readonly degraded: Gauge;

  constructor(s: Scope) {
    this.attempt = s.counter('attempt');
    this.success = s.counter('success');
    this.failure = s.counter('failure');
    this.passive_failure = s.counter('passive_failure');
    this.network_failure = s.counter('network_failure');
    this.verify_cluster = s.counter('verify_cluster');
    this.healthy = s.gauge('healthy');
    this.degraded = s.gauge('degraded');
  }
}
