/**
 * HTTP/1.1 client codec: one upstream TCP connection carrying one exchange at a time (keep-alive,
 * no pipelining). Requests are written as one latin1 head (+ a Buffer body in the same writev);
 * responses are parsed by node's llhttp binding straight from the socket's reads (net's `onread`).
 *
 * The owner (the pool) hears about the connection's life: connected, free again, closed, or
 * failed to connect. Handler calls stop once the exchange ends or is aborted.
 */
import * as net from 'node:net';
import type { Readable } from 'node:stream';
import { newParser, resetParser, type LlhttpError, type LlhttpParser } from './llhttp.js';
import { BodyFraming, chunkHeader, decodeHeaders, encodeRequestHead } from './codec-http1-client-head.js';
import type { Http1ClientExchange } from './codec-http1-client-exchange.js';
import { setDirectReader, writeDirect, writeDirectJoined } from './socket-direct.js';
import { turnTime } from './io-turn.js';
import { classifyError, UpstreamError, type InHeaders } from '../core/pool.js';
import type { UpstreamConnectionInfo } from '../core/transport-socket.js';

/** undici's margin under a server's `keep-alive: timeout=N` hint */
const KEEPALIVE_HINT_MARGIN_MS = 2000;

/** response head limit (undici's setting before: 96 KiB) */
const MAX_HEADER_SIZE = 96 * 1024;

/** what becomes of the connection once the read that completed its response has been parsed */
const enum AfterRead {
  /** no response completed in this read */
  Nothing,
  /** back to the pool (which may hand it the next request) */
  Free,
  /** not reusable (connection: close, last request, request body still going) */
  Close,
}

export interface Http1ClientOwner {
  /** the TCP connection is up and has no exchange yet */
  onConnected(c: Http1ClientConn): void;
  /** the connection never came up (error or connect timeout); it is closed */
  onConnectFailed(c: Http1ClientConn, err: UpstreamError): void;
  /** the exchange is done and the connection may carry another */
  onFree(c: Http1ClientConn): void;
  /** a connection that was up has closed (its exchange, if any, has been told) */
  onClosed(c: Http1ClientConn): void;
  /** an exchange to send again, first in line (its reused connection closed before answering) */
  requeue(x: Http1ClientExchange): void;
}

/**
 * How the connection is opened: the host's transport socket (src/proxy/transport, structurally;
 * the codec does not depend on it). Every transport is asked for a direct socket: its reads land
 * in socket-direct.ts's shared buffer (raw TCP and TLS alike: net's `onread`).
 */
export interface Http1ClientTransport {
  readonly secure: boolean;
  readonly readyEvent: 'connect' | 'secureConnect';
  connect(host: string, port: number, opts: { direct?: boolean; keepaliveMs?: number; alpn?: readonly string[] }): net.Socket;
  failureReason(socket: net.Socket): string | undefined;
  connectionInfo(socket: net.Socket): UpstreamConnectionInfo | undefined;
}

export interface Http1ClientOptions {
  transport: Http1ClientTransport;
  /** ALPN to offer (Istio's istio.alpn override); undefined = the transport's own */
  alpn?: readonly string[];
  connectTimeoutMs: number;
  /** close after this long without a request (socket inactivity while idle) */
  idleTimeoutMs: number;
  /** TCP keepalive initial delay; undefined = no keepalive */
  keepaliveMs?: number;
  /** 0 = unlimited */
  maxRequestsPerConnection: number;
}

export class Http1ClientConn {
  readonly socket: net.Socket;
  exchange: Http1ClientExchange | null = null;
  connected = false;
  closed = false;
  /** requests started on this connection */
  requests = 0;
  /** a secure transport's facts (peer identity), known once connected */
  private peer: UpstreamConnectionInfo | undefined;

  private readonly parser: LlhttpParser;
  private executing = false;
  private freeParser = false;
  /** set when a response completes inside execute(): the owner hears of it only after execute() returns */
  private afterRead = AfterRead.Nothing;
  /** another response began in the same read after the one completed: nobody asked for it */
  private unsolicited = false;
  private sockErr: Error | undefined;
  private connectTimedOut = false;
  private refd = true;
  /** when the connection last went idle in the pool (turn clock) */
  private idleSince = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** the socket's inactivity timeout now (the configured idle timeout, or less after a server's hint) */
  private idleMs: number;
  // ---- the current exchange
  /** response bytes have arrived (else a close on a reused connection may resend) */
  private responseStarted = false;
  private isHead = false;
  private informational = false;
  private headersDone = false;
  private keepAlive = true;
  private lastRequest = false;
  private reqDone = true;
  private readPaused = false;
  private pendingHeaders: string[] | null = null;
  private trailers: string[] | null = null;
  private body: Readable | null = null;
  private chunked = false;
  private bodyPaused = false;
  /**
   * Bytes of a content-length response body still to come, framed here rather than by llhttp
   * (its body callback copies each chunk into a new ArrayBuffer, and every callback is a trip
   * through C++): llhttp parses the head, returns at its end, and the reads that follow are
   * body until this reaches 0. Chunked and EOF-delimited bodies stay llhttp's.
   */
  private bodyLeft = 0;
  private readonly reader = (d: Buffer): void => {
    this.onSocketData(d);
  };

  constructor(
    host: string,
    port: number,
    private readonly opts: Http1ClientOptions,
    private readonly owner: Http1ClientOwner,
  ) {
    this.idleMs = opts.idleTimeoutMs;
    this.parser = newParser('response', MAX_HEADER_SIZE, {
      onHeaders: (fields) => this.onParserHeaders(fields),
      onHeadersComplete: (_maj, _min, headers, _m, _u, status, _msg, _upg, keepAlive) => this.onHeadersComplete(headers, status ?? 0, keepAlive),
      onBody: (chunk) => this.onBody(chunk),
      onMessageComplete: () => this.onMessageComplete(),
    });
    const t = opts.transport;
    const s = (this.socket = t.connect(host, port, { direct: true, keepaliveMs: opts.keepaliveMs, alpn: opts.alpn }));
    setDirectReader(s, this.reader);
    s.setTimeout(opts.connectTimeoutMs);
    s.on(t.readyEvent, () => this.onConnect());
    s.on('end', () => this.onSocketEnd());
    s.on('error', (err) => {
      this.sockErr ??= err;
    });
    s.on('timeout', () => this.onConnectTimeout());
    s.on('close', () => this.onSocketClose());
    s.on('drain', () => this.onDrain());
  }

  /** Starts an exchange on this (connected, free) connection: the head (and a Buffer body) in one write. */
  dispatch(x: Http1ClientExchange): void {
    this.exchange = x;
    x.conn = this;
    this.requests++;
    if (this.peer !== undefined) x.handler.onConnectionInfo?.(this.peer);
    if (!this.refd) {
      this.refd = true;
      this.socket.ref();
    }
    const req = x.req;
    const max = this.opts.maxRequestsPerConnection;
    this.lastRequest = max > 0 && this.requests >= max;
    this.isHead = req.method === 'HEAD';
    this.responseStarted = false;
    this.informational = false;
    this.headersDone = false;
    this.keepAlive = true;
    this.pendingHeaders = null;
    this.trailers = null;
    const body = req.body;
    const s = this.socket;
    if (body === null) {
      this.reqDone = true;
      writeDirect(s, encodeRequestHead(req.method, req.path, req.authority, req.headers, BodyFraming.None, 0, this.lastRequest));
    } else if (Buffer.isBuffer(body)) {
      this.reqDone = true;
      const head = encodeRequestHead(req.method, req.path, req.authority, req.headers, BodyFraming.Length, body.length, this.lastRequest);
      if (body.length === 0) writeDirect(s, head);
      else writeDirectJoined(s, head, body);
    } else {
      this.reqDone = false;
      this.chunked = req.headers['content-length'] === undefined;
      s.write(encodeRequestHead(req.method, req.path, req.authority, req.headers, this.chunked ? BodyFraming.Chunked : BodyFraming.Raw, 0, this.lastRequest), 'latin1');
      this.attachBody(body);
    }
  }

  /** Idle in the pool: the socket no longer keeps the process alive; the idle timeout runs. */
  setIdle(): void {
    if (this.refd) {
      this.refd = false;
      this.socket.unref();
    }
    this.idleSince = turnTime();
    // lazy: a timer already set checks idleSince when it fires and waits out the rest
    if (this.idleTimer === undefined) this.armIdle(this.idleMs);
  }

  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(onIdleTimer, ms, this);
    this.idleTimer.unref();
  }

  /** The idle timer fired: close if the connection has been idle in the pool for idleMs. */
  onIdleTimer(): void {
    this.idleTimer = undefined;
    if (this.closed || this.exchange !== null) return; // busy: setIdle arms it again
    const quiet = Date.now() - this.idleSince;
    if (quiet >= this.idleMs) this.destroy();
    else this.armIdle(this.idleMs - quiet);
  }

  resumeReading(): void {
    if (this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.detachBody();
    this.socket.destroy();
  }

  // ---- request body (a stream): written as it comes, paused while the socket is full
  private attachBody(body: Readable): void {
    this.body = body;
    this.bodyPaused = false;
    body.on('data', this.onBodyData);
    body.on('end', this.onBodyEnd);
    body.on('error', this.onBodyError);
    body.on('close', this.onBodyClose);
    if (body.destroyed && !body.readableEnded) queueMicrotask(this.onBodyError);
    // even if somebody paused it before: it flows now (paused again only for socket backpressure)
    else body.resume();
  }

  private detachBody(): void {
    const b = this.body;
    if (b === null) return;
    this.body = null;
    b.off('data', this.onBodyData);
    b.off('end', this.onBodyEnd);
    b.off('error', this.onBodyError);
    b.off('close', this.onBodyClose);
    // Nobody reads the rest: let it flow away so the downstream connection is not stuck.
    if (!b.readableEnded && !b.destroyed) b.resume();
  }

  private readonly onBodyData = (chunk: Buffer): void => {
    const s = this.socket;
    let ok: boolean;
    if (this.chunked) {
      if (chunk.length === 0) return;
      s.cork();
      s.write(chunkHeader(chunk.length), 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
      s.uncork();
    } else ok = s.write(chunk);
    if (!ok && this.body !== null) {
      this.bodyPaused = true;
      this.body.pause();
    }
  };

  private readonly onBodyEnd = (): void => {
    if (this.chunked) this.socket.write('0\r\n\r\n', 'latin1');
    this.reqDone = true;
    this.detachBody();
  };

  private readonly onBodyError = (): void => {
    if (!this.reqDone) this.bodyFailed();
  };

  private readonly onBodyClose = (): void => {
    // 'close' without 'end': the downstream request went away mid-body.
    if (!this.reqDone) this.bodyFailed();
  };

  private bodyFailed(): void {
    const x = this.exchange;
    this.exchange = null;
    this.destroy();
    x?.fail(new UpstreamError('reset', 'request body aborted'));
  }

  private onDrain(): void {
    if (this.bodyPaused && this.body !== null) {
      this.bodyPaused = false;
      this.body.resume();
    }
  }

  // ---- socket
  private onConnect(): void {
    if (this.closed) return;
    this.connected = true;
    // node's socket timer was the connect timeout; from now on idle time is the lazy idle timer's
    // (direct reads and writes do not refresh node's timer)
    this.socket.setTimeout(0);
    // the handle may not be the one the reader was attached to (net tries the next address of a
    // name with a new handle)
    setDirectReader(this.socket, this.reader);
    if (this.opts.transport.secure) this.peer = this.opts.transport.connectionInfo(this.socket);
    this.owner.onConnected(this);
  }

  private onConnectTimeout(): void {
    if (this.connected) return;
    this.connectTimedOut = true;
    this.destroy();
  }

  /**
   * Parses one read (socket-direct.ts: the shared read buffer, one I/O turn; reading pauses
   * through socket.pause()). Safe with a shared buffer because each read is parsed
   * synchronously and llhttp's binding copies what it keeps: header strings are made before
   * execute() returns, body chunks are copies.
   */
  private onSocketData(d: Buffer): boolean {
    if (this.exchange === null) {
      // bytes nobody asked for (a late response to an aborted exchange is impossible: that socket is gone)
      this.destroy();
      return true;
    }
    this.responseStarted = true;
    if (this.bodyLeft > 0) {
      this.takeBody(d, 0);
      return true;
    }
    let r: number | LlhttpError;
    this.executing = true;
    try {
      r = this.parser.execute(d);
    } catch (err) {
      // a handler threw inside a parser callback: this exchange is broken, the process is not
      this.executing = false;
      this.endRead();
      this.protocolError(`upstream response handler failed: ${(err as Error).message}`, 'reset');
      return true;
    }
    this.executing = false;
    const after = this.endRead();
    if (typeof r !== 'number') this.protocolError(`malformed upstream response (${r.code})`);
    else if (this.bodyLeft > 0) this.takeBody(d, r);
    else if (after !== AfterRead.Nothing) this.afterResponse(after);
    if (this.freeParser) this.releaseParser();
    return true;
  }

  /** Body bytes of a content-length response from `d` at `from` (a read, valid during the call). */
  private takeBody(d: Buffer, from: number): void {
    const x = this.exchange;
    if (x === null || x.done) {
      // aborted with body still to come: the connection cannot carry another exchange
      this.bodyLeft = 0;
      this.destroy();
      return;
    }
    const avail = d.length - from;
    const n = avail < this.bodyLeft ? avail : this.bodyLeft;
    if (n > 0) {
      this.bodyLeft -= n;
      // the read buffer is reused by the next read: consumers get their own copy
      const chunk = Buffer.allocUnsafe(n);
      d.copy(chunk, 0, from, from + n);
      if (!x.handler.onData(chunk) && !this.readPaused && this.exchange === x && this.bodyLeft > 0) {
        this.readPaused = true;
        this.socket.pause();
      }
      if (this.exchange !== x || x.done) {
        if (this.bodyLeft > 0 && !this.closed) this.destroy();
        return;
      }
    }
    if (this.bodyLeft > 0) return;
    // llhttp stopped at this response's head as if at an upgrade: it must start afresh, or it
    // would not report a malformed next response (resetParser)
    resetParser(this.parser, 'response', MAX_HEADER_SIZE);
    const reuse = this.finishExchange(x, null);
    // bytes after a complete response with no request outstanding: a protocol error (Envoy's rule);
    // empty lines only are tolerated, as llhttp skips them before a message
    this.afterResponse(reuse && onlyLineBreaks(d, from + n) ? AfterRead.Free : AfterRead.Close);
  }

  /** Closes the read that execute() (or finish()) parsed: what its completed response left to do. */
  private endRead(): AfterRead {
    const after = this.afterRead;
    if (after === AfterRead.Nothing) return after;
    this.afterRead = AfterRead.Nothing;
    this.parser.onMessageBegin = undefined;
    if (!this.unsolicited) return after;
    this.unsolicited = false;
    // Bytes after a complete response with no request outstanding: a protocol error (Envoy's rule).
    // They were parsed for nobody; the connection is never reused.
    return AfterRead.Close;
  }

  /** A response completed in the read just parsed: the connection goes back to the owner, or closes. */
  private afterResponse(after: AfterRead): void {
    if (this.closed) return;
    if (after === AfterRead.Free) this.owner.onFree(this);
    else this.destroy();
  }

  private onSocketEnd(): void {
    if (this.exchange !== null) {
      // EOF-delimited bodies complete here; anything else unfinished is a reset.
      let r: LlhttpError | undefined;
      this.executing = true;
      try {
        r = this.parser.finish();
      } catch (err) {
        this.executing = false;
        this.endRead();
        this.protocolError(`upstream response handler failed: ${(err as Error).message}`, 'reset');
        return;
      }
      this.executing = false;
      // an EOF-delimited response that completed here is never reused: the destroy below closes it
      this.endRead();
      if (r !== undefined && this.exchange !== null) {
        this.protocolError(`upstream closed mid-response (${r.code})`, 'reset');
        return;
      }
    }
    this.destroy();
  }

  private onSocketClose(): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.detachBody();
    if (this.executing) this.freeParser = true;
    else this.releaseParser();
    if (!this.connected) {
      const e = this.sockErr;
      const err = this.connectTimedOut
        ? new UpstreamError('connect', 'upstream connect timeout')
        : new UpstreamError('connect', e ? classifyError(e).message : 'connection closed before connect');
      err.transportFailureReason = this.opts.transport.failureReason(this.socket);
      this.owner.onConnectFailed(this, err);
      return;
    }
    const x = this.exchange;
    this.exchange = null;
    this.owner.onClosed(this);
    if (x !== null && !this.responseStarted && this.requests > 1 && x.replayable()) {
      // the server closed this keep-alive connection as our request went out: send it again
      x.replayed = true;
      x.conn = null;
      this.owner.requeue(x);
      return;
    }
    if (x !== null && !x.done) {
      const e = this.sockErr;
      x.fail(new UpstreamError('reset', e ? `upstream connection error: ${e.message}` : 'upstream connection closed before the response completed'));
    }
  }

  /** the upstream's bytes are not an HTTP/1.1 response we accept (Envoy: protocol_error, flag UPE); `reset` for an early close */
  private protocolError(message: string, kind: 'protocol' | 'reset' = 'protocol'): void {
    const x = this.exchange;
    this.exchange = null;
    this.destroy();
    x?.fail(new UpstreamError(kind, message));
  }

  private releaseParser(): void {
    this.freeParser = false;
    this.parser.free();
  }

  // ---- llhttp callbacks
  private onParserHeaders(fields: string[]): void {
    if (!this.headersDone) this.pendingHeaders = this.pendingHeaders === null ? fields : this.pendingHeaders.concat(fields);
    else this.trailers = this.trailers === null ? fields : this.trailers.concat(fields);
  }

  private onHeadersComplete(headers: string[] | undefined, status: number, keepAlive: boolean): number {
    const x = this.exchange;
    let raw = headers;
    const pending = this.pendingHeaders;
    if (pending !== null) {
      raw = headers === undefined ? pending : pending.concat(headers);
      this.pendingHeaders = null;
    }
    if (status < 100 || status > 599) {
      // RFC 9110 15: every valid status code is within 100-599 (llhttp takes any three digits)
      this.protocolError(`upstream status ${status} outside 100-599`);
      return 1;
    }
    if (status < 200) {
      if (status === 101) {
        // no upgrades through the pool (the router drops `upgrade`): a broken exchange
        this.protocolError('unexpected 101 from upstream');
        return 1;
      }
      // 100-continue, 103 early hints: skipped, the final response follows
      this.informational = true;
      return 1;
    }
    this.headersDone = true;
    this.keepAlive = keepAlive;
    if (x === null || x.done) return this.isHead ? 1 : 0;
    const out = decodeHeaders(raw, {});
    const hint = out['keep-alive'];
    if (hint !== undefined && keepAlive) this.keepAliveHint(hint);
    const cl = out['content-length'];
    const endStream = this.isHead || status === 204 || status === 304 || cl === '0';
    // a plain content-length body is framed here (bodyLeft); llhttp stops at the end of the head
    // (2: no body for llhttp, which then reports the message complete: onMessageComplete skips it)
    let framing = this.isHead ? 1 : 0;
    if (!endStream && typeof cl === 'string' && out['transfer-encoding'] === undefined) {
      const len = contentLength(cl);
      if (len > 0) {
        this.bodyLeft = len;
        framing = 2;
      }
    }
    x.handler.onHeaders(status, out, endStream);
    if (framing === 2 && (this.exchange !== x || x.done)) {
      // the handler let go of the exchange at its head: llhttp skips nothing, the connection closes
      this.bodyLeft = 0;
      return 0;
    }
    return framing;
  }

  /** `keep-alive: timeout=N` from the server: go idle for less than that (undici's rule), or not at all. */
  private keepAliveHint(v: string | string[]): void {
    const secs = hintSeconds(typeof v === 'string' ? v : v.join(','));
    if (secs < 0) return;
    const ms = Math.min(secs * 1000 - KEEPALIVE_HINT_MARGIN_MS, this.opts.idleTimeoutMs);
    if (ms <= 0) this.keepAlive = false;
    else if (ms !== this.idleMs) {
      this.idleMs = ms;
      // the next setIdle arms the timer with the new period
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
  }

  private onBody(chunk: Buffer): void {
    const x = this.exchange;
    if (x === null || x.done) return;
    if (!x.handler.onData(chunk) && !this.readPaused && this.exchange === x) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  private onMessageComplete(): void {
    if (this.informational) {
      this.informational = false;
      this.trailers = null;
      return;
    }
    // the head of a response whose body is framed here (takeBody completes it)
    if (this.bodyLeft > 0) return;
    const x = this.exchange;
    if (x === null) return;
    const t = this.trailers;
    this.trailers = null;
    // llhttp is still inside execute() on this read: whatever follows in it must not reach the next
    // exchange, so the owner hears that the connection is free only once execute() has returned.
    this.afterRead = this.finishExchange(x, t) ? AfterRead.Free : AfterRead.Close;
    // armed only between a completed response and the end of its read
    this.parser.onMessageBegin = this.onUnsolicited;
  }

  /** The response to `x` is complete: the handler hears of it; true if the connection may be reused. */
  private finishExchange(x: Http1ClientExchange, t: string[] | null): boolean {
    this.exchange = null;
    // llhttp reads `connection: close` in trailers too and then refuses more data on this connection
    const reuse = this.keepAlive && this.reqDone && !this.lastRequest && !this.closed && (t === null || !closeInTrailers(t));
    if (this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
    if (!x.done) {
      x.done = true;
      x.conn = null;
      x.handler.onEnd(t !== null && t.length > 0 ? decodeHeaders(t, {} as InHeaders) : undefined);
    }
    return reuse;
  }

  /** llhttp began another message in the read that completed the response (armed only then). */
  private readonly onUnsolicited = (): void => {
    this.unsolicited = true;
  };
}

let lastHint = '';
let lastHintSeconds = -1;

/** N of `timeout=N` in a keep-alive header (-1: none); a server sends the same value every time. */
function hintSeconds(v: string): number {
  if (v === lastHint) return lastHintSeconds;
  const m = /timeout=\s*(\d+)/i.exec(v);
  lastHint = v;
  lastHintSeconds = m === null ? -1 : Number(m[1]);
  return lastHintSeconds;
}

/** `d` from `at` on holds nothing but CR and LF bytes (or nothing) */
function onlyLineBreaks(d: Buffer, at: number): boolean {
  for (let i = at; i < d.length; i++) if (d[i] !== 13 && d[i] !== 10) return false;
  return true;
}

/** A content-length value as a number (-1 if it is not a plain decimal: llhttp has checked it, this is a guard). */
function contentLength(v: string): number {
  const n = v.length;
  if (n === 0 || n > 15) return -1;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  return Number(v);
}

function onIdleTimer(c: Http1ClientConn): void {
  c.onIdleTimer();
}

/** a `connection` trailer naming `close` (flat [name, value, ...] list) */
function closeInTrailers(t: readonly string[]): boolean {
  for (let i = 0; i + 1 < t.length; i += 2) if (t[i].toLowerCase() === 'connection' && /(^|,)\s*close\s*(,|$)/i.test(t[i + 1])) return true;
  return false;
}
