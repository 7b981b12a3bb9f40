/**
 * Clew's HTTP/1.1 server codec: one per downstream connection. llhttp (node's binding) parses the
 * bytes; each request becomes an H1Request + H1Response pair handed to the owner (the HCM or the
 * outbound dispatcher). Pipelined requests wait their turn. CONNECT hands the raw socket over.
 * An Upgrade request is a request like any other (it runs the HCM's filters): no body is parsed,
 * what the client sends after its head is held, and its response either switches protocols
 * (H1Response.switchProtocols after an upstream 101: the socket leaves the codec with the held
 * bytes) or is the connection's last. `Upgrade: h2c` is stripped (as Envoy does) and the request
 * is carried as plain HTTP/1.1. Keep-alive idle connections close after `idleTimeoutMs`.
 *
 * Bytes that are not HTTP this codec carries never reach a stream and never end the process:
 * - a bad head (llhttp's smuggling shapes and syntax errors, and Clew's own checks in
 *   checkHead: version, Host, Transfer-Encoding, header count) goes to onCodecError, which
 *   answers 400/431/501 and closes; behind pipelined requests, once they are answered;
 * - a bad body of the request under way (chunk syntax, chunk extensions) aborts its body
 *   stream (without 'error': see H1RequestBody) and goes to its response (requestFailed): its
 *   stream answers 400 if no response has started, else the connection is reset (Envoy's rule);
 * - nothing after a parse error is read as HTTP: reading stops and the connection closes after
 *   the answer.
 */
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { METHODS, newParser, resetParser, type LlhttpError, type LlhttpParser } from './llhttp.js';
import { H1Request, H1RequestBody, headersFromRaw } from './codec-http1-request.js';
import { H1Response, type H1ResponseOwner } from './codec-http1-response.js';
import {
  CODEC_BAD_VERSION, CODEC_HEADERS_TIMEOUT, CODEC_HTTP09, CODEC_MISSING_HOST, CODEC_TE_IN_HTTP10, CODEC_TOO_MANY_HEADERS,
  CODEC_UNSUPPORTED_TE, type CodecError,
} from './codec-error.js';
import type { HeaderMap } from '../core/header-map.js';
import { deliverBuffered, readDirect, releaseDirect, setDirectReader } from './socket-direct.js';
import { turnTime } from './io-turn.js';

export interface H1ServerHandler {
  onRequest(req: H1Request, res: H1Response): void;
  /** CONNECT host:port */
  onConnect?(req: H1Request, socket: Duplex, head: Buffer): void;
  /**
   * bad request bytes when no response is under way (status by codecErrorStatus): the handler
   * answers and closes; it is called once per connection, and nothing more is read
   */
  onCodecError(err: CodecError, socket: Duplex): void;
}

export type { CodecError };

export interface H1ServerOptions {
  maxHeaderBytes: number;
  /** HTTP/1.1 requests without Host are rejected (400) */
  requireHost: boolean;
  /** an idle keep-alive connection (no request under way) closes after this long */
  idleTimeoutMs: number;
  /** a request head must be complete this long after its first byte (default HEADERS_TIMEOUT_MS) */
  headersTimeoutMs?: number;
  /** more header fields than this in a request head: 431 (Envoy's max_headers_count; default 100) */
  maxHeadersCount?: number;
}

/** Envoy's default common_http_protocol_options.max_headers_count */
export const DEFAULT_MAX_HEADERS_COUNT = 100;

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
  /** a CONNECT request: the socket is handed over once its head is parsed */
  private upgrade: H1Request | undefined;
  /** an Upgrade request: nothing after it is parsed; its bytes are held for its tunnel */
  private upgradeReq: H1Request | undefined;
  /** an `Upgrade: h2c` request carried as plain HTTP: llhttp's upgrade flag is cleared after it */
  private downgraded: H1Request | undefined;
  /** the connection left the codec (CONNECT, or an Upgrade request switched protocols) */
  private released = false;
  private pendingRaw: string[] = [];
  private pendingUrl = '';
  private closeAfter = false;
  private gone = false;
  /** a request head failed checkHead: onHeadersComplete stopped the parser (-1) */
  private headError: CodecError | undefined;
  /** a parse error found behind pipelined requests: answered once they are, then the connection closes */
  private pendingError: CodecError | undefined;
  /** onHeadersComplete calls in the current read */
  private headsInRead = 0;
  /** the last bytes of a request line still being read across reads (HTTP/0.9 detection) */
  private lineTail: string | undefined;
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
    this.parser.onMessageBegin = this.onMessageBegin;
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', ignore);
    if (opts.idleTimeoutMs > 0) this.armIdle(opts.idleTimeoutMs);
    this.direct = readDirect(socket as net.Socket, this.onData);
    if (!this.direct) this.readWith(this.onData);
    // last: bytes already buffered (the sniffed first chunk) are parsed right here
    else deliverBuffered(socket as net.Socket);
  }

  /** reads come straight from the handle (socket-direct.ts): a chunk is valid only during onData */
  private direct = false;

  /** the 'data' listener when the socket is read through its Readable (no direct reads) */
  private dataListener: ((chunk: Buffer) => void) | undefined;

  /** Reads go to `fn` from now on. */
  private readWith(fn: (chunk: Buffer) => void): void {
    if (this.direct) {
      setDirectReader(this.socket as net.Socket, fn);
      return;
    }
    if (this.dataListener !== undefined) this.socket.removeListener('data', this.dataListener);
    this.dataListener = fn;
    this.socket.on('data', fn);
  }

  private stopReading(): void {
    this.readWith(ignore);
  }

  private onData = (chunk: Buffer): void => {
    const now = (this.lastActive = turnTime());
    let headBegun = false;
    if (this.receiving === undefined) {
      // bytes of a request head: it must be complete within HEADERS_TIMEOUT_MS of its first byte
      // (the idle timer alone would let a client drip one byte a minute forever)
      if (this.headStart === 0) {
        this.headStart = now;
        headBegun = true;
      } else if (now - this.headStart > (this.opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS)) {
        this.codecError({ code: CODEC_HEADERS_TIMEOUT, message: 'request headers not received in time' });
        return;
      }
    }
    this.headsInRead = 0;
    let ret: number | LlhttpError;
    this.executing = true;
    try {
      ret = this.parser.execute(chunk);
    } catch (err) {
      // a handler threw inside a parser callback (a bug): this connection is broken, the process is not
      this.executing = false;
      handlerFailed(err);
      this.socket.destroy();
      return;
    } finally {
      this.executing = false;
    }
    if (this.freeParserAfter) {
      // the socket left the codec inside this execute(): the parser could not be freed then
      this.freeParserAfter = false;
      this.parser.free();
    }
    const bad = this.headError;
    if (bad !== undefined) {
      // onHeadersComplete stopped the parser (-1): nothing after this request is read
      this.codecError(bad);
      return;
    }
    if (ret instanceof Error) {
      this.codecError(ret as LlhttpError);
      return;
    }
    const up = this.upgrade;
    // the hand-over keeps what follows the head: a copy, the read buffer is reused
    if (up) this.handOver(up, Buffer.from(chunk.subarray(ret)));
    else if (this.upgradeReq !== undefined) {
      if (this.released) {
        // it switched protocols inside this read: the bytes after its head go back to the socket, first in line
        if (ret < chunk.length) this.socket.unshift(Buffer.from(chunk.subarray(ret)));
      } else {
        if (ret < chunk.length) this.holdUpgradeBytes(chunk.subarray(ret));
        this.readWith(this.onHeldData);
      }
    } else if (this.downgraded !== undefined) this.afterDowngraded(chunk, ret);
    // a head left incomplete (rare: most heads arrive whole): llhttp waits for more after a
    // request line without a version, so an HTTP/0.9 request would sit out the head timeout
    else if (this.receiving === undefined && this.headStart !== 0 && this.headsInRead === 0 && (headBegun || this.lineTail !== undefined)) this.partialHead(chunk, headBegun);
  };

  /**
   * A read ended inside a request head that began at the start of this read (or whose request
   * line is still being read): once its request line is complete, it must name a version.
   */
  private partialHead(chunk: Buffer, from0: boolean): void {
    let i = 0;
    if (from0) {
      // llhttp skips empty lines before a request
      while (i < chunk.length && (chunk[i] === 13 || chunk[i] === 10)) i++;
      if (i === chunk.length) {
        this.headStart = 0;
        return;
      }
      this.lineTail = '';
    }
    const lf = chunk.indexOf(10, i);
    const end = lf < 0 ? chunk.length : lf;
    // the version is at the end of the line: keep only its last bytes
    const tail = (this.lineTail + chunk.toString('latin1', Math.max(i, end - 16), end)).slice(-16);
    if (lf < 0) {
      this.lineTail = tail;
      return;
    }
    this.lineTail = undefined;
    if (!/ HTTP\/\d\.\d\r?$/.test(tail)) this.codecError({ code: CODEC_HTTP09, message: 'HTTP/0.9 request (no version in the request line)' });
  }

  /**
   * A request head begins, wherever in a read: its head timeout runs from now. A head that began
   * after another message in an earlier read is not taken for one that begins at the start of
   * the next read (onData's headBegun): its request line would be looked for in the middle of
   * its header fields (found by the HTTP codec fuzz target: a pipelined request whose head came
   * in three reads got a 400 as HTTP/0.9).
   */
  private onMessageBegin = (): void => {
    if (this.headStart === 0) this.headStart = turnTime();
  };

  private onHeaders = (raw: string[], url: string): void => {
    for (let i = 0; i < raw.length; i++) this.pendingRaw.push(raw[i]);
    this.pendingUrl += url;
  };

  private onHeadersComplete = (
    major: number,
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
    this.headsInRead++;
    this.lineTail = undefined;
    const headers = headersFromRaw(raw);
    const m = METHODS[method ?? 1] ?? 'GET';
    this.headStart = 0;
    const te = headers['transfer-encoding'];
    if (major !== 1 || te !== undefined || raw.length > (this.opts.maxHeadersCount ?? DEFAULT_MAX_HEADERS_COUNT) * 2 || (this.opts.requireHost && headers.host === undefined)) {
      const err = checkHead(major, minor, m, headers, raw.length >> 1, this.opts);
      if (err !== undefined) {
        this.receiving = undefined;
        this.headError = err;
        return -1; // stop parsing: a pipelined request after it must not be answered in its place
      }
    }
    // an Upgrade request is the connection's last (unless it switches): its response says so
    const req = new H1Request(m, url, headers, minor, this.socket, keepAlive && (!upgrade || isH2c(headers.upgrade)));
    if (upgrade) {
      if (m === 'CONNECT') {
        this.upgrade = req;
        return 2; // as node:http: no body is parsed; what follows the head belongs to the tunnel
      }
      const type = upgradeType(headers.upgrade);
      if (type === 'h2c') {
        // Envoy strips h2c upgrades and serves the request as HTTP/1.1 (no cleartext h2 upgrade,
        // the precondition for h2c smuggling through a proxy)
        stripH2cUpgrade(headers);
        this.downgraded = req;
      } else {
        req.upgrade = type;
        this.upgradeReq = req;
        // nothing after an Upgrade request is HTTP: the connection ends with its response, unless it switches
        this.closeAfter = true;
        this.dispatch(req);
        return 2; // no body is parsed: what follows the head belongs to the upgrade
      }
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
    this.dispatch(req);
    return 0;
  };

  /** The request's turn (now, or behind the pipelined ones). */
  private dispatch(req: H1Request): void {
    const res = new H1Response(this, req);
    if (this.active === undefined) {
      this.active = res;
      this.handler.onRequest(req, res);
    } else {
      this.queue.push(res);
      if (this.queue.length >= MAX_PIPELINED) this.socket.pause();
    }
  }

  /** Bytes after an Upgrade request's head: kept (a copy) for its tunnel, at most MAX_HELD_UPGRADE_BYTES, then reading pauses. */
  private holdUpgradeBytes(data: Buffer): void {
    const r = this.upgradeReq!;
    const held = (r.upgradeHead ??= []);
    held.push(Buffer.from(data));
    this.heldBytes += data.length;
    if (this.heldBytes >= MAX_HELD_UPGRADE_BYTES) this.socket.pause();
  }

  private heldBytes = 0;
  /** inside parser.execute(): the parser must not be freed now */
  private executing = false;
  private freeParserAfter = false;

  private freeParser(): void {
    if (this.executing) this.freeParserAfter = true;
    else this.parser.free();
  }

  private onHeldData = (chunk: Buffer): void => {
    this.lastActive = turnTime();
    this.holdUpgradeBytes(chunk);
  };

  /**
   * The read that carried (part of) a downgraded h2c request: once its message is complete,
   * llhttp's upgrade flag is cleared (while it is set, node's binding reports no parse error)
   * and what follows in this read is parsed as the next request.
   */
  private afterDowngraded(chunk: Buffer, ret: number): void {
    const r = this.downgraded!;
    if (!r.complete) {
      // llhttp stops early only at the end of an upgrade message, or at an error it did not report
      if (ret < chunk.length) this.codecError({ code: 'HPE_INVALID_CHUNK_SIZE', message: 'malformed body of an h2c upgrade request' });
      return;
    }
    this.downgraded = undefined;
    resetParser(this.parser, 'request', this.opts.maxHeaderBytes);
    if (ret < chunk.length && !this.gone) this.onData(chunk.subarray(ret));
  }

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

  /**
   * Bytes that are not HTTP this codec carries: nothing more is read from the connection (later
   * bytes are dropped so the client still reads the answer), and the connection closes after it.
   */
  private codecError(err: LlhttpError | CodecError): void {
    this.stopReading();
    this.closeAfter = true;
    const r = this.receiving;
    this.receiving = undefined;
    // readers of the body see it aborted ('close' without 'end'; never an 'error' nobody listens to)
    if (r?.body) r.body.abort();
    if (this.gone) return;
    const active = this.active;
    if (active === undefined) {
      if (r !== undefined) {
        // the body of a request already answered (being discarded): no second answer, just close
        this.socket.end();
        return;
      }
      this.handler.onCodecError(err, this.socket);
      return;
    }
    if (r === active.req) {
      // the request under way is broken (a bad chunk in its body): its stream answers 400, or
      // resets if its response has started (Envoy's rule)
      active.requestFailed(err);
      return;
    }
    // behind pipelined requests: they are answered first, then this error, then the connection closes
    if (r !== undefined) {
      const i = this.queue.findIndex((q) => q.req === r);
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.pendingError = err;
  }

  /**
   * The last response on this connection is done: reading goes on only to drop what the client
   * still sends (so it reads the answer rather than a reset), and our side closes.
   */
  private endConnection(): void {
    this.stopReading();
    this.socket.resume();
    this.socket.end();
  }

  /** The socket leaves the codec: its reads go to its Readable (paused), the codec lets go of it. */
  private release(): void {
    this.released = true;
    this.socket.pause();
    if (this.direct) releaseDirect(this.socket);
    else if (this.dataListener !== undefined) this.socket.removeListener('data', this.dataListener);
    this.socket.removeListener('end', this.onEnd);
    this.socket.removeListener('close', this.onClose);
    this.stopIdle();
    this.freeParser();
  }

  /** CONNECT: the socket leaves the codec (only when nothing else is under way). */
  private handOver(req: H1Request, head: Buffer): void {
    // bytes arriving before the handler reads them stay buffered in the socket (node:http does the same)
    this.release();
    const fn = this.handler.onConnect;
    if (this.active !== undefined || !fn) {
      this.socket.destroy();
      return;
    }
    fn.call(this.handler, req, this.socket, head);
  }

  /**
   * H1Response.switchProtocols: the Upgrade request under way switched protocols (its 101 is
   * written): the socket leaves the codec with the bytes held since its head, for the tunnel.
   */
  takeUpgraded(res: H1Response): { socket: Duplex; head: Buffer } | undefined {
    const req = res.req;
    if (res !== this.active || this.gone || this.released || req.upgrade === undefined || req !== this.upgradeReq) return undefined;
    this.release();
    this.active = undefined;
    const held = req.upgradeHead;
    req.upgradeHead = undefined;
    const head = held === undefined ? EMPTY : held.length === 1 ? held[0] : Buffer.concat(held);
    return { socket: this.socket, head };
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
    if (!res.keepAlive || (this.closeAfter && this.queue.length === 0)) {
      const err = this.pendingError;
      this.pendingError = undefined;
      if (err !== undefined && res.keepAlive) this.handler.onCodecError(err, this.socket);
      else this.endConnection();
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
    if (this.released) return;
    this.gone = true;
    this.stopIdle();
    const a = this.active;
    this.active = undefined;
    a?.emitClose();
    for (const r of this.queue) r.emitClose();
    this.queue.length = 0;
    const b = this.receiving?.body;
    if (b && !b.destroyed) b.destroy();
    this.parser.free();
  };
}

function ignore(): void {}

const EMPTY = Buffer.alloc(0);

/** bytes an Upgrade request's client may send before its tunnel is up; reading pauses beyond */
const MAX_HELD_UPGRADE_BYTES = 64 * 1024;

/** The Upgrade header's value as an upgrade type: trimmed, lower-case (Envoy compares it without case). */
function upgradeType(v: string | string[] | undefined): string {
  const s = typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : '';
  return s.trim().toLowerCase();
}

function isH2c(v: string | string[] | undefined): boolean {
  return upgradeType(v) === 'h2c';
}

/** Envoy's h2c handling: Upgrade, HTTP2-Settings and Connection's upgrade/http2-settings tokens go. */
function stripH2cUpgrade(h: HeaderMap): void {
  delete h.upgrade;
  delete h['http2-settings'];
  const c = h.connection;
  if (typeof c === 'string') {
    const kept = c.split(',').map((t) => t.trim()).filter((t) => t !== '' && !/^(upgrade|http2-settings)$/i.test(t));
    if (kept.length === 0) delete h.connection;
    else h.connection = kept.join(', ');
  }
}

let handlerFailures = 0;

/** A request handler threw inside the codec: reported (the first ten, then every thousandth), never rethrown. */
function handlerFailed(err: unknown): void {
  const n = ++handlerFailures;
  if (n <= 10 || n % 1000 === 0) {
    process.emitWarning(`HTTP/1.1 request handler failed (${n} so far): ${(err as Error)?.stack ?? String(err)}`, { code: 'CLEW_HTTP1_HANDLER' });
  }
}

/**
 * Clew's checks of a request head llhttp accepted, run only when one of their triggers is there
 * (a version other than 1.x, Transfer-Encoding, many fields, no Host): undefined when it passes.
 */
function checkHead(major: number, minor: number, method: string, headers: HeaderMap, fields: number, opts: H1ServerOptions): CodecError | undefined {
  if (major !== 1) {
    // llhttp reads `HTTP/2.0` (and 0.9) request lines; this codec carries HTTP/1.x only
    return { code: major === 0 ? CODEC_HTTP09 : CODEC_BAD_VERSION, message: `HTTP/${major}.${minor} request on the HTTP/1 codec` };
  }
  const max = opts.maxHeadersCount ?? DEFAULT_MAX_HEADERS_COUNT;
  if (fields > max) return { code: CODEC_TOO_MANY_HEADERS, message: `${fields} request header fields (at most ${max})` };
  const te = headers['transfer-encoding'];
  if (te !== undefined) {
    // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing
    if (minor === 0) return { code: CODEC_TE_IN_HTTP10, message: 'Transfer-Encoding in an HTTP/1.0 request' };
    // Envoy carries only `chunked` and never a body with CONNECT (501, http1.invalid_transfer_encoding)
    if (typeof te !== 'string' || te.trim().toLowerCase() !== 'chunked' || method === 'CONNECT') {
      return { code: CODEC_UNSUPPORTED_TE, message: `unsupported Transfer-Encoding: ${String(te).slice(0, 64)}` };
    }
  }
  if (opts.requireHost && minor >= 1 && headers.host === undefined && method !== 'CONNECT') {
    return { code: CODEC_MISSING_HOST, message: 'HTTP/1.1 request without Host' };
  }
  return undefined;
}

function onIdleTimer(c: H1ServerConnection): void {
  c.onIdleTimer();
}

/** Serve HTTP/1.x on a connection (its first bytes unread or unshifted). */
export function serveHttp1(socket: Duplex, opts: H1ServerOptions, handler: H1ServerHandler): void {
  new H1ServerConnection(socket, opts, handler);
}
