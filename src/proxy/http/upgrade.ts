/**
 * HTTP/1.1 Upgrade (WebSocket) pass-through: route the upgrade request like any other, then
 * connect to the chosen host, replay the request head and splice the two sockets.
 */
import type { H1Request } from '../codec/codec-http1-request.js';
import { applyHcmRequestHeaders } from './request-headers.js';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { UpstreamTransport } from '../core/transport-socket.js';
import { newStreamInfo, type ResponseFlag, type StreamInfo } from '../core/stream-info.js';
import { newParser } from '../codec/llhttp.js';
import { parseAuthority, type Destination } from '../core/destination.js';
import type { RequestObserver } from '../core/observer.js';
import { applyHeaderOps } from '../router/header-ops.js';
import type { ConnectionContext } from '../core/connection-context.js';
import type { HcmConfig } from './hcm-config.js';
import { LOCAL_REPLY } from '../core/local-reply.js';
import { applyPeerSecurity } from '../telemetry/peer-security.js';

const REASON: Record<number, string> = { 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Unavailable' };

/** Lingering close: our side is ended, anything the client still sends is read and dropped so its FIN is seen. */
const LINGER_MS = 2000;

function closeDownstream(socket: net.Socket | Duplex, last?: string): void {
  socket.resume();
  if (last === undefined) socket.end();
  else socket.end(last);
  const t = setTimeout(() => socket.destroy(), LINGER_MS);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}

function reject(socket: net.Socket | Duplex, status: number, body: string): void {
  closeDownstream(socket, `HTTP/1.1 ${status} ${REASON[status] ?? 'Error'}\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`);
}

export function proxyUpgrade(
  hcm: HcmConfig,
  req: H1Request,
  socket: net.Socket | Duplex,
  head: Buffer,
  ctx: ConnectionContext,
  dest: Destination | undefined,
  observer: RequestObserver,
): void {
  const info = newStreamInfo(ctx.direction, 'HTTP/1.1');
  info.listenerName = ctx.listenerName;
  let url = req.url ?? '/';
  let authority = (req.headers.host as string | undefined) ?? '';
  const abs = /^https?:\/\/([^/?]+)(.*)$/i.exec(url);
  if (abs) {
    authority = abs[1];
    url = abs[2] || '/';
  }
  info.method = req.method;
  info.path = url;
  info.authority = authority;
  hcm.stats?.requestStarted(false);
  const done = (code: number): void => {
    info.responseCode = code;
    const duration = (info.durationMs = performance.now() - info.startMono);
    if (info.responseCodeDetails === undefined && code !== 0 && info.responseFlags.size === 0) info.responseCodeDetails = 'via_upstream';
    // an upgrade is logged and counted like any request (Envoy: one stream, logged when the tunnel ends)
    hcm.stats?.requestDone(code, duration);
    if (ctx.tls !== undefined || info.upstreamPeer !== undefined) applyPeerSecurity(info, ctx.tls);
    hcm.telemetry?.onRequestComplete(info, undefined);
    observer.onRequestComplete(info);
  };
  // an upgrade is a request like any other: the HCM's request-id and x-forwarded-* handling applies
  const headers = { ...req.headers } as Record<string, string | string[] | undefined>;
  info.requestId = applyHcmRequestHeaders(hcm, headers, ctx.remoteAddress, ctx.tls);
  const q = url.indexOf('?');
  const route = hcm.routes.config?.route(authority, { path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1), headers });
  if (!route || route.kind !== 'route') {
    info.responseFlags.add('NR');
    reject(socket, 404, '');
    return done(404);
  }
  const slot = route.slot ?? route.weighted?.targets[0].slot;
  const cluster = slot?.cluster;
  if (!cluster) {
    info.responseFlags.add('NC');
    reject(socket, 503, '');
    return done(503);
  }
  info.upstreamCluster = cluster.name;
  let host;
  if (cluster.config.type === 'ORIGINAL_DST') {
    const d = dest ?? parseAuthority(authority, 80);
    host = cluster.originalDstHost(d.host, d.port);
  } else host = cluster.chooseHost(undefined);
  if (!host) {
    info.responseFlags.add('UH');
    reject(socket, 503, LOCAL_REPLY.noHealthyUpstream);
    return done(503);
  }
  info.upstreamHost = host.key;
  applyHeaderOps(headers, route.requestOps);
  headers.host = route.hostRewrite ?? authority;
  let headText = `${req.method} ${url} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) headText += `${k}: ${one}\r\n`;
  }
  headText += '\r\n';
  cluster.stats.upstream_rq_total.inc();
  tunnelAfter101(socket, head, headText, req.method === 'HEAD', { host: host.address, port: host.port, transport: host.transport, connectTimeoutMs: cluster.config.connectTimeoutMs || DEFAULT_CONNECT_TIMEOUT_MS }, cluster.stats, info, done);
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const MAX_TIMER_MS = 2_147_483_647;
const MAX_RESPONSE_HEAD = 96 * 1024;
const PROTOCOL_ERROR = 'upstream connect error or disconnect/reset before headers. reset reason: protocol error';

interface UpgradeTarget {
  host: string;
  port: number;
  /** the host's transport socket */
  transport: UpstreamTransport;
  connectTimeoutMs: number;
}

/**
 * Send the upgrade request upstream and read its response head (llhttp, response mode). Only a
 * `101 Switching Protocols` turns the connection into a tunnel; client bytes are held (the socket
 * stays paused) until then. Any other answer is relayed to the client, then both connections close
 * (as Envoy does), so nothing later on the downstream connection bypasses the HCM.
 */
function tunnelAfter101(
  socket: net.Socket | Duplex,
  head: Buffer,
  headText: string,
  isHead: boolean,
  target: UpgradeTarget,
  stats: { upstream_cx_total: { inc(): void }; upstream_cx_connect_fail: { inc(): void }; upstream_cx_connect_timeout: { inc(): void } },
  info: StreamInfo,
  done: (code: number) => void,
): void {
  socket.pause();
  let code = 0;
  let reported = false;
  const report = (c: number): void => {
    if (reported) return;
    reported = true;
    done(c);
  };
  /** before any upstream byte reached the client: a local 503 is still possible */
  const failLocally = (flag: ResponseFlag, body: string, status = 503): void => {
    if (state === 'done') return;
    state = 'done';
    info.responseFlags.add(flag);
    if (!socket.destroyed) reject(socket, status, body);
    upstream.destroy();
    report(status);
  };
  const upstream = target.transport.connect(target.host, target.port, {});
  const connectTimer = setTimeout(() => {
    stats.upstream_cx_connect_timeout.inc();
    stats.upstream_cx_connect_fail.inc();
    failLocally('UF', LOCAL_REPLY.connectFailure);
  }, Math.min(target.connectTimeoutMs, MAX_TIMER_MS));
  const pending: Buffer[] = [];
  let state: 'head' | 'relay' | 'tunnel' | 'done' = 'head';
  const parser = newParser('response', MAX_RESPONSE_HEAD, {
    onHeadersComplete: (_maj, _min, _h, _m, _u, status) => {
      const s = status ?? 0;
      // interim 1xx answers (100 Continue...) are relayed; the final status decides
      if (s >= 200 || s === 101) code = s;
      return isHead && s >= 200 ? 1 : 0;
    },
    onBody: () => undefined,
    onMessageComplete: () => {
      if (code >= 200) finishRelay();
    },
  });
  const finishRelay = (): void => {
    if (state === 'done') return;
    state = 'done';
    upstream.off('data', onUpstreamData);
    flushPending();
    closeDownstream(socket);
    upstream.destroy();
  };
  const flushPending = (): void => {
    for (const b of pending) socket.write(b);
    pending.length = 0;
  };
  const onUpstreamData = (chunk: Buffer): void => {
    if (state === 'done' || state === 'tunnel') return;
    if (state === 'relay') {
      if (!socket.write(chunk)) {
        upstream.pause();
        socket.once('drain', () => upstream.resume());
      }
    } else pending.push(chunk);
    const n = parser.execute(chunk);
    if (typeof n !== 'number') {
      if (state === 'head') return failLocally('UPE', PROTOCOL_ERROR, 502);
      info.responseFlags.add('UPE');
      socket.destroy();
      upstream.destroy();
      return;
    }
    if (state !== 'head' || code === 0) return;
    if (code === 101) {
      // the head and whatever followed it in this chunk belong to the client; then splice
      state = 'tunnel';
      upstream.off('data', onUpstreamData);
      upstream.off('end', onUpstreamEnd);
      flushPending();
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
      socket.resume();
      return;
    }
    // any other final answer: relay it (possibly already complete) and close both sides after it
    if (state === 'head') {
      state = 'relay';
      flushPending();
    }
  };
  const onUpstreamEnd = (): void => {
    if (state === 'head') return failLocally('UC', LOCAL_REPLY.reset);
    if (state === 'relay') {
      parser.finish(); // an EOF-delimited body ends here
      finishRelay();
    }
  };
  let connected = false;
  upstream.once(target.transport.readyEvent, () => {
    connected = true;
    info.upstreamPeer = target.transport.connectionInfo(upstream);
    clearTimeout(connectTimer);
    stats.upstream_cx_total.inc();
    upstream.write(headText);
  });
  upstream.on('data', onUpstreamData);
  upstream.on('end', onUpstreamEnd);
  upstream.on('error', () => {
    clearTimeout(connectTimer);
    if (state === 'done') return; // the answer is complete (or a local reply is on its way): let it flush
    if (state !== 'head') return socket.destroy();
    if (!connected) {
      stats.upstream_cx_connect_fail.inc();
      info.upstreamTransportFailureReason = target.transport.failureReason(upstream);
      failLocally('UF', LOCAL_REPLY.connectFailure);
    } else failLocally('UC', LOCAL_REPLY.remoteReset);
  });
  upstream.once('close', () => {
    clearTimeout(connectTimer);
    parser.free();
    if (state === 'head') failLocally('UC', LOCAL_REPLY.reset);
    else if (state === 'tunnel') socket.destroy();
    else if (state === 'relay') finishRelay();
  });
  socket.on('error', () => upstream.destroy());
  socket.once('close', () => {
    clearTimeout(connectTimer);
    upstream.destroy();
    if (state === 'head') info.responseFlags.add('DC');
    report(code || 0);
  });
}
