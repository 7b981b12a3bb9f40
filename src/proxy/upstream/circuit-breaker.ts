/**
 * Per-cluster circuit breaking (thresholds[DEFAULT]). Requests beyond max_requests (or, for
 * HTTP/1.1 where each busy connection carries one request, max_connections) wait in a pending
 * queue bounded by max_pending_requests; beyond that they overflow at once (503 UO).
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

  constructor(private limits: CircuitBreakers, private readonly http1: boolean, private readonly stats: ClusterStats) {}

  update(limits: CircuitBreakers): void {
    this.limits = limits;
    this.drainQueue();
  }

  private limit(): number {
    return this.http1 ? Math.min(this.limits.maxRequests, this.limits.maxConnections) : this.limits.maxRequests;
  }

  /** Tries to admit a request; 'pending' calls `onAdmit` later (or never if `cancel` is called). */
  admit(onAdmit: () => void): Admission {
    if (this.active < this.limit() && this.queue.length === 0) {
      this.active++;
      this.refreshGauges();
      return 'ok';
    }
    if (this.queue.length + this.connecting >= this.limits.maxPendingRequests) {
      this.stats.upstream_rq_pending_overflow.inc();
      if (this.http1 && this.active >= this.limits.maxConnections) this.stats.upstream_cx_overflow.inc();
      this.refreshGauges();
      return 'overflow';
    }
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

  tryRetry(): boolean {
    if (this.retriesActive >= this.limits.maxRetries) {
      this.stats.upstream_rq_retry_overflow.inc();
      this.stats.cb_rq_retry_open.set(1);
      return false;
    }
    this.retriesActive++;
    return true;
  }

  retryDone(): void {
    this.retriesActive--;
    this.stats.cb_rq_retry_open.set(this.retriesActive >= this.limits.maxRetries ? 1 : 0);
  }

  private refreshGauges(): void {
    const s = this.stats;
    s.cb_rq_pending_open.set(this.queue.length >= this.limits.maxPendingRequests ? 1 : 0);
    s.cb_rq_open.set(this.active >= this.limits.maxRequests ? 1 : 0);
    s.cb_cx_open.set(this.http1 && this.active >= this.limits.maxConnections ? 1 : 0);
  }
}
