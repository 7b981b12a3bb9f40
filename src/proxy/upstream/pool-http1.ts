/**
 * HTTP/1.1 keep-alive pool for one upstream host, on Clew's own client codec (raw net sockets,
 * llhttp): at most `maxConnections` connections, one exchange per connection at a time, idle
 * connections reused last-in first-out, requests beyond the limit queued first-in first-out.
 */
import { Http1ClientConn, type Http1ClientOptions, type Http1ClientOwner, type Http1ClientTransport } from '../codec/codec-http1-client.js';
import { Http1ClientExchange } from '../codec/codec-http1-client-exchange.js';
import { UpstreamError, type ConnPool, type ConnPoolEvents, type UpstreamControl, type UpstreamHandler, type UpstreamRequest } from '../core/pool.js';

/** Envoy's default common_http_protocol_options.idle_timeout */
const DEFAULT_IDLE_MS = 3_600_000;
const MAX_TIMER_MS = 2_147_483_647;

export class Http1Pool implements ConnPool, Http1ClientOwner {
  private readonly idle: Http1ClientConn[] = [];
  /** waiting exchanges; aborted ones stay until their turn and are skipped */
  private queue: Http1ClientExchange[] = [];
  private queueHead = 0;
  /** connections open or connecting */
  private total = 0;
  private connecting = 0;
  private readonly max: number;
  private readonly connOpts: Http1ClientOptions;
  private closing = false;
  private closeWaiters: Array<() => void> = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    opts: { transport: Http1ClientTransport; maxConnections: number; connectTimeoutMs: number; maxRequestsPerConnection: number; idleTimeoutMs?: number; keepaliveMs?: number },
    private readonly ev: ConnPoolEvents,
  ) {
    this.max = Math.max(1, opts.maxConnections);
    this.connOpts = {
      transport: opts.transport,
      // node timers hold at most 2^31-1 ms (beyond that they fire after 1 ms)
      idleTimeoutMs: opts.idleTimeoutMs !== undefined && opts.idleTimeoutMs > 0 ? Math.min(opts.idleTimeoutMs, MAX_TIMER_MS) : DEFAULT_IDLE_MS,
      connectTimeoutMs: Math.min(opts.connectTimeoutMs, MAX_TIMER_MS),
      keepaliveMs: opts.keepaliveMs,
      maxRequestsPerConnection: opts.maxRequestsPerConnection > 0 ? opts.maxRequestsPerConnection : 0,
    };
  }

  send(req: UpstreamRequest, handler: UpstreamHandler): UpstreamControl {
    const x = new Http1ClientExchange(req, handler);
    if (this.closing) {
      queueMicrotask(() => x.fail(new UpstreamError('connect', 'upstream pool closed')));
      return x;
    }
    for (let c = this.idle.pop(); c !== undefined; c = this.idle.pop()) {
      // closed by the server or the idle timer, its 'close' event still to come
      if (c.closed) continue;
      c.dispatch(x);
      return x;
    }
    this.queue.push(x);
    this.maybeConnect();
    return x;
  }

  close(): Promise<void> {
    this.closing = true;
    for (const c of this.idle.splice(0)) c.destroy();
    if (this.total === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.closeWaiters.push(resolve));
  }

  // ---- connection events (Http1ClientOwner)
  onConnected(c: Http1ClientConn): void {
    this.connecting--;
    this.ev.onConnect();
    this.onFree(c);
  }

  onConnectFailed(_c: Http1ClientConn, err: UpstreamError): void {
    this.connecting--;
    this.total--;
    this.ev.onConnectFail();
    // Each failed connection attempt fails the oldest waiting request.
    this.next()?.fail(err);
    this.maybeConnect();
    this.checkClosed();
  }

  onFree(c: Http1ClientConn): void {
    const x = this.next();
    if (x !== undefined) c.dispatch(x);
    else if (this.closing) c.destroy();
    else {
      c.setIdle();
      this.idle.push(c);
    }
  }

  onClosed(c: Http1ClientConn): void {
    this.total--;
    const i = this.idle.lastIndexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    this.ev.onDisconnect();
    this.maybeConnect();
    this.checkClosed();
  }

  requeue(x: Http1ClientExchange): void {
    if (this.queueHead > 0) this.queue[--this.queueHead] = x;
    else this.queue.unshift(x);
    this.maybeConnect();
    this.checkClosed();
  }

  // ---- internals
  private waiting(): number {
    return this.queue.length - this.queueHead;
  }

  /** the oldest exchange still waiting (aborted ones dropped) */
  private next(): Http1ClientExchange | undefined {
    for (;;) {
      const q = this.queue;
      if (this.queueHead >= q.length) return undefined;
      const x = q[this.queueHead++];
      if (this.queueHead === q.length) {
        this.queue = [];
        this.queueHead = 0;
      } else if (this.queueHead >= 1024) {
        this.queue = q.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (!x.done) return x;
    }
  }

  /** Opens connections while requests wait beyond those already connecting, up to the limit. */
  private maybeConnect(): void {
    while (this.total < this.max && this.waiting() > this.connecting) {
      this.total++;
      this.connecting++;
      // Istio's istio.alpn: the waiting request names the ALPN a new TLS connection offers
      const alpn = this.queue[this.queueHead]?.req.alpn;
      new Http1ClientConn(this.host, this.port, alpn === undefined ? this.connOpts : { ...this.connOpts, alpn }, this);
    }
  }

  private checkClosed(): void {
    if (!this.closing || this.total > 0) return;
    // Nothing can serve what is still queued.
    for (let x = this.next(); x !== undefined; x = this.next()) x.fail(new UpstreamError('connect', 'upstream pool closed'));
    const w = this.closeWaiters;
    this.closeWaiters = [];
    for (const r of w) r();
  }
}
