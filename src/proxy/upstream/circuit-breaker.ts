/**
 * Per-cluster circuit breaking (thresholds[DEFAULT]), Envoy's semantics:
 * - max_requests: a request that gets a connection (an idle or new HTTP/1.1 one, an HTTP/2
 *   stream) beyond it overflows at once (503 UO; Envoy counts it in upstream_rq_pending_overflow)
 * - max_connections (HTTP/1.1, one request per busy connection): a request that would need one
 *   more connection counts upstream_cx_overflow and waits in the pending queue, bounded by
 *   max_pending_requests; beyond that it overflows at once (503 UO, upstream_rq_pending_overflow)
 * - max_retries: concurrent retries; one more is not attempted (upstream_rq_retry_overflow, UO)
 * Gauges circuit_breakers.default.{cx,rq_pending,rq,rq_retry}_open and remaining_*.
 */
import type { CircuitBreakers } from './cluster-config.js';
import type { ClusterStats } from '../telemetry/stats-cluster.js';

export type Admission = 'ok' | 'pending' | 'overflow';

function connectedFallback(b: CircuitBreaker): void {
  b.onConnected();
}

export class CircuitBreaker {
  active = 0;
  retriesActive = 0;
  /**
   * Requests taken off the queue that still wait for their (new) upstream connection. With one
   * request per connection every request must connect first, and Envoy counts it as pending until
   * then; without this, the Istio circuit-breaking task would never overflow at 2 callers.
   */
  private connecting = 0;
  holdPendingUntilConnect = false;
  private readonly queue: Array<() => void> = [];

  constructor(private limits: CircuitBreakers, private readonly http1: boolean, private readonly stats: ClusterStats) {
    this.refreshGauges();
    this.refreshRetryGauges();
  }

  update(limits: CircuitBreakers): void {
    this.limits = limits;
    this.drainQueue();
  }

  private limit(): number {
    return this.http1 ? Math.min(this.limits.maxRequests, this.limits.maxConnections) : this.limits.maxRequests;
  }

  /** Tries to admit a request; 'pending' calls `onAdmit` later (or never if `cancel` is called). */
  admit(onAdmit: () => void): Admission {
    // A request that gets a connection now (idle, new or an HTTP/2 stream) is checked against
    // max_requests when it attaches; HTTP/1.1 with every allowed connection busy waits instead.
    if (!this.http1 || (this.active < this.limits.maxConnections && this.queue.length === 0)) {
      if (this.active >= this.limits.maxRequests) {
        this.stats.upstream_rq_pending_overflow.inc();
        this.refreshGauges();
        return 'overflow';
      }
      this.active++;
      this.refreshGauges();
      return 'ok';
    }
    // HTTP/1.1 with every allowed connection busy: wait if the pending queue has room (Envoy then
    // fails to create one more connection: upstream_cx_overflow), else overflow.
    if (this.queue.length + this.connecting >= this.limits.maxPendingRequests) {
      this.stats.upstream_rq_pending_overflow.inc();
      this.refreshGauges();
      return 'overflow';
    }
    this.stats.upstream_cx_overflow.inc();
    this.queue.push(onAdmit);
    this.stats.upstream_rq_pending_total.inc();
    this.stats.upstream_rq_pending_active.set(this.queue.length);
    this.refreshGauges();
    return 'pending';
  }

  /** For connections (TcpProxy): admit now or overflow, never queue (max_connections). */
  admitConnection(): boolean {
    if (this.active < this.limits.maxConnections) {
      this.active++;
      this.refreshGauges();
      return true;
    }
    this.stats.upstream_cx_overflow.inc();
    this.refreshGauges();
    return false;
  }

  cancel(onAdmit: () => void): void {
    const i = this.queue.indexOf(onAdmit);
    if (i >= 0) this.queue.splice(i, 1);
    this.stats.upstream_rq_pending_active.set(this.queue.length);
  }

  release(): void {
    this.active--;
    this.drainQueue();
    this.refreshGauges();
  }

  private drainQueue(): void {
    while (this.queue.length > 0 && this.active < this.limit()) {
      this.active++;
      const next = this.queue.shift()!;
      if (this.holdPendingUntilConnect) {
        this.connecting++;
        setTimeout(connectedFallback, 50, this).unref();
      }
      this.stats.upstream_rq_pending_active.set(this.queue.length + this.connecting);
      next();
    }
  }

  /** An upstream connection was established (or failed): one dequeued request stops being pending. */
  onConnected(): void {
    if (this.connecting > 0) {
      this.connecting--;
      this.stats.upstream_rq_pending_active.set(this.queue.length + this.connecting);
    }
  }

  /**
   * Can one more retry run now? `holding`: the asking request holds a slot it gives back first
   * (Envoy's resetRetry). Counts upstream_rq_retry_overflow when not.
   */
  canRetry(holding = false): boolean {
    if (this.retriesActive - (holding ? 1 : 0) < this.limits.maxRetries) return true;
    this.stats.upstream_rq_retry_overflow.inc();
    this.refreshRetryGauges();
    return false;
  }

  /** Takes a retry slot (held until retryDone). */
  tryRetry(): boolean {
    if (!this.canRetry()) return false;
    this.retriesActive++;
    this.refreshRetryGauges();
    return true;
  }

  retryDone(): void {
    this.retriesActive--;
    this.refreshRetryGauges();
  }

  private refreshRetryGauges(): void {
    const max = this.limits.maxRetries;
    this.stats.cb_rq_retry_open.set(this.retriesActive >= max ? 1 : 0);
    this.stats.cb_remaining_retries.set(Math.max(0, max - this.retriesActive));
  }

  private refreshGauges(): void {
    const s = this.stats;
    const l = this.limits;
    const pending = this.queue.length + this.connecting;
    s.cb_rq_pending_open.set(pending >= l.maxPendingRequests ? 1 : 0);
    s.cb_rq_open.set(this.active >= l.maxRequests ? 1 : 0);
    const cx = this.http1 ? this.active : s.upstream_cx_active.value;
    s.cb_cx_open.set(cx >= l.maxConnections ? 1 : 0);
    s.cb_remaining_cx.set(Math.max(0, l.maxConnections - cx));
    s.cb_remaining_pending.set(Math.max(0, l.maxPendingRequests - pending));
    s.cb_remaining_rq.set(Math.max(0, l.maxRequests - this.active));
  }
}
