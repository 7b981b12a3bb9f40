/**
 * One upstream cluster: its hosts (from EDS, static or DNS), the priority levels and balancers
 * over the available hosts (panic aware), per-host connection pools, circuit breaker, outlier
 * detection, active health checking and stats.
 */
import { overflowCounter } from '../../stats/stats-overflow.js';
import type { ClusterStats } from '../telemetry/stats-cluster.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { ClusterConfig, EndpointSpec } from './cluster-config.js';
import { HealthChecker } from './health-checker.js';
import { Host, type HostResultObserver, type RequestResult } from './host.js';
import type { LbContext } from './load-balancer.js';
import { buildPrioritySet, type PrioritySet } from './load-balancer-priority.js';
import { OutlierDetector } from './outlier-detector.js';
import type { ConnPool } from '../core/pool.js';
import { Http1Pool } from './pool-http1.js';
import { Http2Pool } from './pool-http2.js';
import { NO_SECRETS, type SecretProvider } from '../secret/secret-types.js';
import { ClusterTransports, lazyTlsStats } from '../transport/transport-registry.js';

const MAX_POOLS = 1024;
/** ORIGINAL_DST hosts listed per cluster (admin /clusters); later ones are used unlisted */
const MAX_ORIGINAL_DST_HOSTS = 1024;
const POOLS_OVERFLOW = overflowCounter('upstream_pools');
const ORIGINAL_DST_HOSTS_OVERFLOW = overflowCounter('original_dst_hosts');

function releaseFallback(c: Cluster): void {
  c.releaseDeferred();
}

export interface ClusterEvents {
  /** the cluster finished warming after construction (first active health check round, secrets) */
  onInitialized?(): void;
  /** where the transport sockets' SDS secrets come from */
  secrets?: SecretProvider;
  /** local mode: the pod's address, bound by connections to loopback addresses (TransportEnv) */
  loopbackSourceAddress?: string;
}

export class Cluster {
  hosts: Host[] = [];
  private lb: PrioritySet;
  private readonly pools = new Map<string, ConnPool>();
  readonly breaker: CircuitBreaker;
  readonly resultObservers: HostResultObserver[] = [];
  readonly outlier: OutlierDetector | undefined;
  readonly healthChecker: HealthChecker | undefined;
  /** EDS/DNS clusters get their membership later */
  private membershipReady: boolean;
  private retired = false;
  versionInfo = '';
  /** HTTP/1.1 with one request per connection: a slot frees when its connection is gone */
  private readonly connPerRequest: boolean;
  private deferredReleases = 0;
  lastUpdated = new Date();
  /** transport_socket / transport_socket_matches, made once for the cluster's life */
  readonly transports: ClusterTransports;

  constructor(readonly config: ClusterConfig, readonly stats: ClusterStats, events: ClusterEvents = {}) {
    this.transports = new ClusterTransports(config.transports, {
      secrets: events.secrets ?? NO_SECRETS,
      tlsStats: lazyTlsStats(stats.scope),
      sourceAddress: config.sourceAddress,
      loopbackSourceAddress: events.loopbackSourceAddress,
      onSecretChange: () => {
        if (!this.retired) events.onInitialized?.();
      },
    });
    this.breaker = new CircuitBreaker(config.circuitBreakers, !config.http2, stats);
    this.connPerRequest = !config.http2 && config.maxRequestsPerConnection === 1;
    this.breaker.holdPendingUntilConnect = this.connPerRequest;
    this.lb = buildPrioritySet([], config.lb, config.panicThresholdPct);
    this.membershipReady = config.type !== 'EDS' && config.type !== 'STRICT_DNS' && config.type !== 'LOGICAL_DNS';
    if (config.outlier) {
      const od = new OutlierDetector(config.outlier, stats.outlier(), { onChange: () => this.refreshHosts() });
      this.outlier = od;
      this.resultObservers.push(od);
      od.start();
    }
    if (config.healthCheck && config.type !== 'ORIGINAL_DST') {
      this.healthChecker = new HealthChecker(config.healthCheck, stats.healthCheck(), {
        authority: config.name,
        hasTraffic: () => stats.upstream_cx_total.value > 0,
        onChange: () => this.refreshHosts(),
        onSuccess: (h) => this.outlier?.onSuccessfulHealthCheck(h),
        onInitialRound: () => {
          if (!this.retired) events.onInitialized?.();
        },
      });
    }
    if (config.type === 'STATIC') this.setEndpoints(config.staticEndpoints);
  }

  /** Ready for traffic: membership known and the first health check round done (Envoy's warming). */
  get initialized(): boolean {
    return this.membershipReady && !(this.healthChecker?.warming ?? false) && this.transportsReady();
  }

  /** Envoy warms a cluster until the SDS secrets of its transport sockets have arrived. */
  transportsReady(): boolean {
    for (const t of this.transports.all()) if (t.notReady() !== undefined) return false;
    return true;
  }

  get name(): string {
    return this.config.name;
  }

  /** Replaces membership, keeping Host objects (and their counters) for unchanged endpoints. */
  setEndpoints(eps: EndpointSpec[]): void {
    const old = new Map(this.hosts.map((h) => [`${h.poolKey}|${h.priority}|${h.weight}|${h.locality}|${h.localityWeight}`, h]));
    const next: Host[] = [];
    for (const e of eps) {
      const h0 = new Host(e.address, e.port, e.weight, e.priority, e.locality, e.localityWeight, this.transports.forEndpoint(e.transportMatch));
      const id = `${h0.poolKey}|${h0.priority}|${h0.weight}|${h0.locality}|${h0.localityWeight}`;
      const h = old.get(id) ?? h0;
      h.edsHealth = e.health;
      h.transportMetadata = e.transportMatch;
      next.push(h);
    }
    const keep = new Set(next.map((h) => h.poolKey));
    for (const [key, pool] of this.pools) {
      if (!keep.has(key)) {
        void pool.close();
        this.pools.delete(key);
      }
    }
    this.hosts = next;
    this.membershipReady = true;
    this.lastUpdated = new Date();
    if (!this.retired) {
      this.outlier?.setHosts(next);
      this.healthChecker?.setHosts(next);
    }
    this.refreshHosts();
  }

  /** Rebuilds the balancers after membership or health changes (health checks and ejections too). */
  refreshHosts(): void {
    this.lb = buildPrioritySet(this.hosts, this.config.lb, this.config.panicThresholdPct, this.stats.lb_healthy_panic);
    this.stats.membership_total.set(this.hosts.length);
    this.stats.membership_healthy.set(this.hosts.reduce((n, h) => n + (h.available ? 1 : 0), 0));
  }

  chooseHost(ctx: LbContext | undefined): Host | undefined {
    const h = this.lb.pick(ctx);
    if (!h) this.stats.upstream_cx_none_healthy.inc();
    return h;
  }

  /** The priority levels as the balancers see them (admin, tests). */
  get prioritySet(): PrioritySet {
    return this.lb;
  }

  /** A host for ORIGINAL_DST clusters: the request's own destination. */
  originalDstHost(address: string, port: number): Host {
    const key = `${address}:${port}`;
    let h = this.hosts.find((x) => x.key === key);
    if (!h) {
      h = new Host(address, port, 1, 0, '', 0, this.transports.forEndpoint(undefined));
      if (this.hosts.length < MAX_ORIGINAL_DST_HOSTS) this.hosts.push(h);
      else ORIGINAL_DST_HOSTS_OVERFLOW.inc();
    }
    return h;
  }

  pool(host: Host): ConnPool {
    let p = this.pools.get(host.poolKey);
    if (p) return p;
    const stats = this.stats;
    const ev = {
      onConnect: () => {
        this.breaker.onConnected();
        stats.upstream_cx_total.inc();
        stats.upstream_cx_active.inc();
        host.cxActive++;
        host.cxTotal++;
      },
      onDisconnect: () => {
        stats.upstream_cx_active.dec();
        stats.upstream_cx_destroy.inc();
        host.cxActive--;
        this.releaseDeferred();
      },
      onConnectFail: () => {
        stats.upstream_cx_connect_fail.inc();
        host.cxConnectFail++;
        this.breaker.onConnected();
        this.releaseDeferred();
      },
    };
    if (this.pools.size >= MAX_POOLS) {
      // ORIGINAL_DST clusters see arbitrary destinations: retire the oldest pool (it closes once idle).
      POOLS_OVERFLOW.inc();
      const [oldKey, oldPool] = this.pools.entries().next().value as [string, ConnPool];
      this.pools.delete(oldKey);
      void oldPool.close();
    }
    const cfg = this.config;
    const keepaliveMs = cfg.tcpKeepalive ? (cfg.tcpKeepalive.timeS ?? 0) * 1000 : undefined;
    p = cfg.http2
      ? new Http2Pool(host.address, host.port, { transport: host.transport, connectTimeoutMs: cfg.connectTimeoutMs, idleTimeoutMs: cfg.idleTimeoutMs, keepaliveMs, maxRequestsPerConnection: cfg.maxRequestsPerConnection }, ev)
      : new Http1Pool(
          host.address,
          host.port,
          {
            transport: host.transport,
            maxConnections: Math.min(cfg.circuitBreakers.maxConnections, 1024),
            connectTimeoutMs: cfg.connectTimeoutMs,
            maxRequestsPerConnection: cfg.maxRequestsPerConnection,
            idleTimeoutMs: cfg.idleTimeoutMs,
            keepaliveMs,
          },
          ev,
        );
    this.pools.set(host.poolKey, p);
    return p;
  }

  /**
   * A request is done with its upstream slot. With one request per connection (Envoy:
   * max_requests_per_connection 1) the slot frees when that connection is torn down, so waiting
   * requests stay pending through the reconnect, as in Envoy (bounded by a short fallback).
   */
  releaseRequestSlot(): void {
    if (!this.connPerRequest) {
      this.breaker.release();
      return;
    }
    this.deferredReleases++;
    setTimeout(releaseFallback, 50, this).unref();
  }

  releaseDeferred(): void {
    if (this.deferredReleases > 0) {
      this.deferredReleases--;
      this.breaker.release();
    }
  }

  /** An upstream attempt's outcome: host counters, then outlier detection and other observers. */
  reportResult(host: Host, result: RequestResult, status?: number): void {
    if (result === 'response') {
      if ((status ?? 200) >= 500) host.rqError++;
      else host.rqSuccess++;
    } else if (result !== 'connect_success' && result !== 'connect_success_final') {
      host.rqError++;
      if (result === 'timeout') host.rqTimeout++;
    }
    for (const o of this.resultObservers) o.onResult(host, result, status);
  }

  /** Replaced or removed by CDS: stop timers now (pools close later, once in-flight requests end). */
  retire(): void {
    this.retired = true;
    this.transports.close();
    this.outlier?.stop();
    this.healthChecker?.stop();
  }

  async close(): Promise<void> {
    this.retire();
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}
