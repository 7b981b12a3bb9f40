/**
 * HTTP/1.1 keep-alive pool for one upstream host: an undici Pool driven through dispatch() with
 * a small handler object (no BodyReadable, no AbortSignal per request).
 */
import { Pool } from 'undici';
import type { Readable } from 'node:stream';
import { classifyError, UpstreamError, type ConnPool, type ConnPoolEvents, type InHeaders, type UpstreamControl, type UpstreamHandler, type UpstreamRequest } from './pool.js';

/** raw [name, value, ...] buffers -> lower-case header object (repeated names become arrays) */
function parseRaw(raw: Buffer[] | string[] | null | undefined): InHeaders {
  const out: InHeaders = {};
  if (!raw) return out;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i].toString().toLowerCase();
    const v = raw[i + 1].toString('latin1' as BufferEncoding);
    const cur = out[k];
    if (cur === undefined) out[k] = v;
    else if (Array.isArray(cur)) cur.push(v);
    else out[k] = [cur, v];
  }
  return out;
}

class Http1Exchange implements UpstreamControl {
  private abortFn: ((err: Error) => void) | undefined;
  private resumeFn: (() => void) | undefined;
  private aborted = false;
  private done = false;

  constructor(private readonly h: UpstreamHandler) {}

  // ---- undici (legacy) dispatch handler
  onConnect(abort: (err: Error) => void): void {
    this.abortFn = abort;
    if (this.aborted) abort(new UpstreamError('aborted', 'aborted'));
  }
  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true;
    this.resumeFn = resume;
    this.h.onHeaders(status, parseRaw(raw), false);
    return true;
  }
  onData(chunk: Buffer): boolean {
    return this.aborted || this.h.onData(chunk);
  }
  onComplete(rawTrailers: Buffer[] | null): void {
    this.done = true;
    if (!this.aborted) this.h.onEnd(rawTrailers && rawTrailers.length > 0 ? parseRaw(rawTrailers) : undefined);
  }
  onError(err: Error): void {
    this.done = true;
    if (!this.aborted) this.h.onError(classifyError(err));
  }
  onUpgrade(): void {}

  // ---- control
  abort(): void {
    if (this.aborted || this.done) return;
    this.aborted = true;
    this.abortFn?.(new UpstreamError('aborted', 'aborted'));
  }
  resume(): void {
    this.resumeFn?.();
  }
}

export class Http1Pool implements ConnPool {
  private readonly pool: Pool;
  private readonly reset: boolean;

  constructor(
    host: string,
    port: number,
    opts: { maxConnections: number; connectTimeoutMs: number; maxRequestsPerConnection: number; idleTimeoutMs?: number; keepaliveMs?: number },
    ev: ConnPoolEvents,
  ) {
    const h = host.includes(':') ? `[${host}]` : host;
    this.reset = opts.maxRequestsPerConnection === 1;
    const idle = opts.idleTimeoutMs && opts.idleTimeoutMs > 0 ? opts.idleTimeoutMs : 3_600_000;
    this.pool = new Pool(`http://${h}:${port}`, {
      connections: opts.maxConnections,
      pipelining: 1,
      connectTimeout: opts.connectTimeoutMs,
      // common_http_protocol_options.idle_timeout (Envoy default 1 h); a server's Keep-Alive hint may shorten it.
      keepAliveTimeout: idle,
      keepAliveMaxTimeout: idle,
      // upstream_connection_options.tcp_keepalive.keepalive_time (probes/interval stay the OS's: Node has no knob)
      ...(opts.keepaliveMs !== undefined ? { connect: { keepAlive: true, keepAliveInitialDelay: opts.keepaliveMs } } : {}),
      headersTimeout: 0,
      bodyTimeout: 0,
      maxHeaderSize: 96 * 1024,
      // undici closes after maxRequestsPerClient + 1 requests; one request per connection uses `reset`.
      ...(opts.maxRequestsPerConnection > 1 ? { maxRequestsPerClient: opts.maxRequestsPerConnection - 1 } : {}),
    });
    this.pool.on('connect', () => ev.onConnect());
    this.pool.on('disconnect', () => ev.onDisconnect());
    this.pool.on('connectionError', () => ev.onConnectFail());
  }

  send(req: UpstreamRequest, handler: UpstreamHandler): UpstreamControl {
    const x = new Http1Exchange(handler);
    try {
      this.pool.dispatch(
        { method: req.method as 'GET', path: req.path, headers: req.headers, body: req.body as Buffer | Readable | null, reset: this.reset },
        x as unknown as Parameters<Pool['dispatch']>[1],
      );
    } catch (err) {
      queueMicrotask(() => x.onError(err as Error));
    }
    return x;
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => undefined);
  }
}
