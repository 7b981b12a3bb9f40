/**
 * Envoy's HTTP connection manager stats (`http.<stat_prefix>.*`) as pre-resolved handles: the
 * active stream bumps fields, nothing is looked up per request. Listeners that share a
 * stat_prefix share the handles (the store resolves a name once).
 */
import type { Counter, Gauge, Histogram, StatsStore } from '../../stats/stats-store.js';

export class HcmStats {
  readonly downstream_rq_total: Counter;
  readonly downstream_rq_active: Gauge;
  readonly downstream_rq_completed: Counter;
  readonly downstream_rq_http1_total: Counter;
  readonly downstream_rq_http2_total: Counter;
  readonly downstream_rq_time: Histogram;
  /** rejected by normalize_path or path_with_escaped_slashes_action REJECT_REQUEST */
  readonly downstream_rq_failed_path_normalization: Counter;
  /** UNESCAPE_AND_REDIRECT answered with a redirect */
  readonly downstream_rq_redirected_with_normalized_path: Counter;
  /** Upgrade requests refused because neither the HCM nor the route enables their type */
  readonly downstream_rq_ws_on_non_ws_route: Counter;
  readonly downstream_cx_upgrades_total: Counter;
  readonly downstream_cx_upgrades_active: Gauge;
  /** downstream_rq_1xx .. downstream_rq_5xx, by class */
  private readonly byClass: Counter[];

  constructor(store: StatsStore, statPrefix: string) {
    const s = store.scope(`http.${statPrefix}.`);
    this.downstream_rq_total = s.counter('downstream_rq_total');
    this.downstream_rq_active = s.gauge('downstream_rq_active');
    this.downstream_rq_completed = s.counter('downstream_rq_completed');
    this.downstream_rq_http1_total = s.counter('downstream_rq_http1_total');
    this.downstream_rq_http2_total = s.counter('downstream_rq_http2_total');
    this.downstream_rq_time = s.histogram('downstream_rq_time');
    this.downstream_rq_failed_path_normalization = s.counter('downstream_rq_failed_path_normalization');
    this.downstream_rq_redirected_with_normalized_path = s.counter('downstream_rq_redirected_with_normalized_path');
    this.downstream_rq_ws_on_non_ws_route = s.counter('downstream_rq_ws_on_non_ws_route');
    this.downstream_cx_upgrades_total = s.counter('downstream_cx_upgrades_total');
    this.downstream_cx_upgrades_active = s.gauge('downstream_cx_upgrades_active');
    this.byClass = [1, 2, 3, 4, 5].map((c) => s.counter(`downstream_rq_${c}xx`));
  }

  requestStarted(http2: boolean): void {
    this.downstream_rq_total.inc();
    this.downstream_rq_active.inc();
    (http2 ? this.downstream_rq_http2_total : this.downstream_rq_http1_total).inc();
  }

  /** a connection switched protocols (an Upgrade answered 101) */
  upgradeStarted(): void {
    this.downstream_cx_upgrades_total.inc();
    this.downstream_cx_upgrades_active.inc();
  }

  upgradeEnded(): void {
    this.downstream_cx_upgrades_active.dec();
  }

  requestDone(code: number | undefined, durationMs: number): void {
    this.downstream_rq_active.dec();
    this.downstream_rq_completed.inc();
    this.downstream_rq_time.record(durationMs);
    const cls = code === undefined ? 0 : Math.floor(code / 100);
    if (cls >= 1 && cls <= 5) this.byClass[cls - 1].inc();
  }
}
