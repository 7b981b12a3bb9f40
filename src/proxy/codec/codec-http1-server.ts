/**
 * Clew's HTTP/1.1 server codec: one per downstream connection. llhttp (node's binding) parses the
 * bytes; each request becomes an H1Request + H1Response pair handed to the owner (the HCM or the
 * outbound dispatcher). Pipelined requests wait their turn; Upgrade and CONNECT hand the raw
 * socket over; parse errors (request smuggling shapes, header overflow) go to onCodecError while
 * no response is under way. Keep-alive idle connections close after `idleTimeoutMs`.
 */
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { METHODS, newParser, type LlhttpError, type LlhttpParser } from './llhttp.js';
import { H1Request, H1RequestBody, headersFromRaw } from './codec-http1-request.js';
import { H1Response, type H1ResponseOwner } from './codec-http1-response.js';

export interface H1ServerHandler {
  onRequest(req: H1Request, res: H1Response): void;
  /** an Upgrade request (WebSocket): the socket and any bytes after the head are the handler's */
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
}

export interface CodecError {
  /** llhttp's HPE_* code, or CLEW_HTTP1_MISSING_HOST */
  code: string;
  message: string;
}

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

  constructor(readonly socket: Duplex, private readonly opts: H1ServerOptions, private readonly handler: H1ServerHandler) {
    this.parser = newParser('request', opts.maxHeaderBytes, {
      onHeadersComplete: this.onHeadersComplete,
      onBody: this.onBody,
      onMessageComplete: this.onMessageComplete,
      onHeaders: this.onHeaders,
    });
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', ignore);
    if (opts.idleTimeoutMs > 0 && 'setTimeout' in socket) (socket as net.Socket).setTimeout(opts.idleTimeoutMs, this.onTimeout);
  }

  private onData = (chunk: Buffer): void => {
    const ret = this.parser.execute(chunk);
    if (ret instanceof Error) {
      this.codecError(ret as LlhttpError);
      return;
    }
    if (this.missingHost) {
      this.codecError({ code: 'CLEW_HTTP1_MISSING_HOST', message: 'HTTP/1.1 request without Host' });
      return;
    }
    const up = this.upgrade;
    if (up) this.handOver(up, chunk.subarray(ret));
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
    if (this.opts.requireHost && minor >= 1 && headers.host === undefined && m !== 'CONNECT') {
      this.receiving = undefined;
      this.missingHost = true;
      return 0;
    }
    if (upgrade) {
      this.upgrade = req;
      return 0;
    }
    const cl = headers['content-length'];
    if ((cl !== undefined && cl !== '0') || headers['transfer-encoding'] !== undefined) req.body = new H1RequestBody(this.socket);
    if (headers.expect !== undefined && (headers.expect as string).toLowerCase() === '100-continue') {
      // Envoy answers 100-continue itself and does not pass Expect on
      delete headers.expect;
      if (minor >= 1 && this.active === undefined) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
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
    this.socket.removeListener('data', this.onData);
    if (this.active === undefined && !this.gone) this.handler.onCodecError(err, this.socket);
    else this.closeAfter = true;
  }

  /** Upgrade/CONNECT: the socket leaves the codec (only when nothing else is under way). */
  private handOver(req: H1Request, head: Buffer): void {
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEnd);
    this.socket.removeListener('close', this.onClose);
    if ('setTimeout' in this.socket) (this.socket as net.Socket).setTimeout(0);
    this.parser.free();
    const fn = req.method === 'CONNECT' ? this.handler.onConnect : this.handler.onUpgrade;
    if (this.active !== undefined || !fn) {
      this.socket.destroy();
      return;
    }
    fn.call(this.handler, req, this.socket, head);
  }

  responseDone(res: H1Response): void {
    if (res !== this.active || this.gone) return;
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
      this.handler.onRequest(next.req, next);
    }
  }

  private onEnd = (): void => {
    // the client half-closed: answer what is under way, then close
    if (this.active === undefined && this.queue.length === 0) this.socket.end();
    else this.closeAfter = true;
  };

  private onTimeout = (): void => {
    if (this.active === undefined && this.receiving === undefined) this.socket.destroy();
  };

  private onClose = (): void => {
    this.gone = true;
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

/** Serve HTTP/1.x on a connection (its first bytes unread or unshifted). */
export function serveHttp1(socket: Duplex, opts: H1ServerOptions, handler: H1ServerHandler): void {
  new H1ServerConnection(socket, opts, handler);
}
