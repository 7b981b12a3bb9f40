/** HTTP/1.1 keep-alive pool for one upstream host: an undici Pool. */
import { Pool } from 'undici';
import type { Readable } from 'node:stream';
import { classifyError, type ConnPool, type ConnPoolEvents, type UpstreamRequest, type UpstreamResponse } from './pool.js';

export class Http1Pool implements ConnPool {
  private readonly pool: Pool;

  constructor(host: string, port: number, opts: { maxConnections: number; connectTimeoutMs: number }, ev: ConnPoolEvents) {
    const h = host.includes(':') ? `[${host}]` : host;
    this.pool = new Pool(`http://${h}:${port}`, {
      connections: opts.maxConnections,
      pipelining: 1,
      connectTimeout: opts.connectTimeoutMs,
      keepAliveTimeout: 60_000,
      headersTimeout: 0,
      bodyTimeout: 0,
      maxHeaderSize: 96 * 1024,
    });
    this.pool.on('connect', () => ev.onConnect());
    this.pool.on('disconnect', () => ev.onDisconnect());
    this.pool.on('connectionError', () => ev.onConnectFail());
  }

  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      const res = await this.pool.request({
        method: req.method as 'GET',
        path: req.path,
        headers: req.headers,
        body: req.body as Buffer | Readable | null,
        signal: req.signal,
      });
      return {
        status: res.statusCode,
        headers: res.headers,
        body: res.body as unknown as Readable,
        trailers: res.trailers,
        endedWithHeaders: false,
      };
    } catch (err) {
      throw classifyError(err);
    }
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => undefined);
  }
}
