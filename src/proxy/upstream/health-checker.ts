/**
 * Active health checking (Envoy's HealthCheckerImplBase), one session per host:
 * - hosts start FAILED_ACTIVE_HC + PENDING_ACTIVE_HC; their first successful check makes them
 *   healthy at once, later ones need healthy_threshold successes in a row
 * - a non-retriable bad HTTP status (or NOT_SERVING) marks a healthy host unhealthy at once;
 *   network failures, timeouts and retriable statuses need unhealthy_threshold in a row
 * - the next check follows the previous one after interval (healthy), unhealthy_interval
 *   (unhealthy), the edge intervals while a transition is pending, or no_traffic_interval while the
 *   cluster never had an upstream connection; plus interval jitter
 * - a successful check un-ejects a host ejected by outlier detection (onSuccess)
 */
import type { HealthCheckStats } from '../telemetry/stats-cluster.js';
import type { HealthCheckConfig } from './health-check-config.js';
import { createProbe, type Probe, type ProbeOutcome } from './health-check-probes.js';
import type { Host } from './host.js';

type Transition = 'unchanged' | 'changed' | 'pending';

export interface HealthCheckerOptions {
  /** the cluster name: Envoy's default Host/:authority of checks */
  authority: string;
  /** has the cluster ever made an upstream connection (else no_traffic_interval) */
  hasTraffic(): boolean;
  /** a host's FAILED_ACTIVE_HC flag flipped */
  onChange(host: Host): void;
  /** a check passed (outlier detection may un-eject) */
  onSuccess?(host: Host): void;
  /** every initial host had its first check */
  onInitialRound?(): void;
  random?: () => number;
}

class Session {
  private numHealthy = 0;
  private numUnhealthy = 0;
  private firstCheck = true;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly probe: Probe;

  constructor(readonly host: Host, private readonly hc: HealthChecker) {
    this.probe = createProbe(host.address, host.port, hc.config, hc.opts.authority, host.transport);
  }

  start(): void {
    const c = this.hc.config;
    this.schedule(c.initialJitterMs > 0 ? Math.floor(this.hc.random() * c.initialJitterMs) : 0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.probe.close();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run(), ms);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    this.hc.stats.attempt.inc();
    const outcome = await this.probe.check(this.hc.config.timeoutMs);
    if (this.stopped) return;
    const wasFirst = this.firstCheck;
    if (outcome.ok) this.handleSuccess();
    else this.handleFailure(outcome);
    if (wasFirst) this.hc.firstCheckDone(this);
  }

  private handleSuccess(): void {
    const h = this.host;
    this.numUnhealthy = 0;
    let t: Transition = 'unchanged';
    if (h.failedActiveHc) {
      if (this.firstCheck || ++this.numHealthy === this.hc.config.healthyThreshold) {
        h.failedActiveHc = false;
        t = 'changed';
      } else {
        t = 'pending';
      }
    }
    h.pendingActiveHc = false;
    h.activeHcTimeout = false;
    this.firstCheck = false;
    this.hc.stats.success.inc();
    if (t === 'changed') this.hc.changed(h);
    this.hc.opts.onSuccess?.(h);
    this.schedule(this.hc.interval(true, t));
  }

  private handleFailure(o: Exclude<ProbeOutcome, { ok: true }>): void {
    const h = this.host;
    this.numHealthy = 0;
    let t: Transition = 'unchanged';
    if (!h.failedActiveHc) {
      if ((o.type === 'active' && !o.retriable) || ++this.numUnhealthy === this.hc.config.unhealthyThreshold) {
        h.failedActiveHc = true;
        t = 'changed';
      } else {
        t = 'pending';
      }
    }
    h.pendingActiveHc = false;
    h.activeHcTimeout = o.type === 'timeout';
    this.firstCheck = false;
    const s = this.hc.stats;
    s.failure.inc();
    if (o.type !== 'active') s.network_failure.inc();
    if (t === 'changed') this.hc.changed(h);
    this.schedule(this.hc.interval(false, t));
  }
}

export class HealthChecker {
  private readonly sessions = new Map<Host, Session>();
  private initialPending = new Set<Session>();
  private initialRound = true;
  readonly random: () => number;

  constructor(readonly config: HealthCheckConfig, readonly stats: HealthCheckStats, readonly opts: HealthCheckerOptions) {
    this.random = opts.random ?? Math.random;
  }

  /** True while hosts present at start have not all been checked once (cluster warming). */
  get warming(): boolean {
    return this.initialRound && this.initialPending.size > 0;
  }

  /** Membership changed: new hosts start unhealthy and pending, removed hosts stop. */
  setHosts(hosts: readonly Host[]): void {
    const keep = new Set(hosts);
    for (const [h, s] of this.sessions) {
      if (keep.has(h)) continue;
      s.stop();
      this.sessions.delete(h);
      if (this.initialPending.delete(s)) this.maybeInitialized();
    }
    for (const h of hosts) {
      if (this.sessions.has(h)) continue;
      h.failedActiveHc = true;
      h.pendingActiveHc = true;
      const s = new Session(h, this);
      this.sessions.set(h, s);
      if (this.initialRound) this.initialPending.add(s);
      s.start();
    }
    this.initialRound = this.initialRound && this.initialPending.size > 0;
    this.refreshGauge();
  }

  stop(): void {
    for (const s of this.sessions.values()) s.stop();
    this.sessions.clear();
    this.initialPending.clear();
  }

  /** @internal */
  firstCheckDone(s: Session): void {
    if (this.initialPending.delete(s)) this.maybeInitialized();
  }

  private maybeInitialized(): void {
    if (!this.initialRound || this.initialPending.size > 0) return;
    this.initialRound = false;
    this.opts.onInitialRound?.();
  }

  /** @internal */
  changed(h: Host): void {
    this.refreshGauge();
    this.opts.onChange(h);
  }

  private refreshGauge(): void {
    let n = 0;
    for (const h of this.sessions.keys()) if (!h.failedActiveHc) n++;
    this.stats.healthy.set(n);
  }

  /** @internal Envoy's HealthCheckerImplBase::interval with jitter. */
  interval(healthy: boolean, t: Transition): number {
    const c = this.config;
    let base: number;
    if (!this.opts.hasTraffic()) base = c.noTrafficIntervalMs;
    else if (healthy) base = t === 'pending' ? c.healthyEdgeIntervalMs : c.intervalMs;
    else base = t === 'pending' ? c.unhealthyEdgeIntervalMs : c.unhealthyIntervalMs;
    let jitter = 0;
    if (c.intervalJitterMs > 0) jitter += Math.floor(this.random() * c.intervalJitterMs);
    if (c.intervalJitterPercent > 0) jitter += Math.floor(this.random() * ((c.intervalJitterPercent * base) / 100));
    return base + jitter;
  }
}
