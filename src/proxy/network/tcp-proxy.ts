/**
 * envoy.filters.network.tcp_proxy: picks a cluster (single or weighted), a host (the original
 * destination for ORIGINAL_DST clusters) and splices the downstream socket to it. Telemetry: an
 * istio.stats network filter before it in the chain gives Istio's TCP metrics (opened, closed,
 * bytes, reported periodically while open), its access_log one line per connection.
 */
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { durationToMs } from '../../xds/codec.js';
import { fail } from '../core/errors.js';
import { networkStatsConfig } from '../filters/registry.js';
import type { ConnectionContext } from '../core/connection-context.js';
import { clusterServiceHost } from '../telemetry/istio-identity.js';
import { applyPeerSecurity } from '../telemetry/peer-security.js';
import type { TelemetryRuntime } from '../telemetry/telemetry-runtime.js';
import type { TcpTelemetry } from '../telemetry/telemetry-stream.js';
import type { RequestObserver } from '../core/observer.js';
import { newStreamInfo, type StreamInfo } from '../core/stream-info.js';
import { markOpaque } from '../drain/connection-activity.js';
import type { NetworkTerminal } from '../filter-api/network-filter.js';
import type { ClusterResolver, ClusterSlot } from '../upstream/cluster-slot.js';

export interface TcpProxyConfig {
  statPrefix: string;
  targets: Array<{ slot: ClusterSlot; weight: number }>;
  total: number;
  idleTimeoutMs: number;
  /** Istio TCP metrics and access logs; undefined when the chain configures neither */
  telemetry: TcpTelemetry | undefined;
}

/**
 * `chainFilters`: the filter chain's network filters, where an istio.stats filter turns TCP
 * metrics on for this proxy.
 */
export function parseTcpProxy(
  tc: Record<string, any>,
  resolve: ClusterResolver,
  runtime?: TelemetryRuntime,
  chainFilters: ReadonlyArray<Record<string, any>> = [],
): TcpProxyConfig {
  let targets: TcpProxyConfig['targets'];
  if (tc.cluster) targets = [{ slot: resolve(String(tc.cluster)), weight: 1 }];
  else if (tc.weighted_clusters) {
    targets = ((tc.weighted_clusters.clusters ?? []) as Array<Record<string, any>>).map((c) => ({ slot: resolve(String(c.name)), weight: Number(c.weight ?? 0) }));
  } else fail('TcpProxy without cluster or weighted_clusters');
  const total = targets.reduce((s, t) => s + t.weight, 0);
  if (total <= 0) fail('TcpProxy weighted_clusters with total weight 0');
  const telemetry = runtime?.tcpFromXds(tc, networkStatsConfig(chainFilters));
  return { statPrefix: String(tc.stat_prefix ?? ''), targets, total, idleTimeoutMs: durationToMs(tc.idle_timeout) ?? 3_600_000, telemetry };
}

export class TcpProxy implements NetworkTerminal {
  constructor(readonly config: TcpProxyConfig, private readonly observer: RequestObserver) {}

  /** A network filter (RBAC) closed the connection before it reached us: one access-log line and the TCP metrics. */
  onRejected(ctx: ConnectionContext, details: string): void {
    const info = this.newInfo(ctx);
    info.connectionTerminationDetails = details;
    const telemetry = this.config.telemetry;
    if (telemetry) {
      telemetry.onConnectionOpen(info);
      info.durationMs = performance.now() - info.startMono;
      telemetry.onConnectionClose(info);
    } else info.durationMs = performance.now() - info.startMono;
    this.observer.onRequestComplete(info);
  }

  private newInfo(ctx: ConnectionContext): StreamInfo {
    const info = newStreamInfo(ctx.direction, 'TCP');
    info.listenerName = ctx.listenerName;
    info.downstreamRemoteAddress = ctx.remote;
    info.downstreamLocalAddress = ctx.local;
    info.upstreamCluster = this.config.targets[0].slot.name;
    if (ctx.tls !== undefined) {
      applyPeerSecurity(info, ctx.tls);
      info.requestedServerName = ctx.tls.sni || undefined;
    }
    const svc = clusterServiceHost(this.config.targets[0].slot.cluster?.config.raw);
    if (svc !== undefined) info.destinationService = svc;
    return info;
  }

  /** the cluster a new connection goes to */
  pickSlot(): ClusterSlot {
    const ts = this.config.targets;
    if (ts.length === 1) return ts[0].slot;
    let r = Math.random() * this.config.total;
    for (const t of ts) if ((r -= t.weight) < 0) return t.slot;
    return ts[ts.length - 1].slot;
  }

  handleConnection(socket: net.Socket | Duplex, ctx: ConnectionContext): void {
    markOpaque(ctx);
    const info = newStreamInfo(ctx.direction, 'TCP');
    info.listenerName = ctx.listenerName;
    info.downstreamRemoteAddress = ctx.remote;
    info.downstreamLocalAddress = ctx.local;
    const slot = this.pickSlot();
    info.upstreamCluster = slot.name;
    const cluster = slot.cluster;
    const telemetry = this.config.telemetry;
    if (ctx.tls !== undefined) applyPeerSecurity(info, ctx.tls);
    if (telemetry) {
      const svc = clusterServiceHost(cluster?.config.raw);
      if (svc !== undefined) info.destinationService = svc;
      telemetry.onConnectionOpen(info);
    }
    let closed = false;
    const finish = (): void => {
      if (closed) return;
      closed = true;
      info.durationMs = performance.now() - info.startMono;
      telemetry?.onConnectionClose(info);
      this.observer.onRequestComplete(info);
    };
    if (!cluster) {
      info.responseFlags.add('NC');
      socket.destroy();
      return finish();
    }
    const dest = ctx.destination;
    const host = cluster.config.type === 'ORIGINAL_DST' ? (dest ? cluster.originalDstHost(dest.host, dest.port) : undefined) : cluster.chooseHost(undefined);
    if (!host) {
      info.responseFlags.add('UH');
      socket.destroy();
      return finish();
    }
    info.upstreamHost = host.key;
    const stats = cluster.stats;
    if (!cluster.breaker.admitConnection()) {
      info.responseFlags.add('UO');
      socket.destroy();
      return finish();
    }
    // the host's transport socket (raw_buffer or TLS) opens the connection
    const transport = host.transport;
    const upstream = transport.connect(host.address, host.port, {});
    host.rqActive++;
    let connected = false;
    upstream.once(transport.readyEvent, () => {
      connected = true;
      info.upstreamPeer = transport.connectionInfo(upstream);
      if (info.upstreamPeer !== undefined) applyPeerSecurity(info, undefined);
      info.upstreamLocalAddress = `${upstream.localAddress}:${upstream.localPort}`;
      stats.upstream_cx_total.inc();
      stats.upstream_cx_active.inc();
      host.cxActive++;
      cluster.reportResult(host, 'connect_success_final');
      upstream.on('data', (c: Buffer) => (info.bytesSent += c.length));
      socket.on('data', (c: Buffer) => (info.bytesReceived += c.length));
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    socket.pause();
    upstream.setTimeout(this.config.idleTimeoutMs, () => upstream.destroy());
    // `on`, not `once`: an 'error' with no listener left would end the process
    upstream.on('error', () => {
      if (!connected && !info.responseFlags.has('UF')) {
        info.responseFlags.add('UF');
        info.upstreamTransportFailureReason = transport.failureReason(upstream);
        stats.upstream_cx_connect_fail.inc();
        cluster.reportResult(host, 'connect_failure');
      }
    });
    socket.on('error', () => upstream.destroy());
    upstream.once('close', () => {
      host.rqActive--;
      cluster.breaker.release();
      if (connected) {
        stats.upstream_cx_active.dec();
        stats.upstream_cx_destroy.inc();
        host.cxActive--;
      }
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
      finish();
    });
    socket.once('close', () => {
      upstream.end();
      setTimeout(() => upstream.destroy(), 1000).unref();
    });
  }
}
