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
import { XdsGenerator } from './xds-generator.js';
import { ControlPlaneMetrics } from './metrics.js';
import { startDebugServer, type DebugServer } from './debug-server.js';
import { createPushContext, type PushContext } from './builders/index.js';
import { LocalRegistry } from '../registry/index.js';
import { AdsServer, type XdsStreamInfo } from '../xds-server/index.js';
import { ENDPOINT_TYPE, SHORT_TYPE_NAME } from '../xds/type-urls.js';
import { formatMessage } from '../config/index.js';

const REGISTRY_KINDS = new Set(['Service', 'ServiceEntry', 'WorkloadEntry']);

export interface ControlPlaneOptions {
  configDir: string;
  xdsPort?: number;
  debugPort?: number;
  listenAddress?: string;
  debounceMs?: number;
  /** how long a disconnected proxy's workload stays registered */
  workloadGraceMs?: number;
  /** how often the config dir is re-scanned in addition to fs.watch */
  pollMs?: number;
  log?: (line: string) => void;
}

export class ControlPlane {
  readonly store: ConfigStore;
  readonly registry = new LocalRegistry();
  readonly metrics = new ControlPlaneMetrics();
  readonly generator: XdsGenerator;
  readonly ads: AdsServer;
  private pc: PushContext;
  private scheduler: PushScheduler;
  private debug: DebugServer | undefined;
  private watcher: fs.FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private graceTimers = new Map<string, NodeJS.Timeout>();
  private streamsByNode = new Map<string, Set<number>>();
  private ready = false;
  private pushSeq = 0;
  xdsPort = 0;
  debugPort = 0;
  private readonly log: (line: string) => void;

  constructor(readonly options: ControlPlaneOptions) {
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.store = new ConfigStore(options.configDir);
    this.pc = createPushContext({ config: [], registry: this.registry, version: '0' });
    this.generator = new XdsGenerator(() => this.pc);
    this.ads = new AdsServer(this.generator, {
      logger: (level, msg) => {
        if (level === 'warn') this.log(`xds ${level}: ${msg}`);
      },
    });
    this.scheduler = new PushScheduler((req) => void this.push(req), options.debounceMs ?? 100);
    this.wire();
  }

  pushContext(): PushContext {
    return this.pc;
  }

  isReady(): boolean {
    return this.ready;
  }

  private wire(): void {
    this.store.on('change', (change: ConfigChange) => {
      // only registry kinds can change services or endpoints; rebuilding the registry for a
      // routing change would cost a full re-index
      if ([...change.kinds].some((k) => REGISTRY_KINDS.has(k))) this.registry.setConfig(this.store.all());
      this.scheduler.enqueue(typesForKinds(change.kinds), `config: ${change.keys.join(', ')}`);
    });
    this.store.on('rejected', (file: string, messages) => {
      this.metrics.configRejected('file');
      for (const m of messages) this.log(`config rejected, keeping the last good version: ${formatMessage(m)}`);
    });
    this.registry.onChange((ev) => {
      if (ev.kind === 'endpoints') this.scheduler.enqueue([ENDPOINT_TYPE], `endpoints: ${ev.hostnames.join(', ')}`);
      else this.scheduler.enqueue(undefined, 'services');
    });
    this.ads.on('connect', (s: XdsStreamInfo) => this.onConnect(s));
    this.ads.on('disconnect', (s: XdsStreamInfo) => this.onDisconnect(s));
    this.ads.on('nack', (s: XdsStreamInfo, typeUrl: string, _version: string, message: string) => {
      this.metrics.rejected(SHORT_TYPE_NAME[typeUrl] ?? typeUrl);
      this.log(`NACK from ${s.node?.id ?? s.peer} for ${SHORT_TYPE_NAME[typeUrl] ?? typeUrl}: ${message}`);
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
    if (id.address) this.registry.upsertProxyWorkload(nodeId, id);
    this.log(`proxy connected: ${nodeId}`);
  }

  private onDisconnect(s: XdsStreamInfo): void {
    const nodeId = s.node?.id ?? `stream-${s.id}`;
    const set = this.streamsByNode.get(nodeId);
    set?.delete(s.id);
    if (set && set.size > 0) return;
    this.streamsByNode.delete(nodeId);
    this.log(`proxy disconnected: ${nodeId}`);
    const grace = this.options.workloadGraceMs ?? 10_000;
    const timer = setTimeout(() => {
      this.graceTimers.delete(nodeId);
      this.registry.removeProxyWorkload(nodeId);
    }, grace);
    timer.unref();
    this.graceTimers.set(nodeId, timer);
  }

  private async push(req: PushRequest): Promise<void> {
    const t0 = performance.now();
    this.pc = createPushContext({ config: this.store.all(), registry: this.registry, version: String(++this.pushSeq) });
    this.generator.invalidate();
    try {
      await this.ads.push({ typeUrls: req.typeUrls, reason: req.reasons.join('; ') });
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

  /** Starts everything; resolves once the ADS and debug ports are listening. */
  async start(): Promise<void> {
    const host = this.options.listenAddress ?? '127.0.0.1';
    // the store's events do the rest: 'change' gives the registry its Services and entries,
    // 'rejected' logs each invalid file once
    this.store.reload();
    this.pc = createPushContext({ config: this.store.all(), registry: this.registry, version: String(++this.pushSeq) });
    this.generator.invalidate();
    this.xdsPort = await this.ads.listen(host, this.options.xdsPort ?? 15010);
    this.debug = await startDebugServer(this, host, this.options.debugPort ?? 15014);
    this.debugPort = this.debug.port;
    this.watchConfigDir();
    this.ready = true;
    this.log(`control plane ready: xDS on ${host}:${this.xdsPort}, debug on http://${host}:${this.debugPort}, config dir ${this.options.configDir}`);
  }

  private watchConfigDir(): void {
    const rescan = () => {
      try {
        this.store.reload();
      } catch (err) {
        this.log(`config dir scan failed: ${(err as Error).message}`);
      }
    };
    let pending: NodeJS.Timeout | undefined;
    try {
      this.watcher = fs.watch(this.options.configDir, { recursive: true }, () => {
        if (pending) clearTimeout(pending);
        pending = setTimeout(rescan, 50);
      });
    } catch {
      // no fs.watch here: polling below still picks up edits
    }
    this.poller = setInterval(rescan, this.options.pollMs ?? 2000);
    this.poller.unref();
  }

  async stop(): Promise<void> {
    this.ready = false;
    this.scheduler.stop();
    this.watcher?.close();
    if (this.poller) clearInterval(this.poller);
    for (const t of this.graceTimers.values()) clearTimeout(t);
    await this.debug?.close();
    await this.ads.close();
  }
}
