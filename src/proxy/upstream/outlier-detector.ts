/**
 * Outlier detection (Envoy's Outlier::DetectorImpl), passive health per cluster:
 * - consecutive 5xx / gateway failure / local-origin failure detectors eject inline when a host's
 *   counter reaches its threshold; success-rate and failure-percentage detectors run each interval
 * - local-origin results (connect failure, reset, timeout) count as 503/504 responses unless
 *   split_external_local_origin_errors, then only towards consecutive_local_origin_failure
 * - an ejection is allowed while (ejected + 1) / hosts <= max_ejection_percent, or for the first
 *   host with always_eject_one_host (Envoy >= 1.27; before that one host could always be ejected)
 * - ejection lasts min(base_ejection_time × multiplier, max_ejection_time) + jitter; the multiplier
 *   grows with each ejection and shrinks by one per interval that finds the host un-ejected
 * - the interval timer un-ejects hosts whose time has passed (and resets their counters)
 */
import type { OutlierDetectionStats, OutlierEjectionType } from '../telemetry/stats-cluster.js';
import type { Host, HostResultObserver, RequestResult } from './host.js';
import type { OutlierConfig } from './outlier-config.js';

interface Monitor {
  consecutive5xx: number;
  consecutiveGateway: number;
  consecutiveLocal: number;
  /** ejection time multiplier (Envoy's eject_time_backoff) */
  backoff: number;
  numEjections: number;
  lastEjectionMs: number;
  jitterMs: number;
  /** this interval's request counts (external origin and local origin) */
  extTotal: number;
  extSuccess: number;
  localTotal: number;
  localSuccess: number;
  /** success rates computed at the last interval, -1 when not enough volume (/clusters) */
  successRate: number;
  localSuccessRate: number;
}

function newMonitor(): Monitor {
  return {
    consecutive5xx: 0, consecutiveGateway: 0, consecutiveLocal: 0, backoff: 0, numEjections: 0, lastEjectionMs: 0, jitterMs: 0,
    extTotal: 0, extSuccess: 0, localTotal: 0, localSuccess: 0, successRate: -1, localSuccessRate: -1,
  };
}

export interface OutlierDetectorOptions {
  now?: () => number;
  random?: () => number;
  /** called after any ejection or un-ejection (the cluster rebuilds its balancers) */
  onChange?: (host: Host, ejected: boolean) => void;
}

export class OutlierDetector implements HostResultObserver {
  private readonly monitors = new Map<Host, Monitor>();
  /** this detector's ejected hosts (the gauge is shared with the cluster's next versions) */
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly random: () => number;
  /** cluster success-rate average and ejection threshold of the last interval (/clusters) */
  successRateAverage = -1;
  successRateEjectionThreshold = -1;
  localSuccessRateAverage = -1;
  localSuccessRateEjectionThreshold = -1;

  constructor(readonly config: OutlierConfig, private readonly stats: OutlierDetectionStats, private readonly opts: OutlierDetectorOptions = {}) {
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
  }

  /** Starts the interval timer (not needed by tests that call onInterval themselves). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.onInterval(), this.config.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and takes this detector's ejections out of the cluster's gauge. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stats.ejections_active.dec(this.active);
    this.active = 0;
  }

  /** Membership changed: monitors for new hosts, removed hosts forgotten (and their ejections). */
  setHosts(hosts: readonly Host[]): void {
    const keep = new Set(hosts);
    for (const [h] of this.monitors) {
      if (keep.has(h)) continue;
      if (h.ejected) this.setActive(-1);
      this.monitors.delete(h);
    }
    for (const h of hosts) if (!this.monitors.has(h)) this.monitors.set(h, newMonitor());
  }

  monitor(host: Host): Readonly<Monitor> | undefined {
    return this.monitors.get(host);
  }

  // ---- results (Envoy: putHttpResponseCode / putResult)

  onResult(host: Host, result: RequestResult, status?: number): void {
    const m = this.monitors.get(host);
    if (!m) return;
    if (this.config.splitExternalLocalOriginErrors) {
      switch (result) {
        case 'response':
          this.localNoFailure(m);
          this.putHttpResponseCode(host, m, status ?? 200);
          return;
        case 'connect_success':
        case 'connect_success_final':
          this.localNoFailure(m);
          return;
        default:
          this.localFailure(host, m);
          return;
      }
    }
    switch (result) {
      case 'response':
        this.putHttpResponseCode(host, m, status ?? 200);
        return;
      case 'timeout':
        this.putHttpResponseCode(host, m, 504);
        return;
      case 'connect_failure':
      case 'reset':
        this.putHttpResponseCode(host, m, 503);
        return;
      case 'connect_success':
        return;
      case 'connect_success_final':
        this.putHttpResponseCode(host, m, 200);
        return;
    }
  }

  private putHttpResponseCode(host: Host, m: Monitor, code: number): void {
    m.extTotal++;
    if (code >= 500 && code < 600) {
      if (code === 502 || code === 503 || code === 504) {
        if (++m.consecutiveGateway === this.config.consecutiveGatewayFailure) this.onConsecutiveError(host, m, 'consecutive_gateway_failure');
      } else {
        m.consecutiveGateway = 0;
      }
      if (++m.consecutive5xx === this.config.consecutive5xx) this.onConsecutiveError(host, m, 'consecutive_5xx');
    } else {
      m.extSuccess++;
      m.consecutive5xx = 0;
      m.consecutiveGateway = 0;
    }
  }

  private localFailure(host: Host, m: Monitor): void {
    m.localTotal++;
    if (++m.consecutiveLocal === this.config.consecutiveLocalOriginFailure) this.onConsecutiveError(host, m, 'consecutive_local_origin_failure');
  }

  private localNoFailure(m: Monitor): void {
    m.localTotal++;
    m.localSuccess++;
    m.consecutiveLocal = 0;
  }

  private onConsecutiveError(host: Host, m: Monitor, type: OutlierEjectionType): void {
    if (host.ejected) return;
    this.stats.detected[type].inc();
    if (type === 'consecutive_5xx') this.stats.ejections_consecutive_5xx.inc();
    this.ejectHost(host, m, type);
    if (type === 'consecutive_5xx') m.consecutive5xx = 0;
    else if (type === 'consecutive_gateway_failure') m.consecutiveGateway = 0;
    else m.consecutiveLocal = 0;
  }

  private enforcing(type: OutlierEjectionType): number {
    const c = this.config;
    switch (type) {
      case 'consecutive_5xx': return c.enforcingConsecutive5xx;
      case 'consecutive_gateway_failure': return c.enforcingConsecutiveGatewayFailure;
      case 'consecutive_local_origin_failure': return c.enforcingConsecutiveLocalOriginFailure;
      case 'success_rate': return c.enforcingSuccessRate;
      case 'local_origin_success_rate': return c.enforcingLocalOriginSuccessRate;
      case 'failure_percentage': return c.enforcingFailurePercentage;
      case 'local_origin_failure_percentage': return c.enforcingFailurePercentageLocalOrigin;
    }
  }

  private ejectHost(host: Host, m: Monitor, type: OutlierEjectionType): void {
    const c = this.config;
    const active = this.active;
    const ejectedPercent = (100 * (active + 1)) / this.monitors.size;
    const shouldEject = ejectedPercent <= Math.min(100, c.maxEjectionPercent) || (c.alwaysEjectOneHost && active === 0);
    if (!shouldEject) {
      this.stats.ejections_overflow.inc();
      return;
    }
    if (type === 'consecutive_5xx' || type === 'success_rate') this.stats.ejections_total.inc();
    const pct = this.enforcing(type);
    if (!(pct >= 100 || this.random() * 100 < pct)) return;
    this.setActive(1);
    this.stats.ejections_enforced_total.inc();
    this.stats.enforced[type].inc();
    host.ejected = true;
    m.numEjections++;
    m.lastEjectionMs = this.now();
    if (m.backoff * c.baseEjectionMs < c.maxEjectionMs + c.baseEjectionMs) m.backoff++;
    m.jitterMs = c.maxEjectionJitterMs > 0 ? Math.floor(this.random() * (c.maxEjectionJitterMs + 1)) : 0;
    this.opts.onChange?.(host, true);
  }

  /** Milliseconds the host stays ejected from its last ejection (for /clusters and tests). */
  ejectionDurationMs(host: Host): number {
    const m = this.monitors.get(host);
    if (!m) return 0;
    return Math.min(this.config.baseEjectionMs * m.backoff, this.config.maxEjectionMs) + m.jitterMs;
  }

  private setActive(delta: number): void {
    this.active += delta;
    this.stats.ejections_active.inc(delta);
  }

  private uneject(host: Host, m: Monitor): void {
    this.setActive(-1);
    host.ejected = false;
    m.consecutive5xx = 0;
    m.consecutiveGateway = 0;
    m.consecutiveLocal = 0;
    this.opts.onChange?.(host, false);
  }

  /** A successful active health check un-ejects (successful_active_health_check_uneject_host). */
  onSuccessfulHealthCheck(host: Host): void {
    const m = this.monitors.get(host);
    if (!m || !host.ejected || !this.config.successfulActiveHealthCheckUnejectHost) return;
    this.uneject(host, m);
  }

  // ---- the interval

  onInterval(): void {
    const now = this.now();
    for (const [h, m] of this.monitors) {
      // A host not ejected since the last interval earns one step off its ejection multiplier.
      if (!h.ejected) {
        if (m.backoff > 0) m.backoff--;
      } else if (now - m.lastEjectionMs >= this.ejectionDurationMs(h)) this.uneject(h, m);
    }
    this.processSuccessRate(false);
    this.processSuccessRate(true);
    for (const m of this.monitors.values()) m.extTotal = m.extSuccess = m.localTotal = m.localSuccess = 0;
  }

  private processSuccessRate(local: boolean): void {
    const c = this.config;
    if (local) this.localSuccessRateAverage = this.localSuccessRateEjectionThreshold = -1;
    else this.successRateAverage = this.successRateEjectionThreshold = -1;
    for (const m of this.monitors.values()) {
      if (local) m.localSuccessRate = -1;
      else m.successRate = -1;
    }
    if (this.monitors.size < c.successRateMinimumHosts && this.monitors.size < c.failurePercentageMinimumHosts) return;
    const srHosts: Array<[Host, Monitor, number]> = [];
    const fpHosts: Array<[Host, Monitor, number]> = [];
    let sum = 0;
    for (const [h, m] of this.monitors) {
      if (h.ejected) continue;
      const total = local ? m.localTotal : m.extTotal;
      if (total === 0) continue;
      const rate = (100 * (local ? m.localSuccess : m.extSuccess)) / total;
      if (total >= Math.min(c.successRateRequestVolume, c.failurePercentageRequestVolume)) {
        if (local) m.localSuccessRate = rate;
        else m.successRate = rate;
      }
      if (total >= c.successRateRequestVolume) {
        srHosts.push([h, m, rate]);
        sum += rate;
      }
      if (total >= c.failurePercentageRequestVolume) fpHosts.push([h, m, rate]);
    }
    if (srHosts.length > 0 && srHosts.length >= c.successRateMinimumHosts) {
      const mean = sum / srHosts.length;
      const variance = srHosts.reduce((acc, [, , r]) => acc + (r - mean) ** 2, 0) / srHosts.length;
      const threshold = mean - (c.successRateStdevFactor / 1000) * Math.sqrt(variance);
      if (local) [this.localSuccessRateAverage, this.localSuccessRateEjectionThreshold] = [mean, threshold];
      else [this.successRateAverage, this.successRateEjectionThreshold] = [mean, threshold];
      const type: OutlierEjectionType = local ? 'local_origin_success_rate' : 'success_rate';
      for (const [h, m, r] of srHosts) {
        if (r >= threshold || h.ejected) continue;
        this.stats.ejections_success_rate.inc();
        this.stats.detected[type].inc();
        this.ejectHost(h, m, type);
      }
    }
    if (fpHosts.length > 0 && fpHosts.length >= c.failurePercentageMinimumHosts) {
      const type: OutlierEjectionType = local ? 'local_origin_failure_percentage' : 'failure_percentage';
      for (const [h, m, r] of fpHosts) {
        if (100 - r < c.failurePercentageThreshold || h.ejected) continue;
        this.stats.detected[type].inc();
        this.ejectHost(h, m, type);
      }
    }
  }
}
