/** Multiplexed HTTP/2 (cleartext, prior knowledge) pool: one node:http2 session per host. */
import * as http2 from 'node:http2';
import type { Readable } from 'node:stream';
import { installLeanAsyncResourceBind } from './h2-request-bind.js';
import type { UpstreamConnectionInfo, UpstreamTransport } from '../core/transport-socket.js';
import { classifyError, UpstreamError, type ConnPool, type ConnPoolEvents, type InHeaders, type UpstreamControl, type UpstreamHandler, type UpstreamRequest } from '../core/pool.js';

const { HTTP2_HEADER_STATUS, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** One session's connection state, shared with its streams (a stream failing before it connected is a connect failure). */
interface SessionState {
  connected: boolean;
  /** the transport's facts once connected (TLS: the peer's identity) */
  info: UpstreamConnectionInfo | undefined;
  /** the transport's reason for a failed connection (TLS), read when a stream fails */
  failureReason(): string | undefined;
}

/**
 * request() options with node:http2's priority defaults already in: request() copies the options
 * and, for each priority field that is missing, adds it to the copy (four shape changes on every
 * stream); given them, it only checks them. Frozen and shared.
 */
const REQUEST_WITH_BODY = Object.freeze({ endStream: false, weight: http2.constants.NGHTTP2_DEFAULT_WEIGHT, parent: 0, exclusive: false, silent: false });
const REQUEST_NO_BODY = Object.freeze({ ...REQUEST_WITH_BODY, endStream: true });

class Http2Exchange implements UpstreamControl {
  stream: http2.ClientHttp2Stream | undefined;
  private settled = false;
  private ended = false;

  constructor(private readonly h: UpstreamHandler) {}

  attach(stream: http2.ClientHttp2Stream, conn: SessionState): void {
    this.stream = stream;
    const h = this.h;
    stream.on('response', (headers, flags) => {
      if (conn.info !== undefined) h.onConnectionInfo?.(conn.info);
      const out: InHeaders = {};
      for (const k in headers) if (k.charCodeAt(0) !== 58) out[k] = headers[k] as string;
      this.settled = true;
      const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      h.onHeaders(Number(headers[HTTP2_HEADER_STATUS]), out, endStream);
      if (endStream) this.finish(undefined);
    });
    let trailers: InHeaders | undefined;
    stream.on('trailers', (t) => {
      trailers = {};
      for (const k in t) trailers[k] = t[k] as string;
    });
    stream.on('data', (c: Buffer) => {
      if (!h.onData(c)) stream.pause();
    });
    stream.on('end', () => this.finish(trailers));
    stream.on('error', (err) => {
      if (conn.connected) return this.fail(classifyError(err));
      const e = new UpstreamError('connect', (err as Error).message);
      e.transportFailureReason = conn.failureReason();
      this.fail(e);
    });
    stream.on('close', () => {
      if (!this.settled) this.fail(new UpstreamError(stream.rstCode === NGHTTP2_REFUSED_STREAM ? 'refused' : 'reset', `stream closed (rst ${stream.rstCode})`));
      else if (!this.ended) this.fail(new UpstreamError('reset', 'stream reset mid-response'));
    });
  }

  private finish(trailers: InHeaders | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.h.onEnd(trailers);
  }

  fail(err: UpstreamError): void {
    if (this.ended) return;
    this.ended = true;
    this.settled = true;
    this.h.onError(err);
  }

  abort(): void {
    if (this.ended) return;
    this.ended = true;
    this.stream?.close(NGHTTP2_CANCEL);
  }

  resume(): void {
    this.stream?.resume();
  }
}

export class Http2Pool implements ConnPool {
  private session: http2.ClientHttp2Session | undefined;
  private streams = 0;
  private readonly origin: string;
  private closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly opts: { transport: UpstreamTransport; connectTimeoutMs: number; idleTimeoutMs?: number; keepaliveMs?: number; maxRequestsPerConnection?: number },
    private readonly ev: ConnPoolEvents,
  ) {
    // request() binds every stream to an AsyncResource: without Node's deprecation wrappers
    installLeanAsyncResourceBind();
    const h = host.includes(':') ? `[${host}]` : host;
    this.scheme = opts.transport.secure ? 'https' : 'http';
    // a TLS transport with its own ALPN list keeps it (Istio: [istio-peer-exchange, istio, h2])
    this.alpn = opts.transport.secure && opts.transport.alpn.length === 0 ? ['h2'] : undefined;
    this.origin = `${this.scheme}://${h}:${port}`;
  }

  private readonly scheme: string;
  private state: SessionState | undefined;
  /** TLS without configured ALPN offers h2 */
  private readonly alpn: readonly string[] | undefined;

  private getSession(alpnOverride: readonly string[] | undefined): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const t = this.opts.transport;
    // the host's transport socket opens the connection (TLS offers h2 unless ALPN is configured)
    let sock: import('node:net').Socket | undefined;
    const session = http2.connect(this.origin, {
      createConnection: () => (sock = t.connect(this.host, this.port, { keepaliveMs: this.opts.keepaliveMs, alpn: alpnOverride ?? this.alpn })),
    });
    this.session = session;
    this.streams = 0;
    let connected = false;
    const state: SessionState = (this.state = { connected: false, info: undefined, failureReason: () => (sock ? t.failureReason(sock) : undefined) });
    const idle = this.opts.idleTimeoutMs;
    // common_http_protocol_options.idle_timeout: close (gracefully) after that long without activity.
    if (idle !== undefined && idle > 0) session.setTimeout(idle, () => session.close());
    const timer = setTimeout(() => {
      if (!connected) session.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    }, this.opts.connectTimeoutMs);
    timer.unref();
    session.on('connect', () => {
      connected = true;
      state.connected = true;
      if (t.secure && sock) state.info = t.connectionInfo(sock);
      clearTimeout(timer);
      this.ev.onConnect();
    });
    session.on('error', () => {
      if (!connected) this.ev.onConnectFail();
    });
    session.on('close', () => {
      clearTimeout(timer);
      if (connected) this.ev.onDisconnect();
      if (this.session === session) this.session = undefined;
    });
    session.unref();
    return session;
  }

  send(req: UpstreamRequest, handler: UpstreamHandler): UpstreamControl {
    const x = new Http2Exchange(handler);
    if (this.closed) {
      queueMicrotask(() => x.fail(new UpstreamError('connect', 'pool closed')));
      return x;
    }
    const headers: http2.OutgoingHttpHeaders = {};
    const rh = req.headers;
    for (const k in rh) {
      const v = rh[k];
      if (v !== undefined && k.charCodeAt(0) !== 58 /* ':' */ && k !== 'host') headers[k] = v;
    }
    headers[':method'] = req.method;
    headers[':path'] = req.path;
    headers[':authority'] = req.authority;
    headers[':scheme'] = this.scheme;
    const body = req.body;
    const endStream = body === null || (Buffer.isBuffer(body) && body.length === 0);
    try {
      const session = this.getSession(req.alpn);
      const stream = session.request(headers, endStream ? REQUEST_NO_BODY : REQUEST_WITH_BODY);
      // max_requests_per_connection: the session drains once it has carried that many streams.
      const max = this.opts.maxRequestsPerConnection ?? 0;
      if (max > 0 && ++this.streams >= max) {
        // No new streams on it; close once this last one is done (closing now would refuse it).
        if (this.session === session) this.session = undefined;
        stream.once('close', () => session.close());
      }
      x.attach(stream, this.state!);
      if (!endStream) {
        if (Buffer.isBuffer(body)) stream.end(body);
        else (body as Readable).pipe(stream);
      }
    } catch (err) {
      queueMicrotask(() => x.fail(classifyError(err)));
    }
    return x;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.session?.close();
  }
}
