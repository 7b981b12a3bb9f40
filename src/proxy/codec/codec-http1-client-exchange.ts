/**
 * One request/response of the HTTP/1.1 client codec, handed to the router as its UpstreamControl:
 * queued in the pool, then carried by one connection until it ends, fails or is aborted.
 */
import type { Http1ClientConn } from './codec-http1-client.js';
import type { UpstreamControl, UpstreamError, UpstreamHandler, UpstreamRequest } from '../core/pool.js';

/** One request/response on an upstream connection; the router's UpstreamControl. */
export class Http1ClientExchange implements UpstreamControl {
  /** the connection carrying it, null while queued and after it ends */
  conn: Http1ClientConn | null = null;
  /** ended, failed or aborted: no more handler calls */
  done = false;
  /** already sent again after a reused connection closed before answering */
  replayed = false;

  constructor(
    readonly req: UpstreamRequest,
    readonly handler: UpstreamHandler,
  ) {}

  abort(): void {
    if (this.done) return;
    this.done = true;
    const c = this.conn;
    this.conn = null;
    // A queued exchange is skipped by the pool when its turn comes.
    if (c !== null) c.destroy();
  }

  resume(): void {
    const c = this.conn;
    if (c !== null && c.exchange === this) c.resumeReading();
  }

  /** Safe to send again when a reused connection closed before any response byte (Go's rule). */
  replayable(): boolean {
    if (this.replayed || this.done) return false;
    const m = this.req.method;
    return (m === 'GET' || m === 'HEAD' || m === 'OPTIONS' || m === 'TRACE') && (this.req.body === null || Buffer.isBuffer(this.req.body));
  }

  fail(err: UpstreamError): void {
    if (this.done) return;
    this.done = true;
    this.conn = null;
    this.handler.onError(err);
  }
}
