/**
 * The control-plane process (istiod's role in one object): config store + local registry +
 * push context + generators + ADS server + debug/resource HTTP API, wired together.
 *
 *   config dir / apply ──► ConfigStore ──change──► PushScheduler (debounce) ──► new PushContext
 *   proxy connects ──► LocalRegistry ──endpoints──┘                               │
 *                                                   AdsServer.push(types) ◄── XdsGenerator (builders)
 */
import * as fs from 'node:fs';
import { ConfigStore, type ConfigChange } from './config-store.js';
import { PushScheduler, typesForKinds, type PushRequest } from './push-scheduler.js';
import { proxyNeedsPush, resolveChange } from './push-affected.js';
import { XdsGenerator } from './xds-generator.js';
import { ControlPlaneMetrics } from './metrics.js';
import { startDebugServer, type DebugServer } from './debug-server.js';
import { controlPlaneTraces, controlPlaneView, controlPlaneWrites } from './api/control-plane-view-of.js';
import { TraceStore, type TraceStoreLimits } from './traces/trace-store.js';
import { createPushContext, type PushContext } from './builders/index.js';
import { AggregateRegistry, LocalRegistry, VipAllocator, type RegistrySource } from '../registry/index.js';
import type { ConfigResource } from '../config/types.js';
import { ServiceVipFile } from './service-vip-file.js';
import { AdsServer, type XdsStreamInfo } from '../xds-server/index.js';
import { ENDPOINT_TYPE, SHORT_TYPE_NAME } from '../xds/type-urls.js';
import { formatMessage, validateResources, type MeshConfig, type ValidationMessage } from '../config/index.js';
import { MeshConfigSource } from './mesh-config-source.js';
import { REGISTRY_KINDS } from '../config/kinds.js';
import type { ProxyIdentity } from '../xds/node-metadata.js';
import { ProxyWorkloadFile } from './proxy-workload-file.js';
import { ControlPlaneSecurity } from './control-plane-security.js';
import type { KeyAlgorithm } from '../security/ca/ca-keys.js';
import type { Authenticator } from '../security/auth/authenticator.js';
import { NackLog } from './nack-log.js';
import { MetricsScraper } from '../mesh-metrics/metrics-scraper.js';
import { scrapeTargets } from './scrape-targets.js';
import { loadOrCreateAdminToken, publishAdminToken, unpublishAdminToken } from './admin-token.js';

export interface ControlPlaneOptions {
  configDir: string;
  /** Istio MeshConfig YAML (or the istio ConfigMap); default: Istio's default mesh config */
  meshConfigFile?: string;
  xdsPort?: number;
  /** TLS gRPC port: Istio's certificate service and ADS over TLS (istiod's 15012); 0 picks a free one */
  secureXdsPort?: number;
  debugPort?: number;
  /** plug-in CA directory (Istio's cacerts files); default: a self-signed root under the config dir */
  caDir?: string;
  /** default workload certificate lifetime in seconds (`--workload-cert-ttl`, 24h) */
  workloadCertTtlSeconds?: number;
  /** key type of the control plane's own TLS certificate (default ECDSA P-256) */
  keyAlgorithm?: KeyAlgorithm;
  /** address of the xDS (ADS) servers, plaintext and TLS; default 127.0.0.1 */
  listenAddress?: string;
  /** where Services get their virtual IPs (ClusterIPs); default 10.96.0.0/12 */
  serviceCidr?: string;
  /** address of the debug/resource API (reads and the token-protected writes); default 127.0.0.1 */
  debugAddress?: string;
  /** publish the admin token for local CLI clients (default true) */
  publishToken?: boolean;
  debounceMs?: number;
  /**
   * after a restart, how long a proxy's workload (saved in the config dir) stays registered
   * before its proxy reconnects (default 30 s: a proxy's reconnect backoff reaches 30 s)
   */
  restoredWorkloadGraceMs?: number;
  /** how often the config dir is re-scanned in addition to fs.watch */
  pollMs?: number;
  /** how often every connected proxy's Istio metrics are scraped for the traffic graph (ms; 0 = never; default 5000) */
  metricsScrapeIntervalMs?: number;
  /** bounds of the Zipkin span receiver (`POST /api/v2/spans`); defaults in trace-store.ts */
  traceLimits?: Partial<TraceStoreLimits>;
  log?: (line: string) => void;
  /**
   * Service registries besides the config directory's own (its Services, ServiceEntries,
   * WorkloadEntries and the self-registered proxies, cluster id `config`), in priority order:
   * a host defined by an earlier registry wins (Kubernetes before the config directory).
   */
  registries?: RegistrySource[];
  /** Config from elsewhere (Kubernetes CRDs), merged with the config directory's */
  configSources?: ConfigSource[];
  /** more authenticators after the workload-token one (Kubernetes TokenReview) */
  authenticators?: Authenticator[];
}

/** A read-only source of Istio config (the config directory's store is the writable one). */
export interface ConfigSource {
  readonly name: string;
  all(): ConfigResource[];
  onChange(listener: (change: ConfigChange) => void): () => void;
}

export class ControlPlane {
  readonly store: ConfigStore;
  /** the config directory's registry: Services/ServiceEntries/WorkloadEntries and self-registered proxies */
  readonly localRegistry: LocalRegistry;
  /** every registry, as one (Istio's aggregate controller) */
  readonly registry: AggregateRegistry;
  private readonly configSources: ConfigSource[];
  readonly metrics = new ControlPlaneMetrics();
  readonly generator: XdsGenerator;
  readonly ads: AdsServer;
  readonly mesh: MeshConfigSource;
  readonly security: ControlPlaneSecurity;
  private pc: PushContext;
  private scheduler: PushScheduler;
  private debug: DebugServer | undefined;
  private watcher: fs.FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private graceTimers = new Map<string, NodeJS.Timeout>();
  private streamsByNode = new Map<string, Set<number>>();
  /** proxy-registered workloads by node id, saved so a restart starts with them */
  private proxyWorkloads = new Map<string, ProxyIdentity>();
  private readonly workloadFile: ProxyWorkloadFile;
  private stopped = false;
  private ready = false;
  private applyingConfig = false;
  private pushSeq = 0;
  xdsPort = 0;
  secureXdsPort = 0;
  debugPort = 0;
  /** the admin token every write to the API needs (config dir's .clew/secrets/admin-token) */
  readonly adminToken: string;
  private publishedToken: string | undefined;
  private readonly log: (line: string) => void;
  readonly nackLog: NackLog;
  /** the sidecars' Istio metrics, scraped into a bounded window (the dashboard's graph) */
  readonly scraper: MetricsScraper;
  /** spans received on the debug port's Zipkin endpoint, bounded */
  readonly traces: TraceStore;
  readonly scrapeIntervalMs: number;

  constructor(readonly options: ControlPlaneOptions) {
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.nackLog = new NackLog((line) => this.log(line));
    this.store = new ConfigStore(options.configDir);
    // Services and ServiceEntries get stable virtual IPs, kept across restarts in the state dir
    this.localRegistry = new LocalRegistry(new VipAllocator(new ServiceVipFile(options.configDir, this.log), options.serviceCidr));
    this.adminToken = loadOrCreateAdminToken(options.configDir);
    this.workloadFile = new ProxyWorkloadFile(options.configDir, this.log);
    this.mesh = new MeshConfigSource(options.meshConfigFile);
    this.registry = new AggregateRegistry([...(options.registries ?? []), { clusterId: 'config', registry: this.localRegistry }]);
    this.configSources = options.configSources ?? [];
    this.pc = createPushContext({ config: [], registry: this.registry, version: '0' });
    this.security = new ControlPlaneSecurity(
      {
        configDir: options.configDir, caDir: options.caDir, workloadCertTtlSeconds: options.workloadCertTtlSeconds, keyAlgorithm: options.keyAlgorithm,
        authenticators: options.authenticators,
      },
      { meshConfig: () => this.meshConfig(), metrics: this.metrics, log: this.log },
    );
    // a client without a credential is served as a proxyless client (security.viewOf)
    this.generator = new XdsGenerator(() => this.pc, (s, id) => this.security.viewOf(s, id));
    this.ads = new AdsServer(this.generator, {
      logger: (level, msg) => {
        if (level === 'warn') this.log(`xds ${level}: ${msg}`);
      },
      authenticate: (c) => this.security.authenticateStream(c),
      admit: (s) => this.security.admitStream(s),
    });
    this.scheduler = new PushScheduler((req) => void this.push(req), options.debounceMs ?? 100);
    this.scrapeIntervalMs = options.metricsScrapeIntervalMs ?? 5000;
    this.traces = new TraceStore(options.traceLimits);
    this.scraper = new MetricsScraper({ intervalMs: this.scrapeIntervalMs, targets: () => scrapeTargets(this.ads.streams()) });
    this.wire();
  }

  pushContext(): PushContext {
    return this.pc;
  }

  isReady(): boolean {
    return this.ready;
  }

  meshConfig(): MeshConfig {
    return this.mesh.current();
  }

  /** Warnings that need the mesh config (Telemetry providers that do not exist) for these resources. */
  meshWarnings(keys?: Set<string>): ValidationMessage[] {
    const telemetries = this.allConfig().filter((r) => r.kind === 'Telemetry');
    if (telemetries.length === 0) return [];
    return validateResources(telemetries, { meshConfig: this.meshConfig() })
      .filter((m) => m.severity === 'warning' && m.kind === 'Telemetry' && m.code === 'IST0101')
      .filter((m) => !keys || keys.has(`${m.kind}/${m.namespace}/${m.name}`));
  }

  /** The config in force: the config directory's, then every other source's. */
  allConfig(): ConfigResource[] {
    if (this.configSources.length === 0) return this.store.all();
    return [...this.store.all(), ...this.configSources.flatMap((s) => s.all())];
  }

  private wire(): void {
    const onConfig = (change: ConfigChange) => {
      // only registry kinds can change services or endpoints; rebuilding the registry for a
      // routing change would cost a full re-index. The registry's events while it takes the
      // config are this change's own (its keys say whom it reaches).
      if ([...change.kinds].some((k) => REGISTRY_KINDS.has(k))) {
        this.applyingConfig = true;
        try {
          this.localRegistry.setConfig(this.allConfig());
        } finally {
          this.applyingConfig = false;
        }
      }
      this.scheduler.enqueue(typesForKinds(change.kinds), `config: ${change.keys.join(', ')}`, { configKeys: change.keys, hostnames: [] });
      if (change.kinds.has('Telemetry')) {
        for (const m of this.meshWarnings(new Set(change.keys))) this.log(`config warning: ${formatMessage(m)}`);
      }
    };
    this.store.on('change', onConfig);
    for (const src of this.configSources) src.onChange(onConfig);
    this.store.on('rejected', (file: string, messages) => {
      this.metrics.configRejected('file');
      for (const m of messages) this.log(`config rejected, keeping the last good version: ${formatMessage(m)}`);
    });
    this.registry.onChange((ev) => {
      if (ev.kind === 'endpoints') this.scheduler.enqueue([ENDPOINT_TYPE], `endpoints: ${ev.hostnames.join(', ')}`, { configKeys: [], hostnames: ev.hostnames });
      else this.scheduler.enqueue(undefined, 'services', this.applyingConfig ? { configKeys: [], hostnames: [] } : undefined);
    });
    this.ads.on('connect', (s: XdsStreamInfo) => this.onConnect(s));
    this.ads.on('disconnect', (s: XdsStreamInfo) => this.onDisconnect(s));
    this.ads.on('nack', (s: XdsStreamInfo, typeUrl: string, version: string, message: string) => {
      this.metrics.rejected(SHORT_TYPE_NAME[typeUrl] ?? typeUrl);
      this.nackLog.nack(s.node?.id ?? s.peer, SHORT_TYPE_NAME[typeUrl] ?? typeUrl, version, message);
    });
    this.ads.on('ack', (_s: XdsStreamInfo, typeUrl: string, _v: string, latencyMs: number) => {
      this.metrics.ackLatency(SHORT_TYPE_NAME[typeUrl] ?? typeUrl, latencyMs / 1000);
    });
    this.metrics.gauge('pilot_xds', 'Connected xDS clients.', () => this.ads.streams().length);
    this.metrics.gauge('pilot_services', 'Services known to the registry.', () => this.registry.services().length);
    this.metrics.gauge('clew_config_resources', 'Configuration resources in the store.', () => this.store.all().length);
  }

  private onConnect(s: XdsStreamInfo): void {
    const id = this.generator.identity(s);
    const nodeId = s.node?.id ?? `stream-${s.id}`;
    let set = this.streamsByNode.get(nodeId);
    if (!set) this.streamsByNode.set(nodeId, (set = new Set()));
    set.add(s.id);
    const t = this.graceTimers.get(nodeId);
    if (t) {
      clearTimeout(t);
      this.graceTimers.delete(nodeId);
    }
    // no credential, no registration (the stream is served as a proxyless client: viewOf)
    if (!s.caller) this.log(`xDS client without a credential: ${nodeId} from ${s.peer} (not registered; outbound configuration only)`);
    if (id.address && s.caller) {
      // a disconnected workload whose address another proxy now has is gone for good
      for (const [other, w] of this.proxyWorkloads) {
        if (other !== nodeId && w.address === id.address && !this.streamsByNode.has(other)) this.forgetWorkload(other);
      }
      this.localRegistry.upsertProxyWorkload(nodeId, id);
      this.proxyWorkloads.set(nodeId, id);
      this.workloadFile.save(this.proxyWorkloads);
    }
    this.log(`proxy connected: ${nodeId}`);
  }

  private onDisconnect(s: XdsStreamInfo): void {
    const nodeId = s.node?.id ?? `stream-${s.id}`;
    const set = this.streamsByNode.get(nodeId);
    set?.delete(s.id);
    if (set && set.size > 0) return;
    this.streamsByNode.delete(nodeId);
    this.log(`proxy disconnected: ${nodeId}`);
    // a workload leaves with its last stream; streams closed by stop() keep theirs (saved for the
    // next start, restored with a grace until their proxies return)
    if (!this.stopped) this.forgetWorkload(nodeId);
  }

  private startGrace(nodeId: string, ms: number): void {
    clearTimeout(this.graceTimers.get(nodeId));
    // streams closed by stop() keep their workloads (saved for the next start)
    if (this.stopped) return;
    const timer = setTimeout(() => this.forgetWorkload(nodeId), ms);
    timer.unref();
    this.graceTimers.set(nodeId, timer);
  }

  private forgetWorkload(nodeId: string): void {
    clearTimeout(this.graceTimers.get(nodeId));
    this.graceTimers.delete(nodeId);
    this.localRegistry.removeProxyWorkload(nodeId);
    if (this.proxyWorkloads.delete(nodeId)) this.workloadFile.save(this.proxyWorkloads);
  }

  private async push(req: PushRequest): Promise<void> {
    const t0 = performance.now();
    const before = this.pc;
    this.pc = createPushContext({
      config: this.allConfig(), registry: this.registry, version: String(++this.pushSeq), meshConfig: this.meshConfig(),
    });
    this.generator.invalidate();
    // a change reaches only the proxies whose scope imports it (before or after it)
    const contexts = [before, this.pc];
    const change = req.scope ? resolveChange(contexts, req.scope) : undefined;
    const filter = change && !change.everyone
      ? (s: XdsStreamInfo) => {
        const needs = proxyNeedsPush(contexts, this.generator.identity(s), change);
        if (!needs) this.metrics.pushScopedOut();
        return needs;
      }
      : undefined;
    try {
      await this.ads.push({ typeUrls: req.typeUrls, reason: req.reasons.join('; '), filter });
    } catch (err) {
      this.log(`push failed: ${(err as Error).message}`);
      return;
    }
    const t1 = performance.now();
    const types = req.typeUrls ? req.typeUrls.map((t) => SHORT_TYPE_NAME[t] ?? t) : ['CDS', 'EDS', 'LDS', 'RDS'];
    for (const t of types) this.metrics.pushed(t);
    this.metrics.pushTime((t1 - t0) / 1000);
    this.metrics.convergence((t1 - req.firstChangeAt) / 1000);
  }

  /**
   * Starts everything; resolves once the ADS and debug ports are listening. A start that fails
   * part-way (a port in use, a bad plug-in CA) closes what it had opened before rejecting, so a
   * failed start leaves no listening socket or timer behind to keep the process alive.
   */
  async start(): Promise<void> {
    try {
      await this.startAll();
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  private async startAll(): Promise<void> {
    const host = this.options.listenAddress ?? '127.0.0.1';
    // a bad mesh config refuses the start (MeshConfigError carries every message)
    for (const m of await this.mesh.load()) this.log(`mesh config warning: ${formatMessage(m)}`);
    // the CA (and its root) before any port: a bad plug-in CA refuses the start
    await this.security.open(host);
    // the store's events do the rest: 'change' gives the registry its Services and entries,
    // 'rejected' logs each invalid file once
    this.store.reload();
    // registry kinds (ServiceEntries, WorkloadEntries) of the other config sources, which listed
    // before this control plane subscribed to them
    if (this.configSources.length > 0) this.localRegistry.setConfig(this.allConfig());
    // the workloads of the proxies connected before a restart, until they reconnect (or their grace ends)
    for (const [nodeId, id] of this.workloadFile.load()) {
      this.localRegistry.upsertProxyWorkload(nodeId, id);
      this.proxyWorkloads.set(nodeId, id);
      this.startGrace(nodeId, this.options.restoredWorkloadGraceMs ?? 30_000);
    }
    this.pc = createPushContext({
      config: this.allConfig(), registry: this.registry, version: String(++this.pushSeq), meshConfig: this.meshConfig(),
    });
    this.generator.invalidate();
    this.xdsPort = await this.ads.listen(host, this.options.xdsPort ?? 15010);
    this.secureXdsPort = await this.security.listen(host, this.options.secureXdsPort ?? 15012, this.ads);
    const debugHost = this.options.debugAddress ?? '127.0.0.1';
    this.debug = await startDebugServer(
      controlPlaneView(this), controlPlaneWrites(this), this.adminToken, debugHost, this.options.debugPort ?? 15014, controlPlaneTraces(this),
    );
    this.debugPort = this.debug.port;
    if (this.options.publishToken !== false) this.publishedToken = publishAdminToken(this.adminToken, debugHost, this.debugPort);
    this.watchConfigDir();
    this.scraper.start();
    this.ready = true;
    const debugUrl = `http://${debugHost.includes(':') ? `[${debugHost}]` : debugHost}:${this.debugPort}`;
    this.log(`control plane ready: xDS on ${host}:${this.xdsPort}, xDS+CA over TLS on ${host}:${this.secureXdsPort}, debug on ${debugUrl}, config dir ${this.options.configDir}${this.mesh.file ? `, mesh config ${this.mesh.file}` : ''}`);
  }

  private watchConfigDir(): void {
    const rescan = () => {
      try {
        this.store.reload();
      } catch (err) {
        this.log(`config dir scan failed: ${(err as Error).message}`);
      }
      void this.pollMeshConfig();
    };
    let pending: NodeJS.Timeout | undefined;
    try {
      // not `recursive: true`: on Linux, Node 20 emulates it in JS and re-reads the whole directory
      // on every event, so an apply of N files cost O(N²) event-loop time (2,000 VirtualServices:
      // tens of seconds). Files in subdirectories are picked up by the poll below.
      this.watcher = fs.watch(this.options.configDir, (_event, name) => {
        if (typeof name === 'string' && (name.startsWith('.') || /\.tmp-\d+$/.test(name))) return;
        if (pending) clearTimeout(pending);
        pending = setTimeout(rescan, 50);
      });
      this.watcher.on('error', () => {});
    } catch {
      // no fs.watch here: polling below still picks up edits
    }
    this.poller = setInterval(rescan, this.options.pollMs ?? 2000);
    this.poller.unref();
  }

  /** Picks up an edited --mesh-config file; an edit with errors keeps the last good one. */
  async pollMeshConfig(): Promise<void> {
    const r = await this.mesh.poll();
    if (!r) return;
    const what = r.applied ? 'mesh config' : 'mesh config rejected, keeping the last good version';
    for (const m of r.messages) this.log(`${what}: ${formatMessage(m)}`);
    if (r.applied) {
      this.log(`mesh config reloaded from ${this.mesh.file}`);
      this.scheduler.enqueue(undefined, 'mesh config');
    }
  }

  async stop(): Promise<void> {
    this.ready = false;
    this.stopped = true;
    this.scheduler.stop();
    this.watcher?.close();
    if (this.poller) clearInterval(this.poller);
    for (const t of this.graceTimers.values()) clearTimeout(t);
    await this.scraper.stop();
    await this.debug?.close();
    if (this.publishedToken) unpublishAdminToken(this.publishedToken, this.adminToken);
    await this.ads.close();
    await this.security.close();
  }
}
