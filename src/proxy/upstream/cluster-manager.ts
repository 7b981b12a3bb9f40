/**
 * Owns clusters by name, their slots (stable handles routes hold), EDS membership and DNS
 * resolution. CDS/EDS updates are validated first, then applied all at once.
 */
import * as dns from 'node:dns';
import type { EnvoyResource } from '../../xds/codec.js';
import type { StatsStore } from '../../stats/stats-store.js';
import { ClusterStats } from '../telemetry/stats-cluster.js';
import { Cluster } from './cluster.js';
import { parseCluster, parseEndpoints, type ClusterConfig, type EndpointSpec } from './cluster-config.js';
import type { ClusterSlot } from './cluster-slot.js';
import type { Host } from './host.js';
import { NO_SECRETS, type SecretProvider } from '../secret/secret-types.js';

export interface DynamicResource {
  version: string;
  resource: EnvoyResource;
  lastUpdated: Date;
}

export class ClusterManager {
  private readonly slots = new Map<string, ClusterSlot>();
  readonly clusters = new Map<string, Cluster>();
  /** last EDS assignment by service name */
  readonly assignments = new Map<string, DynamicResource>();
  private readonly dnsTimers = new Map<string, NodeJS.Timeout>();
  edsReceived = false;
  /** per-cluster stats by name; they outlive cluster updates like Envoy's */
  private readonly statsByName = new Map<string, ClusterStats>();

  /** onMembership: a DNS cluster got its first (or a new) membership; readiness re-checks */
  constructor(
    private readonly stats: StatsStore,
    private readonly onMembership: () => void = () => undefined,
    /** SDS secrets of the clusters' transport sockets */
    private readonly secrets: SecretProvider = NO_SECRETS,
    /** local mode: the pod's address, bound by upstream connections to loopback addresses */
    private readonly loopbackSourceAddress?: string,
  ) {}

  clusterStats(name: string): ClusterStats {
    let s = this.statsByName.get(name);
    if (!s) this.statsByName.set(name, (s = new ClusterStats(this.stats, name)));
    return s;
  }

  slot(name: string): ClusterSlot {
    let s = this.slots.get(name);
    if (!s) {
      s = { name, cluster: this.clusters.get(name) };
      this.slots.set(name, s);
    }
    return s;
  }

  /** Validates every cluster first; throws (NACK) without changing anything on failure. */
  parseAll(resources: Map<string, EnvoyResource>): ClusterConfig[] {
    return [...resources.values()].map(parseCluster);
  }

  applyClusters(configs: ClusterConfig[], version: string): void {
    const seen = new Set<string>();
    for (const cfg of configs) {
      seen.add(cfg.name);
      const old = this.clusters.get(cfg.name);
      if (old && JSON.stringify(old.config.raw) === JSON.stringify(cfg.raw)) continue;
      const c = new Cluster(cfg, this.clusterStats(cfg.name), { onInitialized: () => this.onMembership(), secrets: this.secrets, loopbackSourceAddress: this.loopbackSourceAddress });
      c.versionInfo = version;
      if (cfg.type === 'EDS') {
        const a = this.assignments.get(cfg.edsName);
        if (a) c.setEndpoints(parseEndpoints(a.resource));
        else if (old && old.config.type === 'EDS' && old.config.edsName === cfg.edsName) c.setEndpoints(old.hosts.map(hostSpec));
      }
      this.clusters.set(cfg.name, c);
      this.slot(cfg.name).cluster = c;
      this.stopDns(cfg.name);
      if (cfg.type === 'STRICT_DNS' || cfg.type === 'LOGICAL_DNS') this.startDns(c);
      // In-flight requests keep their pools; undici/http2 close gracefully once idle.
      if (old) {
        old.retire();
        setTimeout(() => void old.close(), 5000).unref();
      }
    }
    for (const [name, c] of this.clusters) {
      if (seen.has(name)) continue;
      this.clusters.delete(name);
      this.slot(name).cluster = undefined;
      this.stopDns(name);
      c.retire();
      setTimeout(() => void c.close(), 5000).unref();
    }
  }

  edsNames(): string[] {
    const out: string[] = [];
    for (const c of this.clusters.values()) if (c.config.type === 'EDS') out.push(c.config.edsName);
    return out;
  }

  applyEndpoints(resources: Map<string, EnvoyResource>, version: string): void {
    const eps = new Map<string, EndpointSpec[]>();
    for (const [name, r] of resources) eps.set(name, parseEndpoints(r));
    this.assignments.clear();
    const now = new Date();
    for (const [name, r] of resources) this.assignments.set(name, { version, resource: r, lastUpdated: now });
    for (const c of this.clusters.values()) {
      if (c.config.type !== 'EDS') continue;
      const e = eps.get(c.config.edsName);
      if (e) c.setEndpoints(e);
    }
    this.edsReceived = true;
  }

  /** True when every EDS cluster has its assignment and every DNS cluster its first answer (warming). */
  allInitialized(): boolean {
    for (const c of this.clusters.values()) if (!c.initialized) return false;
    return true;
  }

  private startDns(c: Cluster): void {
    const resolve = (): void => {
      const specs = c.config.staticEndpoints;
      void Promise.all(
        specs.map(
          (s) =>
            new Promise<EndpointSpec[]>((res) => {
              dns.lookup(s.address, { all: true }, (err, addrs) => {
                if (err || !addrs?.length) return res([]);
                const list = c.config.type === 'LOGICAL_DNS' ? addrs.slice(0, 1) : addrs;
                res(list.map((a) => ({ ...s, address: a.address })));
              });
            }),
        ),
      ).then((all) => {
        if (this.clusters.get(c.name) !== c) return;
        c.setEndpoints(all.flat());
        this.onMembership();
      });
    };
    resolve();
    const t = setInterval(resolve, Math.max(1000, c.config.dnsRefreshMs));
    t.unref();
    this.dnsTimers.set(c.name, t);
  }

  private stopDns(name: string): void {
    const t = this.dnsTimers.get(name);
    if (t) clearInterval(t);
    this.dnsTimers.delete(name);
  }

  async close(): Promise<void> {
    for (const t of this.dnsTimers.values()) clearInterval(t);
    await Promise.all([...this.clusters.values()].map((c) => c.close()));
  }
}

function hostSpec(h: Host): EndpointSpec {
  return { address: h.address, port: h.port, weight: h.weight, priority: h.priority, locality: h.locality, localityWeight: h.localityWeight, health: h.edsHealth, transportMatch: h.transportMetadata };
}
