/**
 * The proxy's ADS call: gRPC (a bidirectional stream of length-prefixed protobuf messages) over
 * node:http2, without @grpc/grpc-js. The proxy needs one call to one address (plain text, or TLS
 * to the secure port with a bearer token: also used for the CSR call of the secret agent), no
 * compression, no name resolution policy or load balancing: this is that much, and it keeps the
 * whole gRPC library (about 3 MB of heap and its code) out of the sidecar. The control plane's
 * server side stays on @grpc/grpc-js.
 *
 * Events of an AdsCall, like a grpc-js ClientDuplexStream: 'data' (a decoded message), 'error'
 * (the call failed: transport error, non-OK grpc-status, bad frame), 'status' then 'end' once it
 * is over, whichever way.
 */
import { EventEmitter } from 'node:events';
import * as http2 from 'node:http2';

export type AdsCallErrorCode = 'CLEW_XDS_TRANSPORT' | 'CLEW_XDS_STATUS' | 'CLEW_XDS_FRAME';

export class AdsCallError extends Error {
  constructor(
    readonly code: AdsCallErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AdsCallError';
  }
}

export interface AdsChannelOptions {
  /** host:port, [v6]:port (a dns:/// prefix is accepted) */
  address: string;
  /**
   * TLS towards the control plane's secure port (15012): the trusted root (PEM), read at each
   * connection so a rotated root file is picked up. The server's certificate must name the host.
   */
  tls?: () => { ca: string };
  /** request metadata of each call (e.g. `authorization: Bearer <token>`, read at each use) */
  metadata?: () => Record<string, string>;
  /** HTTP/2 PING interval; a PING unanswered for pingTimeoutMs drops the connection */
  keepaliveMs: number;
  pingTimeoutMs?: number;
  maxMessageBytes: number;
}

/** gRPC status codes used here */
const GRPC_OK = 0;
const GRPC_UNAVAILABLE = 14;

function authority(address: string, secure: boolean): string {
  return `${secure ? 'https' : 'http'}://${address.replace(/^dns:\/*/, '')}`;
}

/** One HTTP/2 connection to the control plane at a time; a new one once it is gone. */
export class AdsChannel {
  private session: http2.ClientHttp2Session | undefined;
  private closed = false;

  constructor(private readonly opts: AdsChannelOptions) {}

  private connection(): http2.ClientHttp2Session {
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return current;
    const t = this.opts.tls?.();
    const session = t ? http2.connect(authority(this.opts.address, true), { ca: t.ca }) : http2.connect(authority(this.opts.address, false));
    this.session = session;
    const forget = (): void => {
      if (this.session === session) this.session = undefined;
    };
    // a failed connection fails its streams, which report it
    session.on('error', forget);
    session.on('goaway', forget);
    const pingTimeout = this.opts.pingTimeoutMs ?? 20_000;
    const keepalive = setInterval(() => {
      if (session.destroyed) return;
      const dead = setTimeout(() => session.destroy(new AdsCallError('CLEW_XDS_TRANSPORT', `keepalive ping unanswered for ${pingTimeout} ms`)), pingTimeout);
      dead.unref();
      try {
        session.ping(() => clearTimeout(dead));
      } catch {
        clearTimeout(dead);
      }
    }, this.opts.keepaliveMs);
    keepalive.unref();
    session.on('close', () => {
      clearInterval(keepalive);
      forget();
    });
    return session;
  }

  /** Starts a call of `path`; its failures are reported as events, never thrown. */
  open<Req, Res>(path: string, encode: (msg: Req) => Uint8Array, decode: (bytes: Uint8Array) => Res): AdsCall<Req, Res> {
    const call = new AdsCall<Req, Res>(encode, decode, this.opts.maxMessageBytes);
    if (this.closed) {
      call.fail(new AdsCallError('CLEW_XDS_TRANSPORT', 'channel closed'));
      return call;
    }
    try {
      const stream = this.connection().request({
        ...this.opts.metadata?.(),
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      call.attach(stream);
    } catch (err) {
      this.session?.destroy();
      this.session = undefined;
      call.fail(new AdsCallError('CLEW_XDS_TRANSPORT', (err as Error).message, { cause: err }));
    }
    return call;
  }

  close(): void {
    this.closed = true;
    this.session?.close();
    this.session = undefined;
  }
}

export class AdsCall<Req, Res> extends EventEmitter {
  private stream: http2.ClientHttp2Stream | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** length of the message being received, once its prefix is in */
  private expect: number | undefined;
  private grpcStatus: number | undefined;
  private grpcMessage = '';
  private error: Error | undefined;
  private done = false;

  constructor(
    private readonly encode: (msg: Req) => Uint8Array,
    private readonly decode: (bytes: Uint8Array) => Res,
    private readonly maxMessageBytes: number,
  ) {
    super();
  }

  attach(stream: http2.ClientHttp2Stream): void {
    this.stream = stream;
    stream.on('response', (headers) => {
      const status = Number(headers[':status']);
      if (status !== 200) this.setError(new AdsCallError('CLEW_XDS_STATUS', `HTTP status ${status} from the control plane`));
      this.noteStatus(headers); // trailers-only response
    });
    stream.on('trailers', (trailers) => this.noteStatus(trailers));
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err: Error) => this.setError(new AdsCallError('CLEW_XDS_TRANSPORT', err.message, { cause: err })));
    // the server's END_STREAM (its trailers) ends the call even while our side is still open, as
    // when it refuses a stream it has not answered: without this the stream would stay half-open
    // and the client would never see the status nor reconnect
    stream.on('end', () => {
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
    stream.on('close', () => this.finish());
  }

  /** A call that could not start: reported asynchronously, like any other failure. */
  fail(err: Error): void {
    this.setError(err);
    process.nextTick(() => this.finish());
  }

  write(msg: Req): void {
    const s = this.stream;
    if (!s || s.destroyed || s.writableEnded || this.done) return;
    const body = this.encode(msg);
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame[0] = 0;
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    s.write(frame);
  }

  /** Half-closes the request side (a unary call after its one message). */
  end(): void {
    const s = this.stream;
    if (s && !s.destroyed && !s.writableEnded) s.end();
  }

  cancel(): void {
    const s = this.stream;
    if (s && !s.destroyed) s.close(http2.constants.NGHTTP2_CANCEL);
  }

  private noteStatus(headers: http2.IncomingHttpHeaders): void {
    const st = headers['grpc-status'];
    if (st === undefined) return;
    this.grpcStatus = Number(st);
    const msg = headers['grpc-message'];
    if (typeof msg === 'string') {
      try {
        this.grpcMessage = decodeURIComponent(msg);
      } catch {
        this.grpcMessage = msg;
      }
    }
  }

  private setError(err: Error): void {
    this.error ??= err;
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (!this.done) {
      if (this.expect === undefined) {
        if (this.pendingBytes < 5) return;
        const head = this.consume(5);
        const length = head.readUInt32BE(1);
        if (head[0] !== 0) return this.abort(new AdsCallError('CLEW_XDS_FRAME', 'compressed gRPC message (no compression was negotiated)'));
        if (length > this.maxMessageBytes) return this.abort(new AdsCallError('CLEW_XDS_FRAME', `gRPC message of ${length} bytes exceeds the limit of ${this.maxMessageBytes}`));
        this.expect = length;
      }
      if (this.pendingBytes < this.expect) return;
      const body = this.consume(this.expect);
      this.expect = undefined;
      let msg: Res;
      try {
        msg = this.decode(body);
      } catch (err) {
        return this.abort(new AdsCallError('CLEW_XDS_FRAME', `undecodable message: ${(err as Error).message}`, { cause: err }));
      }
      this.emit('data', msg);
    }
  }

  /** Takes the first `n` pending bytes (one copy when they span chunks). */
  private consume(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    const rest = all.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
    return all.subarray(0, n);
  }

  private abort(err: Error): void {
    this.setError(err);
    this.cancel();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    const code = this.grpcStatus ?? GRPC_UNAVAILABLE;
    if (!this.error && code !== GRPC_OK) {
      this.error = new AdsCallError('CLEW_XDS_STATUS', `grpc-status ${code}${this.grpcMessage ? `: ${this.grpcMessage}` : this.grpcStatus === undefined ? ': stream closed without a status' : ''}`);
    }
    if (this.error) this.emit('error', this.error);
    this.emit('status', { code: this.error && code === GRPC_OK ? GRPC_UNAVAILABLE : code, details: this.error?.message ?? this.grpcMessage });
    this.emit('end');
  }
}
