/** Multiplexed HTTP/2 (cleartext, prior knowledge) pool: one node:http2 session per host. */
import * as http2 from 'node:http2';
import { PassThrough, type Readable } from 'node:stream';
import { classifyError, UpstreamError, type ConnPool, type ConnPoolEvents, type UpstreamRequest, type UpstreamResponse } from './pool.js';

const { HTTP2_HEADER_STATUS } = http2.constants;

export class Http2Pool implements ConnPool {
  private session: http2.ClientHttp2Session | undefined;
  private readonly origin: string;
  private closed = false;

  constructor(host: string, port: number, private readonly opts: { connectTimeoutMs: number }, private readonly ev: ConnPoolEvents) {
    const h = host.includes(':') ? `[${host}]` : host;
    this.origin = `http://${h}:${port}`;
  }

  private getSession(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const session = http2.connect(this.origin);
    this.session = session;
    let connected = false;
    session.on('connect', () => {
      connected = true;
      this.ev.onConnect();
    });
    session.on('error', () => {
      if (!connected) this.ev.onConnectFail();
    });
    session.on('close', () => {
      if (connected) this.ev.onDisconnect();
      if (this.session === session) this.session = undefined;
    });
    session.unref();
    return session;
  }

  request(req: UpstreamRequest): Promise<UpstreamResponse> {
    if (this.closed) return Promise.reject(new UpstreamError('connect', 'pool closed'));
    return new Promise((resolve, reject) => {
      const session = this.getSession();
      const headers: http2.OutgoingHttpHeaders = { ...req.headers };
      delete headers.host;
      headers[':method'] = req.method;
      headers[':path'] = req.path;
      headers[':authority'] = req.authority;
      headers[':scheme'] = 'http';
      const endStream = req.body === null || (Buffer.isBuffer(req.body) && req.body.length === 0);
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(headers, { endStream, signal: req.signal });
      } catch (err) {
        reject(classifyError(err));
        return;
      }
      let settled = false;
      const trailers: Record<string, string | string[] | undefined> = {};
      stream.on('trailers', (t) => {
        for (const k in t) trailers[k] = t[k] as string;
      });
      stream.on('response', (h, flags) => {
        settled = true;
        const status = Number(h[HTTP2_HEADER_STATUS]);
        const out: Record<string, string | string[] | undefined> = {};
        for (const k in h) if (k[0] !== ':') out[k] = h[k] as string;
        // Body readable that surfaces stream errors as 'error'.
        const body = new PassThrough();
        stream.pipe(body);
        stream.on('error', (err) => body.destroy(err));
        resolve({
          status,
          headers: out,
          body: body as Readable,
          trailers,
          endedWithHeaders: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0,
        });
      });
      stream.on('error', (err) => {
        if (!settled) {
          settled = true;
          reject(classifyError(err));
        }
      });
      stream.on('close', () => {
        if (!settled) {
          settled = true;
          const code = stream.rstCode;
          reject(new UpstreamError(code === http2.constants.NGHTTP2_REFUSED_STREAM ? 'refused' : 'reset', `stream closed (rst ${code})`));
        }
      });
      if (!endStream) {
        if (Buffer.isBuffer(req.body)) stream.end(req.body);
        else (req.body as Readable).pipe(stream);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.session?.close();
  }
}
