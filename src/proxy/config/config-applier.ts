/**
 * Applies xDS state of the world to the proxy, Envoy's way: CDS -> clusters and the EDS names,
 * EDS -> memberships, LDS -> listeners and the RDS names, RDS -> compiled route tables swapped
 * into their providers. Everything is parsed/validated before anything changes, so a rejected
 * update (NACK) leaves the last good config serving.
 */
import type { EnvoyResource } from '../../xds/codec.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, NAME_TABLE_TYPE, ROUTE_TYPE, SECRET_TYPE } from '../../xds/type-urls.js';
import type { NameTableEntry } from '../../capture/dns-table.js';
import { parseSdsSecret } from '../transport/tls-config.js';
import type { SecretValue } from '../secret/secret-types.js';
import { ProxyConfigError } from '../core/errors.js';
import { parsePerRouteFilterConfig } from '../filters/registry.js';
import type { HcmParseContext, RouteProvider } from '../http/hcm-config.js';
import { parseListener, type ListenerParseContext } from '../listener/listener-config.js';
import type { ListenerManager } from '../listener/listener-manager.js';
import type { RequestObserver } from '../core/observer.js';
import type { TelemetryRuntime } from '../telemetry/telemetry-runtime.js';
import { RouteConfig } from '../router/route-config.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { ClusterSlot } from '../upstream/cluster-slot.js';
import { SharedResources } from '../filter-api/shared-resources.js';
import type { SecretProvider } from '../secret/secret-types.js';
import { XdsRejectError, type XdsApplier } from '../xds-client/xds-client.js';

export interface ApplierDeps {
  clusters: ClusterManager;
  listeners: ListenerManager;
  observer: RequestObserver;
  /** the proxy's telemetry: listeners take their metrics/logs/tracing from it */
  telemetry?: TelemetryRuntime;
  setNames(typeUrl: string, names: string[]): void;
  bindOverride: ListenerParseContext['bindOverride'];
  proxyAddress: string;
  onChange(): void;
  /** SDS secrets for the listeners' TLS contexts */
  secrets?: SecretProvider;
  /** NDS: Istio's name table (service hostnames -> virtual IPs), for the DNS proxy and hostname lookups */
  onNameTable?(table: Record<string, NameTableEntry>): void;
  /** readiness waits for the first name table (the DNS proxy answers the app from it) */
  needsNameTable?: boolean;
  /** where accepted ADS SDS states go (the secret manager) */
  applySecrets?(values: Map<string, SecretValue>, version: string): void;
}

export class ConfigApplier implements XdsApplier {
  readonly routes = new Map<string, RouteProvider>();
  received = { cds: false, lds: false, eds: false, rds: false, nds: false };
  versions: Record<string, string> = {};
  /** Envoy's initial_fetch_timeout: after it, missing EDS/RDS no longer hold readiness back */
  initialFetchTimedOut = false;
  /** RDS names referenced by the current listeners */
  private referencedRoutes = new Set<string>();
  /** objects filters keep across updates (JWKS caches, gRPC channels, token buckets) */
  readonly shared = new SharedResources();

  constructor(private readonly deps: ApplierDeps) {}

  parseContext(): ListenerParseContext {
    const resolveCluster = (name: string): ClusterSlot => this.deps.clusters.slot(name);
    const ctx: HcmParseContext = {
      rdsProvider: (name) => this.provider(name),
      resolveCluster,
      perFilterParser: parsePerRouteFilterConfig,
      telemetry: this.deps.telemetry,
      shared: this.shared,
    };
    return {
      ...ctx,
      observer: this.deps.observer,
      bindOverride: this.deps.bindOverride,
      proxyAddress: this.deps.proxyAddress,
      secrets: this.deps.secrets,
      onSecretChange: () => this.deps.onChange(),
    };
  }

  private provider(name: string): RouteProvider {
    let p = this.routes.get(name);
    if (!p) {
      p = { name, config: undefined, version: '', raw: undefined, lastUpdated: undefined };
      this.routes.set(name, p);
    }
    return p;
  }

  apply(typeUrl: string, resources: Map<string, EnvoyResource>, version: string): void {
    try {
      switch (typeUrl) {
        case CLUSTER_TYPE: {
          const cm = this.deps.clusters;
          const configs = cm.parseAll(resources);
          cm.applyClusters(configs, version);
          this.received.cds = true;
          this.deps.setNames(ENDPOINT_TYPE, cm.edsNames());
          break;
        }
        case ENDPOINT_TYPE:
          this.deps.clusters.applyEndpoints(resources, version);
          this.received.eds = true;
          break;
        case LISTENER_TYPE: {
          const ctx = this.parseContext();
          // api_listeners are for proxyless gRPC clients; a proxy has nothing to bind for them.
          const socketListeners = [...resources.values()].filter((l) => !l.api_listener);
          const configs = socketListeners.map((l) => parseListener(l, ctx));
          const names = new Set<string>();
          for (const l of socketListeners) collectRdsNames(l, names);
          this.deps.listeners.apply(configs, version);
          this.referencedRoutes = names;
          this.received.lds = true;
          this.deps.setNames(ROUTE_TYPE, [...names]);
          break;
        }
        case ROUTE_TYPE: {
          const ctx = this.parseContext();
          const compiled = new Map<string, RouteConfig>();
          for (const [name, rc] of resources) compiled.set(name, new RouteConfig(rc, ctx.resolveCluster, ctx.perFilterParser));
          const now = new Date();
          for (const [name, p] of this.routes) {
            const c = compiled.get(name);
            p.config = c;
            p.raw = c ? resources.get(name) : undefined;
            p.version = c ? version : '';
            p.lastUpdated = c ? now : undefined;
          }
          for (const [name, c] of compiled) {
            if (this.routes.has(name)) continue;
            const p = this.provider(name);
            p.config = c;
            p.raw = resources.get(name);
            p.version = version;
            p.lastUpdated = now;
          }
          this.received.rds = true;
          break;
        }
        case NAME_TABLE_TYPE: {
          const nt = resources.values().next().value as EnvoyResource | undefined;
          const table = (nt?.table ?? {}) as Record<string, NameTableEntry>;
          for (const [host, info] of Object.entries(table)) {
            if (!Array.isArray(info?.ips)) throw new XdsRejectError(`name table: ${host}: no ips`);
          }
          this.deps.onNameTable?.(table);
          this.received.nds = true;
          break;
        }
        case SECRET_TYPE: {
          // every secret validated first: one bad secret rejects the update (the last good ones stay)
          const values = new Map<string, SecretValue>();
          for (const [name, r] of resources) values.set(name, parseSdsSecret(r));
          this.deps.applySecrets?.(values, version);
          break;
        }
        default:
          return;
      }
    } catch (err) {
      if (err instanceof ProxyConfigError) throw new XdsRejectError(err.message);
      throw err;
    }
    this.versions[typeUrl] = version;
    this.deps.onChange();
  }

  /** DNS answers arrive outside xDS responses; readiness may change. */
  onMembershipChange(): void {
    this.deps.onChange();
  }

  /** Envoy's init manager: first CDS, every EDS cluster's assignment, LDS and every referenced RDS. */
  isComplete(): boolean {
    if (!this.received.cds || !this.received.lds) return false;
    if (this.initialFetchTimedOut) return true;
    if (this.deps.needsNameTable && !this.received.nds) return false;
    if (!this.deps.clusters.allInitialized()) return false;
    if (this.deps.listeners.secretsMissing() !== undefined) return false;
    for (const name of this.referencedRoutes) if (!this.routes.get(name)?.config) return false;
    return true;
  }
}

function collectRdsNames(l: EnvoyResource, out: Set<string>): void {
  const chains = [...((l.filter_chains ?? []) as EnvoyResource[]), ...(l.default_filter_chain ? [l.default_filter_chain] : [])];
  for (const fc of chains) {
    for (const f of (fc.filters ?? []) as EnvoyResource[]) {
      const name = f.typed_config?.rds?.route_config_name;
      if (name) out.add(String(name));
    }
  }
}
