/**
 * Clew's HTTP/1.1 server codec: one per downstream connection. llhttp (node's binding) parses the
 * bytes; each request becomes an H1Request + H1Response pair handed to the owner (the HCM or the
 * outbound dispatcher). Pipelined requests wait their turn; Upgrade and CONNECT hand the raw
 * socket over; parse errors (request smuggling shapes, header overflow) go to onCodecError while
 * no response is under way. Keep-alive idle connections close after `idleTimeoutMs`.
 */
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { disposeParser, METHODS, newParser, type LlhttpError, type LlhttpParser } from './llhttp.js';
import { H1Request, H1RequestBody, headersFromRaw } from './codec-http1-request.js';
import { H1Response, type H1ResponseOwner } from './codec-http1-response.js';
import { deliverBuffered, readDirect, releaseDirect, setDirectReader } from './socket-direct.js';
import { turnTime } from './io-turn.js';

export interface H1ServerHandler {
  onRequest(req: H1Request, res: H1Response): void;
  /** an Upgrade request (WebSocket): the socket (paused: resume it to read) and any bytes after the head are the handler's */
  onUpgrade?(req: H1Request, socket: Duplex, head: Buffer): void;
  /** CONNECT host:port */
  onConnect?(req: H1Request, socket: Duplex, head: Buffer): void;
  /** bad request bytes before any response started: the handler answers 400/431 and closes */
  onCodecError(err: CodecError, socket: Duplex): void;
}

export interface H1ServerOptions {
  maxHeaderBytes: number;
  /** HTTP/1.1 requests without Host are rejected (400) */
  requireHost: boolean;
  /** an idle keep-alive connection (no request under way) closes after this long */
  idleTimeoutMs: number;
  /** a request head must be complete this long after its first byte (default HEADERS_TIMEOUT_MS) */
  headersTimeoutMs?: number;
}

export interface CodecError {
  /** llhttp's HPE_* code, CLEW_HTTP1_MISSING_HOST or CLEW_HTTP1_HEADERS_TIMEOUT */
  code: string;
  message: string;
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
/** a request head must arrive within this time of its first byte (node:http's headersTimeout) */
export const HEADERS_TIMEOUT_MS = 60_000;
/** Envoy's default stream_idle_timeout */
const STREAM_IDLE_TIMEOUT_MS = 300_000;

/** Requests waiting behind the active one before reading pauses. */
const MAX_PIPELINED = 16;

class H1ServerConnection implements H1ResponseOwner {
  private readonly parser: LlhttpParser;
  /** the request whose message llhttp is reading */
  private receiving: H1Request | undefined;
  private active: H1Response | undefined;
  private readonly queue: H1Response[] = [];
  private upgrade: H1Request | undefined;
  private pendingRaw: string[] = [];
  private pendingUrl = '';
  private closeAfter = false;
  private gone = false;
  private missingHost = false;
  /** Date.now() at the first byte of the request head being read (0: none under way) */
  private headStart = 0;
  /**
   * Idle bookkeeping without node's socket timer (which direct reads and writes do not refresh):
   * the time of the last read or finished response, and one lazy timer that checks it.
   */
  private lastActive = turnTime();
  private idleTimer: NodeJS.Timeout | undefined;
  /** timer firings in a row without a byte moved while a request is under way */
  private idleStrikes = 0;
  private movedAtTimeout = -1;

  constructor(readonly socket: Duplex, private readonly opts: H1ServerOptions, private readonly handler: H1ServerHandler) {
    this.parser = newParser('request', opts.maxHeaderBytes, {
      onHeadersComplete: this.onHeadersComplete,
      onBody: this.onBody,
      onMessageComplete: this.onMessageComplete,
      onHeaders: this.onHeaders,
    });
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', ignore);
    if (opts.idleTimeoutMs > 0) this.armIdle(opts.idleTimeoutMs);
    this.direct = readDirect(socket as net.Socket, this.onData);
    if (!this.direct) socket.on('data', this.onData);
    // last: bytes already buffered (the sniffed first chunk) are parsed right here
    else deliverBuffered(socket as net.Socket);
  }

  /** reads come straight from the handle (socket-direct.ts): a chunk is valid only during onData */
  private direct = false;

  private stopReading(): void {
    if (this.direct) setDirectReader(this.socket as net.Socket, ignore);
    else this.socket.removeListener('data', this.onData);
  }

  private onData = (chunk: Buffer): void => {
    const now = (this.lastActive = turnTime());
    if (this.receiving === undefined) {
      // bytes of a request head: it must be complete within HEADERS_TIMEOUT_MS of its first byte
      // (the idle timer alone would let a client drip one byte a minute forever)
      if (this.headStart === 0) this.headStart = now;
      else if (now - this.headStart > (this.opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS)) {
        this.codecError({ code: 'CLEW_HTTP1_HEADERS_TIMEOUT', message: 'request headers not received in time' });
        return;
      }
    }
    const ret = this.parser.execute(chunk);
    if (this.missingHost) {
      // onHeadersComplete stopped the parser (-1): nothing after this request is read
      this.codecError({ code: 'CLEW_HTTP1_MISSING_HOST', message: 'HTTP/1.1 request without Host' });
      return;
    }
    if (ret instanceof Error) {
      this.codecError(ret as LlhttpError);
      return;
    }
    const up = this.upgrade;
    // the hand-over keeps what follows the head: a copy, the read buffer is reused
    if (up) this.handOver(up, Buffer.from(chunk.subarray(ret)));
  };

  private onHeaders = (raw: string[], url: string): void => {
    for (let i = 0; i < raw.length; i++) this.pendingRaw.push(raw[i]);
    this.pendingUrl += url;
  };

  private onHeadersComplete = (
    _major: number,
    minor: number,
    raw: string[] | undefined,
    method: number | undefined,
    url: string | undefined,
    _status: number | undefined,
    _message: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    if (raw === undefined) {
      raw = this.pendingRaw;
      this.pendingRaw = [];
    }
    if (!url) {
      url = this.pendingUrl;
      this.pendingUrl = '';
    }
    const headers = headersFromRaw(raw);
    const m = METHODS[method ?? 1] ?? 'GET';
    const req = new H1Request(m, url, headers, minor, this.socket, keepAlive);
    this.headStart = 0;
    if (this.opts.requireHost && minor >= 1 && headers.host === undefined && m !== 'CONNECT') {
      this.receiving = undefined;
      this.missingHost = true;
      return -1; // stop parsing: a pipelined request after it must not be answered in its place
    }
    if (upgrade) {
      this.upgrade = req;
      return 2; // as node:http: no body is parsed; what follows the head belongs to the upgrade
    }
    const cl = headers['content-length'];
    if ((cl !== undefined && cl !== '0') || headers['transfer-encoding'] !== undefined) req.body = new H1RequestBody(this.socket);
    if (headers.expect !== undefined && (headers.expect as string).toLowerCase() === '100-continue') {
      // Envoy answers 100-continue itself and does not pass Expect on
      delete headers.expect;
      if (minor >= 1) {
        if (this.active === undefined) this.socket.write(CONTINUE, 'latin1');
        else req.expectContinue = true; // pipelined: answered when its turn comes
      }
    }
    this.receiving = req;
    const res = new H1Response(this, req);
    if (this.active === undefined) {
      this.active = res;
      this.handler.onRequest(req, res);
    } else {
      this.queue.push(res);
      if (this.queue.length >= MAX_PIPELINED) this.socket.pause();
    }
    return 0;
  };

  private onBody = (chunk: Buffer): void => {
    this.receiving?.body?.deliver(chunk);
  };

  private onMessageComplete = (): void => {
    const r = this.receiving;
    if (!r) return;
    this.receiving = undefined;
    r.complete = true;
    if (r.body && !r.body.discarding) r.body.push(null);
  };

  private codecError(err: LlhttpError | CodecError): void {
    this.stopReading();
    const r = this.receiving;
    this.receiving = undefined;
    if (r?.body && !r.body.destroyed) r.body.destroy(Object.assign(new Error(err.message), { code: err.code }));
    if (this.gone) return;
    if (this.active === undefined) this.handler.onCodecError(err, this.socket);
    else if (r === this.active.req) {
      // the request under way is broken (e.g. a bad chunk in its body): reset it, as Envoy does
      this.socket.destroy();
    } else this.closeAfter = true; // answer the requests before the bad one, then close
  }

  /** Upgrade/CONNECT: the socket leaves the codec (only when nothing else is under way). */
  private handOver(req: H1Request, head: Buffer): void {
    // bytes arriving before the handler reads them stay buffered in the socket (node:http does the same)
    this.socket.pause();
    if (this.direct) releaseDirect(this.socket);
    else this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEnd);
    this.socket.removeListener('close', this.onClose);
    this.stopIdle();
    disposeParser(this.parser);
    const fn = req.method === 'CONNECT' ? this.handler.onConnect : this.handler.onUpgrade;
    if (this.active !== undefined || !fn) {
      this.socket.destroy();
      return;
    }
    fn.call(this.handler, req, this.socket, head);
  }

  responseDone(res: H1Response): void {
    if (res !== this.active || this.gone) return;
    this.lastActive = turnTime();
    this.active = undefined;
    const req = res.req;
    if (!req.complete) {
      if (req.body) req.body.discard();
      else this.closeAfter = true;
    }
    if (!res.keepAlive || this.closeAfter) {
      this.socket.end();
      return;
    }
    const next = this.queue.shift();
    if (next) {
      if (this.queue.length === MAX_PIPELINED - 1) this.socket.resume();
      this.active = next;
      if (next.req.expectContinue) this.socket.write(CONTINUE, 'latin1');
      this.handler.onRequest(next.req, next);
    }
  }

  private onEnd = (): void => {
    // the client half-closed: answer what is under way, then close
    if (this.active === undefined && this.queue.length === 0) this.socket.end();
    else this.closeAfter = true;
  };

  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(onIdleTimer, ms, this);
    this.idleTimer.unref();
  }

  private stopIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** The idle timer fired: idleTimeoutMs after the last activity it knew of. */
  onIdleTimer(): void {
    this.idleTimer = undefined;
    if (this.gone) return;
    const period = this.opts.idleTimeoutMs;
    const quiet = Date.now() - this.lastActive;
    if (quiet < period) {
      // activity since the timer was set: wait out the rest of the period
      this.armIdle(period - quiet);
      return;
    }
    if (this.active === undefined && this.receiving === undefined) {
      this.socket.destroy();
      return;
    }
    // a request under way: Envoy's stream_idle_timeout (5 min) with no byte either way resets it
    const s = this.socket as net.Socket;
    const moved = (s.bytesRead ?? 0) + (s.bytesWritten ?? 0);
    if (moved !== this.movedAtTimeout) {
      this.movedAtTimeout = moved;
      this.idleStrikes = 0;
    } else if (++this.idleStrikes * period >= STREAM_IDLE_TIMEOUT_MS) {
      s.destroy();
      return;
    }
    this.armIdle(period);
  }

  private onClose = (): void => {
    this.gone = true;
    this.stopIdle();
    const a = this.active;
    this.active = undefined;
    a?.emitClose();
    for (const r of this.queue) r.emitClose();
    this.queue.length = 0;
    const b = this.receiving?.body;
    if (b && !b.destroyed) b.destroy();
    disposeParser(this.parser);
  };
}

function ignore(): void {}

function onIdleTimer(c: H1ServerConnection): void {
  c.onIdleTimer();
}

/** Serve HTTP/1.x on a connection (its first bytes unread or unshifted). */
export function serveHttp1(socket: Duplex, opts: H1ServerOptions, handler: H1ServerHandler): void {
  new H1ServerConnection(socket, opts, handler);
}
