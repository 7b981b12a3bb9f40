/**
 * Local-mode dispatch for a use_original_dst listener (virtualOutbound on 15001) when the
 * connection has no known destination: parse HTTP and route each request by its own destination:
 * absolute-form URL (HTTP_PROXY clients), else the Host header (port 80 by default). CONNECT
 * host:port answers 200 and re-enters the tunnelled bytes as a new connection to host:port.
 */
import { DEFAULT_H2_KEEPALIVE, keepH2SessionAlive } from '../codec/h2-session-keepalive.js';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { H1Request } from '../codec/codec-http1-request.js';
import { DEFAULT_MAX_HEADERS_COUNT, serveHttp1, type H1ServerHandler, type H1ServerOptions } from '../codec/codec-http1-server.js';
import { http2StreamListener } from '../codec/codec-http2-server.js';
import { CONN_CTX, contextOf, type ConnectionContext } from '../core/connection-context.js';
import { onClientError, type HttpConnectionManager } from '../http/connection-manager.js';
import type { DownstreamRequest, DownstreamResponse } from '../http/active-stream.js';
import type { RequestObserver } from '../core/observer.js';
import { parseAuthority, type Destination } from '../core/destination.js';
import type { FilterChain } from './listener-config.js';
import { sniffProtocol } from '../codec/protocol-sniffer.js';
import { admitToChain, type NetworkChain } from '../network/network-chain.js';

export interface DispatchTarget {
  /** the filter chain for a destination port (port-index listener, else the dispatcher's own) */
  chainFor(ctx: ConnectionContext, dest: Destination): FilterChain | undefined;
  /** an HCM that forwards every request to one cluster (TCP chains reached by HTTP requests) */
  passthroughHcm(clusterName: string): HttpConnectionManager;
  /** a tunnelled connection with a known destination */
  dispatchConnection(socket: net.Socket, ctx: ConnectionContext): void;
  /** changes whenever the listener configuration does */
  generation(): number;
  /** a request whose destination no listener or chain takes (counted and logged with flag NR) */
  noFilterChain(ctx: ConnectionContext, protocol: string): void;
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
  const host = (req.headers[':authority'] as string | undefined) ?? (req.headers.host as string | undefined);
  return host ? parseAuthority(host, 80) : undefined;
}

const H1_OPTIONS: H1ServerOptions = { requireHost: false, idleTimeoutMs: 60_000, maxHeaderBytes: 60 * 1024 };

export class OutboundDispatcher {
  private readonly h1: H1ServerHandler = {
    onRequest: (req, res) => this.onRequest(req, res),
    onConnect: (req, socket, head) => this.onConnect(req, socket, head),
    onCodecError: (err, socket) => onClientError(err, socket, this.observer),
  };
  private h2: http2.Http2Server | undefined;

  constructor(private readonly target: DispatchTarget, private readonly observer: RequestObserver) {}

  handleConnection(socket: net.Socket, ctx: ConnectionContext): void {
    (socket as unknown as Record<symbol, unknown>)[CONN_CTX] = ctx;
    sniffProtocol(socket, (proto, stream) => {
      (stream as unknown as Record<symbol, unknown>)[CONN_CTX] = ctx;
      if (proto === 'h2') this.h2Server().emit('connection', stream);
      else serveHttp1(stream, H1_OPTIONS, this.h1);
    });
  }

  private hcmFor(ctx: ConnectionContext, dest: Destination): { hcm: HttpConnectionManager; network: NetworkChain } | undefined {
    const chain = this.target.chainFor(ctx, dest);
    if (!chain) return undefined;
    return { hcm: chain.hcm ?? this.target.passthroughHcm(chain.tcp!.pickSlot().name), network: chain.network };
  }

  private onRequest = (req: DownstreamRequest, res: DownstreamResponse): void => {
    const ctx = contextOf(req.socket);
    // keep-alive clients send request after request to the same Host: reuse its routing
    const url = req.url ?? '';
    const hostHeader = url.charCodeAt(0) === 47 /* '/' */ ? ((req.headers[':authority'] ?? req.headers.host) as string | undefined) : undefined;
    const gen = this.target.generation();
    const r = ctx?.routed;
    if (r !== undefined && hostHeader !== undefined && r.host === hostHeader && r.generation === gen) {
      const network = r.network as NetworkChain;
      if (network.filters.length === 0) (r.hcm as HttpConnectionManager).handleRequest(req, res, ctx!, r.destination);
      else admitToChain(network, req.socket as Duplex, ctx!, () => (r.hcm as HttpConnectionManager).handleRequest(req, res, ctx!, r.destination));
      return;
    }
    const dest = destinationFromRequest(req);
    const found = ctx && dest ? this.hcmFor(ctx, dest) : undefined;
    if (ctx && dest && found && hostHeader !== undefined) ctx.routed = { generation: gen, host: hostHeader, destination: dest, hcm: found.hcm, network: found.network };
    if (!ctx || !dest || !found) {
      if (ctx) this.target.noFilterChain(dest ? { ...ctx, destination: dest } : ctx, req.httpVersionMajor === 2 ? 'HTTP/2' : 'HTTP/1.1');
      res.writeHead(404, { 'content-length': '0' });
      res.end();
      return;
    }
    // the destination chain's network filters (RBAC ...) run once for this connection first
    admitToChain(found.network, req.socket as Duplex, ctx, () => found.hcm.handleRequest(req, res, ctx, dest));
  };

  private onConnect = (req: H1Request, socket: Duplex, head: Buffer): void => {
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
    // the codec paused it for the hand-over: flowing again from the next tick, by which time the
    // chain below has attached its reader (or paused it again, as the TCP proxy does until connected)
    socket.resume();
    this.target.dispatchConnection(socket as net.Socket, tunnelCtx);
  };

  private h2Server(): http2.Http2Server {
    if (this.h2) return this.h2;
    const s = http2.createServer({ maxSessionMemory: 64, maxHeaderListPairs: DEFAULT_MAX_HEADERS_COUNT + 4 });
    s.on('stream', http2StreamListener(this.onRequest));
    s.on('session', (session: http2.ServerHttp2Session) => {
      (session as unknown as Record<symbol, unknown>)[CONN_CTX] = contextOf(session.socket);
      keepH2SessionAlive(session, DEFAULT_H2_KEEPALIVE);
    });
    s.on('sessionError', () => undefined);
    this.h2 = s;
    return s;
  }
}
