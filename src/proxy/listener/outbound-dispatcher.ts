/**
 * Local-mode dispatch for a use_original_dst listener (virtualOutbound on 15001) when the
 * connection has no known destination: parse HTTP and route each request by its own destination:
 * absolute-form URL (HTTP_PROXY clients), else the Host header (port 80 by default). CONNECT
 * host:port answers 200 and re-enters the tunnelled bytes as a new connection to host:port.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { CONN_CTX, contextOf, requestSocket, type ConnectionContext } from '../http/connection-context.js';
import { onClientError, type HttpConnectionManager } from '../http/connection-manager.js';
import type { DownstreamRequest, DownstreamResponse } from '../http/active-stream.js';
import type { RequestObserver } from '../observer.js';
import { parseAuthority, type Destination } from './destination.js';
import type { FilterChain } from './listener-config.js';
import { sniffProtocol } from './protocol-sniffer.js';

export interface DispatchTarget {
  /** the filter chain for a destination port (port-index listener, else the dispatcher's own) */
  chainFor(ctx: ConnectionContext, dest: Destination): FilterChain | undefined;
  /** an HCM that forwards every request to one cluster (TCP chains reached by HTTP requests) */
  passthroughHcm(clusterName: string): HttpConnectionManager;
  /** a tunnelled connection with a known destination */
  dispatchConnection(socket: net.Socket, ctx: ConnectionContext): void;
}


export function destinationFromRequest(req: DownstreamRequest): Destination | undefined {
  const url = req.url ?? '';
  if (/^https?:\/\//i.test(url)) {
    const start = url.indexOf('//') + 2;
    let end = url.length;
    for (let i = start; i < url.length; i++) {
      const c = url[i];
      if (c === '/' || c === '?') {
        end = i;
        break;
      }
    }
    return parseAuthority(url.slice(start, end), url[4] === 's' || url[4] === 'S' ? 443 : 80);
  }
  const host = (req.headers[':authority'] as string | undefined) ?? req.headers.host;
  return host ? parseAuthority(host, 80) : undefined;
}

export class OutboundDispatcher {
  private h1: http.Server | undefined;
  private h2: http2.Http2Server | undefined;

  constructor(private readonly target: DispatchTarget, private readonly observer: RequestObserver) {}

  handleConnection(socket: net.Socket, ctx: ConnectionContext): void {
    (socket as unknown as Record<symbol, unknown>)[CONN_CTX] = ctx;
    sniffProtocol(socket, (proto, stream) => {
      (stream as unknown as Record<symbol, unknown>)[CONN_CTX] = ctx;
      (proto === 'h2' ? this.h2Server() : this.h1Server()).emit('connection', stream);
    });
  }

  private hcmFor(ctx: ConnectionContext, dest: Destination): HttpConnectionManager | undefined {
    const chain = this.target.chainFor(ctx, dest);
    if (!chain) return undefined;
    return chain.hcm ?? this.target.passthroughHcm(chain.tcp!.pickSlot().name);
  }

  private onRequest = (req: DownstreamRequest, res: DownstreamResponse): void => {
    const sock = requestSocket(req);
    const ctx = contextOf(sock);
    const dest = destinationFromRequest(req);
    const hcm = ctx && dest ? this.hcmFor(ctx, dest) : undefined;
    if (!ctx || !dest || !hcm) {
      res.writeHead(404, { 'content-length': '0' });
      res.end();
      return;
    }
    hcm.handleRequest(req, res, ctx, dest);
  };

  private onConnect = (req: http.IncomingMessage, socket: net.Socket, head: Buffer): void => {
    const ctx = contextOf(socket);
    const dest = parseAuthority(req.url ?? '', 443);
    if (!ctx || !dest.host || !dest.port) {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const tunnelCtx: ConnectionContext = { ...ctx, destination: dest };
    (socket as unknown as Record<symbol, unknown>)[CONN_CTX] = tunnelCtx;
    this.target.dispatchConnection(socket, tunnelCtx);
  };

  private onUpgrade = (req: http.IncomingMessage, socket: net.Socket | Duplex, head: Buffer): void => {
    const ctx = contextOf(socket);
    const dest = destinationFromRequest(req);
    const hcm = ctx && dest ? this.hcmFor(ctx, dest) : undefined;
    if (!ctx || !hcm) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    hcm.handleUpgrade(req, socket, head, ctx, dest);
  };

  private h1Server(): http.Server {
    if (this.h1) return this.h1;
    const s = http.createServer({ requireHostHeader: false, keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 60_000, noDelay: true, maxHeaderSize: 60 * 1024 }, this.onRequest);
    s.on('connect', this.onConnect);
    s.on('upgrade', this.onUpgrade);
    s.on('clientError', (err: Error & { code?: string }, socket: net.Socket) => onClientError(err, socket, this.observer));
    this.h1 = s;
    return s;
  }

  private h2Server(): http2.Http2Server {
    if (this.h2) return this.h2;
    const s = http2.createServer({ maxSessionMemory: 64 }, this.onRequest);
    s.on('session', (session: http2.ServerHttp2Session) => {
      (session as unknown as Record<symbol, unknown>)[CONN_CTX] = contextOf(session.socket);
    });
    s.on('sessionError', () => undefined);
    this.h2 = s;
    return s;
  }
}
