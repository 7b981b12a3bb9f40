/**
 * One upstream cluster: its hosts (from EDS, static or DNS), the load balancer over the available
 * hosts of the best priority, per-host connection pools, circuit breaker and stats.
 */
import type { ClusterStats } from '../telemetry/stats-cluster.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { ClusterConfig, EndpointSpec } from './cluster-config.js';
import { Host, type HostResultObserver, type RequestResult } from './host.js';
import { createLoadBalancer, selectHosts, type LbContext, type LoadBalancer } from './load-balancer.js';
import type { ConnPool } from './pool.js';
import { Http1Pool } from './pool-http1.js';
import { Http2Pool } from './pool-http2.js';

const MAX_POOLS = 1024;

function releaseFallback(c: Cluster): void {
  c.releaseDeferred();
}

export class Cluster {
  hosts: Host[] = [];
  private lb: LoadBalancer;
  private readonly pools = new Map<string, ConnPool>();
  readonly breaker: CircuitBreaker;
  readonly resultObservers: HostResultObserver[] = [];
  /** EDS/DNS clusters become initialized when their first membership arrives */
  initialized: boolean;
  versionInfo = '';
  /** HTTP/1.1 with one request per connection: a slot frees when its connection is gone */
  private readonly connPerRequest: boolean;
  private deferredReleases = 0;
  lastUpdated = new Date();

  constructor(readonly config: ClusterConfig, readonly stats: ClusterStats) {
    this.breaker = new CircuitBreaker(config.circuitBreakers, !config.http2, stats);
    this.connPerRequest = !config.http2 && config.maxRequestsPerConnection === 1;
    this.breaker.holdPendingUntilConnect = this.connPerRequest;
    this.lb = createLoadBalancer(config.lb, []);
    this.initialized = config.type !== 'EDS' && config.type !== 'STRICT_DNS' && config.type !== 'LOGICAL_DNS';
    if (config.type === 'STATIC') this.setEndpoints(config.staticEndpoints);
  }

  get name(): string {
    return this.config.name;
  }

  /** Replaces membership, keeping Host objects (and their counters) for unchanged endpoints. */
  setEndpoints(eps: EndpointSpec[]): void {
    const old = new Map(this.hosts.map((h) => [`${h.key}|${h.priority}|${h.weight}|${h.locality}|${h.localityWeight}`, h]));
    const next: Host[] = [];
    for (const e of eps) {
      const h0 = new Host(e.address, e.port, e.weight, e.priority, e.locality, e.localityWeight);
      const id = `${h0.key}|${h0.priority}|${h0.weight}|${h0.locality}|${h0.localityWeight}`;
      const h = old.get(id) ?? h0;
      h.healthy = e.healthy;
      next.push(h);
    }
    const keep = new Set(next.map((h) => h.key));
    for (const [key, pool] of this.pools) {
      if (!keep.has(key)) {
        void pool.close();
        this.pools.delete(key);
      }
    }
    this.hosts = next;
    this.initialized = true;
    this.lastUpdated = new Date();
    this.refreshHosts();
  }

  /** Rebuilds the balancer after membership or health changes (health checks call this too). */
  refreshHosts(): void {
    const avail = selectHosts(this.hosts);
    this.lb = createLoadBalancer(this.config.lb, avail);
    this.stats.membership_total.set(this.hosts.length);
    this.stats.membership_healthy.set(this.hosts.reduce((n, h) => n + (h.available ? 1 : 0), 0));
  }

  chooseHost(ctx: LbContext | undefined): Host | undefined {
    return this.lb.pick(ctx);
  }

  /** A host for ORIGINAL_DST clusters: the request's own destination. */
  originalDstHost(address: string, port: number): Host {
    const key = `${address}:${port}`;
    let h = this.hosts.find((x) => x.key === key);
    if (!h) {
      h = new Host(address, port);
      if (this.hosts.length < 1024) this.hosts.push(h);
    }
    return h;
  }

  pool(host: Host): ConnPool {
    let p = this.pools.get(host.key);
    if (p) return p;
    const stats = this.stats;
    const ev = {
      onConnect: () => {
        this.breaker.onConnected();
        stats.upstream_cx_total.inc();
        stats.upstream_cx_active.inc();
        host.cxActive++;
      },
      onDisconnect: () => {
        stats.upstream_cx_active.dec();
        stats.upstream_cx_destroy.inc();
        host.cxActive--;
        this.releaseDeferred();
      },
      onConnectFail: () => {
        stats.upstream_cx_connect_fail.inc();
        this.breaker.onConnected();
        this.releaseDeferred();
      },
    };
    if (this.pools.size >= MAX_POOLS) {
      // ORIGINAL_DST clusters see arbitrary destinations: retire the oldest pool (it closes once idle).
      const [oldKey, oldPool] = this.pools.entries().next().value as [string, ConnPool];
      this.pools.delete(oldKey);
      void oldPool.close();
    }
    p = this.config.http2
      ? new Http2Pool(host.address, host.port, { connectTimeoutMs: this.config.connectTimeoutMs }, ev)
      : new Http1Pool(
          host.address,
          host.port,
          {
            maxConnections: Math.min(this.config.circuitBreakers.maxConnections, 1024),
            connectTimeoutMs: this.config.connectTimeoutMs,
            maxRequestsPerConnection: this.config.maxRequestsPerConnection,
          },
          ev,
        );
    this.pools.set(host.key, p);
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

  reportResult(host: Host, result: RequestResult, status?: number): void {
    if (result === 'success') host.rqSuccess++;
    else host.rqError++;
    for (const o of this.resultObservers) o.onResult(host, result, status);
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}
