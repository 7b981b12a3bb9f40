/**
 * The HTTP connection manager of one filter chain: runs Clew's HTTP/1.1 codec (llhttp, see
 * src/proxy/codec) or node:http2 on each connection, turns codec errors into 400/431 (request
 * smuggling shapes, header limits), and runs each request as an ActiveStream. Requests parsed
 * elsewhere (the outbound dispatcher) enter through handleRequest().
 */
import { keepH2SessionAlive } from '../codec/h2-session-keepalive.js';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { H1Request } from '../codec/codec-http1-request.js';
import type { H1Response } from '../codec/codec-http1-response.js';
import { http2StreamListener, type H2Request } from '../codec/codec-http2-server.js';
import { serveHttp1, type H1ServerHandler, type H1ServerOptions } from '../codec/codec-http1-server.js';
import { codecErrorDetails, codecErrorStatus, type CodecError } from '../codec/codec-error.js';
import { STATUS_CODES } from 'node:http';
import { markOpaque, streamStarted } from '../drain/connection-activity.js';
import { newStreamInfo } from '../core/stream-info.js';
import type { Destination } from '../core/destination.js';
import { sniffProtocol } from '../codec/protocol-sniffer.js';
import type { RequestObserver } from '../core/observer.js';
import { ActiveStream, type DownstreamRequest, type DownstreamResponse } from './active-stream.js';
import { CONN_CTX, contextOf, type ConnectionContext } from '../core/connection-context.js';
import type { HcmConfig } from './hcm-config.js';

export interface HcmEnv {
  observer: RequestObserver;
}


export class HttpConnectionManager {
  private h1: { opts: H1ServerOptions; handler: H1ServerHandler } | undefined;
  private h2: http2.Http2Server | undefined;
  private readonly sessions = new Set<http2.Http2Session>();

  constructor(readonly config: HcmConfig, private readonly env: HcmEnv) {}

  /** A new downstream connection for this HCM. */
  handleConnection(socket: net.Socket, ctx: ConnectionContext): void {
    (socket as unknown as Record<symbol, unknown>)[CONN_CTX] = ctx;
    if (ctx.tls?.alpn === 'h2') {
      // TLS negotiated h2 by ALPN: HTTP/2 from the first byte, nothing to sniff (Envoy's codec choice)
      markOpaque(ctx);
      this.h2Server().emit('connection', socket);
      return;
    }
    sniffProtocol(socket, (proto, stream) => {
      (stream as unknown as Record<symbol, unknown>)[CONN_CTX] = ctx;
      if (proto === 'h2') {
        markOpaque(ctx);
        this.h2Server().emit('connection', stream);
      } else {
        const h1 = this.h1Codec();
        serveHttp1(stream, h1.opts, h1.handler);
      }
    });
  }

  handleRequest(req: DownstreamRequest, res: DownstreamResponse, ctx: ConnectionContext, dest: Destination | undefined): void {
    streamStarted(ctx); // the stream's close calls streamEnded
    if (req.httpVersionMajor === 2) {
      // HTTP/2 sessions reached through the outbound dispatcher are drained here too; a session
      // of a draining connection gets GOAWAY once this stream is in (it still completes)
      const session = (req as H2Request).stream.session;
      if (session && !this.sessions.has(session)) this.trackSession(session);
      if (ctx.draining && session && !session.closed) session.close();
    }
    new ActiveStream(this.config, req, res, ctx, this.env.observer, dest).start();
  }

  /** Stop keep-alive on existing connections: h1 closes after the next response, h2 gets GOAWAY. */
  drain(): void {
    for (const s of this.sessions) if (!s.closed) s.close();
  }

  private trackSession(session: http2.Http2Session): void {
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
  }

  private onRequest = (req: DownstreamRequest, res: DownstreamResponse): void => {
    const ctx = contextOf(req.socket) ?? contextOf((req as H2Request).stream.session);
    if (!ctx) {
      res.writeHead(500, { 'content-length': '0' }).end();
      return;
    }
    this.handleRequest(req, res, ctx, ctx.destination);
  };

  private h1Codec(): { opts: H1ServerOptions; handler: H1ServerHandler } {
    if (this.h1) return this.h1;
    const handler: H1ServerHandler = {
      onRequest: (req: H1Request, res: H1Response) => {
        const ctx = contextOf(req.socket);
        if (!ctx) {
          res.writeHead(500, { 'content-length': '0' }).end();
          return;
        }
        this.handleRequest(req, res, ctx, ctx.destination);
      },
      onCodecError: (err: CodecError, socket: Duplex) => onClientError(err, socket, this.env.observer),
    };
    this.h1 = {
      opts: { maxHeaderBytes: this.config.maxRequestHeadersKb * 1024, maxHeadersCount: this.config.maxHeadersCount, requireHost: true, idleTimeoutMs: 60_000 },
      handler,
    };
    return this.h1;
  }

  h2Server(): http2.Http2Server {
    if (this.h2) return this.h2;
    // max_headers_count applies to HTTP/2 too (the four request pseudo-headers on top)
    const server = http2.createServer({ maxSessionMemory: 64, maxHeaderListPairs: this.config.maxHeadersCount + 4 });
    server.on('stream', http2StreamListener(this.onRequest));
    server.on('session', (session: http2.ServerHttp2Session) => {
      (session as unknown as Record<symbol, unknown>)[CONN_CTX] = contextOf(session.socket);
      keepH2SessionAlive(session, this.config.h2Keepalive);
      this.trackSession(session);
    });
    server.on('sessionError', () => undefined);
    this.h2 = server;
    return server;
  }
}

/**
 * Codec-level errors before any stream (llhttp and the codec's head checks): smuggling shapes,
 * bad syntax, no Host, HTTP/0.9 and 2.0 request lines -> 400, header overflow or too many fields
 * -> 431, an unsupported transfer coding -> 501, slow head -> 408 (codecErrorStatus). Answered,
 * logged with flag DPE, and the connection closes.
 */
export function onClientError(err: { code?: string }, socket: net.Socket | Duplex, observer: RequestObserver): void {
  const code = err.code ?? '';
  if (!(code.startsWith('HPE_') || code.startsWith('CLEW_HTTP1_')) || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = codecErrorStatus(code);
  const ctx = contextOf(socket);
  const info = newStreamInfo(ctx?.direction ?? 'outbound', 'HTTP/1.1');
  info.responseCode = status;
  info.responseFlags.add('DPE');
  info.responseCodeDetails = codecErrorDetails(code);
  info.listenerName = ctx?.listenerName;
  info.downstreamRemoteAddress = ctx?.remote;
  info.downstreamLocalAddress = ctx?.local;
  info.durationMs = 0;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
  observer.onRequestComplete(info);
}
