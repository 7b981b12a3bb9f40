/**
 * HTTP/1.1 Upgrade (WebSocket) pass-through: route the upgrade request like any other, then
 * connect to the chosen host, replay the request head and splice the two sockets.
 */
import type { H1Request } from '../codec/codec-http1-request.js';
import { newUuid } from '../random-ids.js';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { newStreamInfo } from '../stream-info.js';
import { parseAuthority, type Destination } from '../listener/destination.js';
import type { RequestObserver } from '../observer.js';
import { applyHeaderOps } from '../router/header-ops.js';
import type { ConnectionContext } from './connection-context.js';
import type { HcmConfig } from './hcm-config.js';
import { LOCAL_REPLY } from './local-reply.js';

function reject(socket: net.Socket | Duplex, status: number, body: string): void {
  socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Service Unavailable'}\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`);
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
  const done = (code: number): void => {
    info.responseCode = code;
    info.durationMs = performance.now() - info.startMono;
    observer.onRequestComplete(info);
  };
  // an upgrade is a request like any other: the HCM's request-id and x-forwarded-* handling applies
  const headers = { ...req.headers } as Record<string, string | string[] | undefined>;
  if (headers['x-request-id'] === undefined && hcm.generateRequestId) headers['x-request-id'] = newUuid();
  info.requestId = headers['x-request-id'] as string | undefined;
  if (hcm.useRemoteAddress && !hcm.skipXffAppend) {
    const xff = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = xff ? `${xff}, ${ctx.remoteAddress}` : ctx.remoteAddress;
  }
  if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = 'http';
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
  const upstream = net.connect({ host: host.address, port: host.port });
  upstream.setNoDelay(true);
  upstream.once('connect', () => {
    cluster.stats.upstream_cx_total.inc();
    upstream.write(headText);
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.once('error', () => {
    if (upstream.bytesRead === 0 && !socket.destroyed) {
      info.responseFlags.add('UF');
      reject(socket, 503, LOCAL_REPLY.connectFailure);
    } else socket.destroy();
  });
  socket.once('error', () => upstream.destroy());
  socket.once('close', () => {
    upstream.destroy();
    done(101);
  });
  upstream.once('close', () => socket.destroy());
}
