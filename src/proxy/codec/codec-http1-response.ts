/**
 * The response side of Clew's HTTP/1.1 server codec. It has the small ServerResponse surface the
 * HCM and filters use (writeHead, write, end, addTrailers, headersSent, writableEnded,
 * writableFinished, shouldKeepAlive, once('close' | 'drain')), and it frames the response itself:
 * the status line and headers are one latin1 string, held with the body until end() or the end
 * of the I/O turn (io-turn.ts), so a response that is ready at once goes out in one write
 * (socket-direct.ts: straight to the handle). Header values are not re-validated here: they come
 * from llhttp-parsed messages or from config validated when it arrived.
 */
import { STATUS_CODES } from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { CodecError } from './codec-error.js';
import type { H1Request } from './codec-http1-request.js';
import { deferToTurnEnd } from './io-turn.js';
import { writeDirect, writeDirectJoined } from './socket-direct.js';

type OutValue = string | number | readonly string[] | undefined;

/** The stream that owns a response: told when it closes, and when the rest of its request turned out malformed. */
export interface H1ResponseListener {
  onResponseClose(): void;
  /**
   * The codec could not parse the rest of this request (a bad chunk in its body): its body is
   * aborted and the connection closes after this response. The listener answers 400 if no
   * response has started (as Envoy does), else resets.
   */
  onRequestError(err: CodecError): void;
}

/** What the connection learns from a response. */
export interface H1ResponseOwner {
  readonly socket: Duplex;
  responseDone(res: H1Response): void;
  /** an Upgrade request's response switched protocols: the socket and the bytes held since its head leave the codec */
  takeUpgraded(res: H1Response): { socket: Duplex; head: Buffer } | undefined;
}

let dateSecond = 0;
let dateText = '';
/** RFC 9110 IMF-fixdate, recomputed at most once a second */
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(s * 1000).toUTCString();
  }
  return dateText;
}

/** Pending bytes past this are written at once rather than at the end of the turn. */
const FLUSH_AT = 16 * 1024;

/** End of the I/O turn (or the next tick outside one): write what is pending, report an ended response. */
function turnEnd(res: H1Response): void {
  res.turnEndScheduled = false;
  res.flush();
  if (res.writableEnded && !res.reported) {
    res.reported = true;
    res.emitClose();
    res.owner.responseDone(res);
  }
}

export class H1Response {
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  /** false closes the connection after this response (drain, or the client asked) */
  shouldKeepAlive = true;
  statusCode = 200;
  /** decided by writeHead: the connection stays open after this response */
  keepAlive = false;
  /** a turnEnd is pending */
  turnEndScheduled = false;
  /** the end was reported to the owner and the 'close' listeners */
  reported = false;
  private chunked = false;
  private noBody = false;
  private closed = false;
  private trailers: Record<string, OutValue> | undefined;
  private closeFns: Array<() => void> | undefined;
  /** the stream that owns this response, told first when it closes (no closure per request) */
  private closeListener: H1ResponseListener | undefined;
  /**
   * What is written but not yet on the socket, in order: latin1 text (head, chunk framing,
   * last chunk) and body Buffers. A response produced within one turn (head, body, end) goes out
   * as one write.
   */
  private parts: Array<string | Buffer> = [];
  private pendingBytes = 0;
  /** the last flush was not taken at once by the socket ('drain' follows) */
  private congested = false;

  constructor(readonly owner: H1ResponseOwner, readonly req: H1Request) {}

  get socket(): Duplex {
    return this.owner.socket;
  }

  writeHead(status: number, headers?: Record<string, OutValue>): this {
    if (this.headersSent) return this;
    this.headersSent = true;
    this.statusCode = status;
    const req = this.req;
    const noBody = (this.noBody = req.method === 'HEAD' || status === 204 || status === 304 || status < 200);
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    let hasLength = false;
    let hasDate = false;
    if (headers) {
      for (const k in headers) {
        const v = headers[k];
        if (v === undefined) continue;
        if (k === 'content-length') hasLength = true;
        else if (k === 'date') hasDate = true;
        else if (k === 'transfer-encoding' || k === 'connection') continue; // framing is ours
        if (typeof v === 'string') head += `${k}: ${v}\r\n`;
        else if (typeof v === 'number') head += `${k}: ${v}\r\n`;
        else for (let i = 0; i < v.length; i++) head += `${k}: ${v[i]}\r\n`;
      }
    }
    let keepAlive = this.shouldKeepAlive && req.keepAlive;
    if (!noBody && !hasLength) {
      if (req.httpVersionMinor >= 1) {
        this.chunked = true;
        head += 'transfer-encoding: chunked\r\n';
      } else keepAlive = false; // HTTP/1.0: the body ends at close
    }
    this.keepAlive = keepAlive;
    if (!keepAlive) head += 'connection: close\r\n';
    else if (req.httpVersionMinor === 0) head += 'connection: keep-alive\r\n';
    if (!hasDate) head += `date: ${httpDate()}\r\n`;
    this.queue(`${head}\r\n`);
    this.schedule();
    return this;
  }

  /** Body bytes; false: the socket buffer is full (wait for 'drain'). */
  write(chunk: Buffer | string): boolean {
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (this.noBody || this.writableEnded) return true;
    const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (body.length === 0) return true;
    if (this.chunked) {
      this.queue(`${body.length.toString(16)}\r\n`);
      this.queue(body);
      this.queue('\r\n');
    } else this.queue(body);
    // a congested socket gets each write at once (its result is the backpressure answer, and a
    // false one always has a 'drain' coming); otherwise small writes wait for the turn's end
    if (this.congested || this.pendingBytes >= FLUSH_AT) return this.flush();
    this.schedule();
    return true;
  }

  addTrailers(trailers: Record<string, OutValue>): void {
    this.trailers = trailers;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded) return this;
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (chunk !== undefined && chunk.length > 0) this.write(chunk);
    this.writableEnded = true;
    if (this.chunked) {
      let tail = '0\r\n';
      const t = this.trailers;
      if (t) {
        for (const k in t) {
          const v = t[k];
          // framing and connection fields have no place in trailers (RFC 9110 6.5.1)
          if (v === undefined || k === 'connection' || k === 'keep-alive' || k === 'transfer-encoding' || k === 'content-length' || k === 'te' || k === 'host') continue;
          if (typeof v === 'string' || typeof v === 'number') tail += `${k}: ${v}\r\n`;
          else for (let i = 0; i < v.length; i++) tail += `${k}: ${v[i]}\r\n`;
        }
      }
      this.queue(`${tail}\r\n`);
    }
    this.flush();
    // Envoy counts a response complete when its codec has encoded the end of it
    this.writableFinished = !this.owner.socket.destroyed;
    this.schedule();
    return this;
  }

  private queue(p: string | Buffer): void {
    const parts = this.parts;
    const n = parts.length;
    // adjacent text joins into one string (head + chunk-size line, CRLF + last chunk)
    if (typeof p === 'string' && n > 0 && typeof parts[n - 1] === 'string') parts[n - 1] = (parts[n - 1] as string) + p;
    else parts.push(p);
    this.pendingBytes += p.length;
  }

  /** Writes what is pending; false: the socket did not take it all ('drain' follows). */
  flush(): boolean {
    const parts = this.parts;
    const n = parts.length;
    if (n === 0) return true;
    const socket = this.owner.socket as net.Socket;
    let ok: boolean;
    if (n === 1) ok = writeDirect(socket, parts[0]);
    else if (n === 2 && typeof parts[0] === 'string' && this.pendingBytes <= FLUSH_AT * 4) ok = writeDirectJoined(socket, parts[0], parts[1] as Buffer);
    else {
      ok = true;
      for (let i = 0; i < n; i++) ok = writeDirect(socket, parts[i]) && ok;
    }
    this.parts = [];
    this.pendingBytes = 0;
    this.congested = !ok;
    return ok;
  }

  private schedule(): void {
    if (this.turnEndScheduled) return;
    this.turnEndScheduled = true;
    deferToTurnEnd(turnEnd, this);
  }

  /**
   * From the codec: the rest of this response's request is malformed. The owning stream decides
   * (a 400 local reply, or a reset once the response has started); without one, the codec's
   * own answer: a bare 400 if nothing was sent, else a reset. The connection closes after it.
   */
  requestFailed(err: CodecError): void {
    this.shouldKeepAlive = false;
    if (this.closed || this.writableEnded) return; // answered already: the connection closes after it
    const l = this.closeListener;
    if (l !== undefined) {
      l.onRequestError(err);
      return;
    }
    if (this.headersSent) this.owner.socket.destroy();
    else this.writeHead(400, { 'content-length': '0' }).end();
  }

  /**
   * An Upgrade request's 101: the head (status line, the given fields, Connection: upgrade and
   * the Upgrade value) is written now and the socket leaves the codec with the bytes the client
   * sent after its request, for the caller's tunnel. The response closes (complete) when the
   * socket does. Undefined when this is not an Upgrade request under way (nothing is written).
   */
  switchProtocols(upgrade: string, headers?: Record<string, OutValue>): { socket: Duplex; head: Buffer } | undefined {
    if (this.headersSent || this.req.upgrade === undefined) return undefined;
    let head = 'HTTP/1.1 101 Switching Protocols\r\n';
    if (headers) {
      for (const k in headers) {
        const v = headers[k];
        if (v === undefined || k === 'connection' || k === 'upgrade' || k === 'transfer-encoding' || k === 'content-length') continue;
        if (typeof v === 'string' || typeof v === 'number') head += `${k}: ${v}\r\n`;
        else for (let i = 0; i < v.length; i++) head += `${k}: ${v[i]}\r\n`;
      }
    }
    head += `connection: upgrade\r\nupgrade: ${upgrade}\r\n\r\n`;
    const taken = this.owner.takeUpgraded(this);
    if (taken === undefined) return undefined;
    this.headersSent = true;
    this.statusCode = 101;
    this.keepAlive = false;
    this.parts = [];
    this.pendingBytes = 0;
    taken.socket.write(head, 'latin1');
    taken.socket.once('close', () => {
      // a tunnel ends when either side closes: that is its normal end
      this.writableEnded = true;
      this.writableFinished = true;
      this.reported = true;
      this.emitClose();
    });
    return taken;
  }

  /** Like once('close'), for the one stream that owns the response. */
  listenClose(l: H1ResponseListener): void {
    if (this.closed) queueMicrotask(() => l.onResponseClose());
    else this.closeListener = l;
  }

  once(event: 'close' | 'drain', fn: () => void): this {
    if (event === 'drain') this.owner.socket.once('drain', fn);
    else if (this.closed) queueMicrotask(fn);
    else (this.closeFns ??= []).push(fn);
    return this;
  }

  /** 'close': the response finished, or the connection went away first (downstream reset). */
  emitClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeListener?.onResponseClose();
    const fns = this.closeFns;
    this.closeFns = undefined;
    if (fns) for (const fn of fns) fn();
  }
}
