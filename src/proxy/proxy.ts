/**
 * `startProxy`: wires bootstrap, ADS client, config applier, cluster and listener managers and
 * the admin/stats/readiness servers into one running proxy.
 */
import { overflowCounter, overflowCounters } from '../stats/stats-overflow.js';
import type * as http from 'node:http';
import { buildNode } from '../xds/node-metadata.js';
import { protoRoot } from '../xds/proto-root.js';
import { ROUTER_TYPE } from '../xds/type-urls.js';
import { createAdminBackend } from './admin/admin-backend.js';
import { createAdminHandler, listenHttp } from './admin/admin-server.js';
import { identityFromOptions, type LogLevel, type ProxyOptions } from './core/bootstrap.js';
import { ConfigApplier } from './config/config-applier.js';
import { DRAIN_DEFAULTS, runDrain, type DrainMode, type DrainResult } from './drain/drain-sequence.js';
import { HttpConnectionManager } from './http/connection-manager.js';
import { parseHcm } from './http/hcm-config.js';
import { REQUEST_DESTINATION_RESOLVER } from './core/destination.js';
import { resolverForMode } from './listener/destination-original.js';
import { loadOriginalDstAddon } from '../capture/original-dst.js';
import { CaptureListener } from '../capture/capture-listener.js';
import { DnsProxy, readResolvConf } from '../capture/dns-proxy.js';
import { DnsTable } from '../capture/dns-table.js';
import { ListenerManager } from './listener/listener-manager.js';
import type { ListenerConfig } from './listener/listener-config.js';
import cluster from 'node:cluster';
import { NOOP_OBSERVER } from './core/observer.js';
import { defaultMaxDownstreamConnections } from './listener/connection-budget.js';
import { StatsStore } from '../stats/stats-store.js';
import type { ClusterStats } from './telemetry/stats-cluster.js';
import { TelemetryRuntime } from './telemetry/telemetry-runtime.js';
import { ClusterManager } from './upstream/cluster-manager.js';
import { XdsClient, type XdsApplier } from './xds-client/xds-client.js';
import { SECRET_TYPE } from '../xds/type-urls.js';
import { bearerMetadata, readRoot } from './secret/ca-client.js';
import { SecretManager } from './secret/secret-manager.js';
import { workloadAgentStarter } from './secret/agent-options.js';
import { tlsStats } from './transport/tls-stats.js';
import { isLoopbackV4 } from './transport/transport-registry.js';

export type { ProxyOptions } from './core/bootstrap.js';

export interface ProxyHandle {
  /** admin, stats and readiness ports actually bound */
  readonly ports: { admin: number; stats: number; ready: number };
  /** resolves once the first complete LDS+CDS+EDS+RDS set is applied and listeners are bound */
  readonly ready: Promise<void>;
  isReady(): boolean;
  /** the port a listener is bound to (ephemeral ports included), by listener name */
  listenerPort(name: string): number | undefined;
  readonly stats: StatsStore;
  /** the `cluster.<name>.*` stats handles of a cluster */
  clusterStats(name: string): ClusterStats;
  readonly nodeId: string;
  /**
   * Whole-proxy drain (see drain/drain-sequence.ts): `graceful` on SIGTERM, `handover` when a
   * hot-restarted process has taken over the sockets. Resolves once drained; the proxy is closed.
   */
  drain(mode: DrainMode): Promise<DrainResult>;
  close(): Promise<void>;
}

/** Where a proxy's xDS configuration comes from: its ADS client, or (a --concurrency worker) worker 0. */
export interface ProxyConfigSource {
  start(): void;
  close(): void;
  setNames(typeUrl: string, names: string[]): void;
  readonly connected: boolean;
}

/** How one worker of `clew proxy --concurrency N` differs (src/proxy/agent/proxy-child.ts). */
export interface ProxyWorkerHooks {
  /** the stats store (worker 0: one that also shows the other workers' stats) */
  stats?: StatsStore;
  /** wraps what applies xDS updates (worker 0 forwards what it accepted) */
  wrapApplier?(a: XdsApplier): XdsApplier;
  /** replaces the ADS client (workers 1..N-1 take worker 0's configuration) */
  configSource?(a: XdsApplier): ProxyConfigSource;
  /** false: no admin, stats or readiness server (worker 0 has them) */
  admin?: boolean;
  /** worker 0: whether the other workers are ready too (the readiness probe answers for all) */
  othersReady?(): boolean;
}

/** ADS over TLS when asked, or when the xDS address is the secure port (15012, istiod's). */
function xdsTlsOption(o: ProxyOptions): (() => { ca: string }) | undefined {
  const secure = o.xdsTls ?? /:15012$/.test(o.xdsAddress);
  if (!secure) return undefined;
  return () => readRoot(o.rootCertFile) ?? { ca: '' };
}

const LEVELS: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, off: 5 };

export async function startProxy(options: ProxyOptions, worker: ProxyWorkerHooks = {}): Promise<ProxyHandle> {
  protoRoot();
  const identity = identityFromOptions(options);
  const node = buildNode(identity);
  const observer = options.observer ?? NOOP_OBSERVER;
  let level = LEVELS[options.logLevel ?? 'info'] ?? 2;
  const log = (lvl: 'debug' | 'info' | 'warn', msg: string): void => {
    if (LEVELS[lvl] >= level) process.stderr.write(`${new Date().toISOString()} [${lvl}] clew-proxy: ${msg}\n`);
  };
  const stats = worker.stats ?? new StatsStore();
  stats.overflow = overflowCounter('stats_series');
  for (const c of overflowCounters()) stats.adopt(c);
  const root = stats.scope('');
  const serverGauges = {
    live: root.gauge('server.live'),
    state: root.gauge('server.state'),
    uptime: root.gauge('server.uptime'),
    connected: root.gauge('control_plane.connected_state'),
    listeners: root.gauge('listener_manager.total_listeners_active'),
    clusters: root.gauge('cluster_manager.active_clusters'),
  };
  let applier!: ConfigApplier;
  // SDS: where the TLS contexts of clusters and listeners get their certificates
  let xdsRef: ProxyConfigSource | undefined;
  const secrets = new SecretManager({
    setAdsNames: (names) => xdsRef?.setNames(SECRET_TYPE, names),
    startAgent: workloadAgentStarter(options, identity, log),
    log,
  });
  const mode = options.interceptionMode ?? 'NONE';
  const localMode = mode === 'NONE';
  // local mode: pods share the machine's loopback, each on its own address; a connection to
  // another pod leaves from this pod's address (as in a cluster), not from 127.0.0.1
  const podSource = localMode && options.address !== undefined && isLoopbackV4(options.address) && options.address !== '127.0.0.1' ? options.address : undefined;
  const clusters = new ClusterManager(stats, () => applier?.onMembershipChange(), secrets, podSource);
  // Istio metrics, access logs and tracing per listener from xDS; span collectors are clusters
  const telemetry = new TelemetryRuntime({
    identity,
    stats,
    resolveCluster: (name) => {
      const h = clusters.slot(name).cluster?.chooseHost(undefined);
      return h ? { host: h.address, port: h.port } : undefined;
    },
  });
  // transparent capture: where a connection was headed comes from the kernel (native addon)
  const native = localMode ? { addon: undefined, error: undefined } : loadOriginalDstAddon();
  const captureResolver = options.resolver ? undefined : resolverForMode(mode, native.error);
  // captured connections are accepted by the addon, which reads their original destination as
  // it accepts them; in node:cluster workers (--hot-restart, --concurrency) each worker binds its
  // own socket with SO_REUSEPORT, as the agent cannot share a socket it did not create
  const captureServer = (c: ListenerConfig): CaptureListener | undefined =>
    c.transparent || (captureResolver && (c.useOriginalDst || c.originalDst))
      ? new CaptureListener(native.addon, { transparent: c.transparent, reusePort: cluster.isWorker }, native.error)
      : undefined;
  const passthrough = new Map<string, HttpConnectionManager>();
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const hold = options.holdUntilReady ? ready : undefined;
  // Istio's name table (NDS): hostnames of local-mode requests find their `<vip>_<port>` listener
  // through it, and with --dns-capture the DNS proxy answers the app from it
  const resolv = readResolvConf(options.resolvConf);
  const dnsTable = new DnsTable(identity.namespace, resolv.search);
  const listeners = new ListenerManager({
    resolveName: (host) => dnsTable.vip(host),
    observer,
    resolver: options.resolver ?? captureResolver ?? REQUEST_DESTINATION_RESOLVER,
    createServer: localMode ? undefined : captureServer,
    drainTimeMs: options.drainTimeMs ?? DRAIN_DEFAULTS.drainMs,
    stats,
    maxDownstreamConnections: options.maxDownstreamConnections ?? defaultMaxDownstreamConnections(),
    drainIdleMs: options.drainQuietMs ?? DRAIN_DEFAULTS.quietMs,
    hold,
    log,
    tlsStats: (name) => tlsStats(stats.scope(`listener.${name}.`)),
    passthroughHcm: (clusterName) => {
      let h = passthrough.get(clusterName);
      if (!h) {
        const cfg = parseHcm(
          {
            stat_prefix: clusterName,
            route_config: { name: clusterName, virtual_hosts: [{ name: clusterName, domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: clusterName, timeout: { seconds: 0 } } }] }] },
            http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
          },
          applier.parseContext(),
        );
        h = new HttpConnectionManager(cfg, { observer });
        passthrough.set(clusterName, h);
      }
      return h;
    },
  });

  let draining: Promise<DrainResult> | undefined;
  let isReady = false;
  let checking = false;
  const applyXds: XdsApplier = { apply: (t, r, v) => applier.apply(t, r, v) };
  const xdsApplier = worker.wrapApplier?.(applyXds) ?? applyXds;
  const xds: ProxyConfigSource = worker.configSource?.(xdsApplier) ?? new XdsClient({
    address: options.xdsAddress,
    node,
    log,
    backoffBaseMs: options.xdsBackoffBaseMs,
    backoffMaxMs: options.xdsBackoffMaxMs,
    applier: xdsApplier,
    tls: xdsTlsOption(options),
    metadata: options.tokenFile ? () => bearerMetadata(options.tokenFile) : undefined,
  });
  xdsRef = xds;
  applier = new ConfigApplier({
    clusters,
    listeners,
    observer,
    telemetry,
    setNames: (t, names) => xds.setNames(t, names),
    proxyAddress: identity.address,
    secrets,
    onNameTable: (table) => dnsTable.update(table),
    needsNameTable: !!options.dnsCapture,
    applySecrets: (values, version) => secrets.applyAds(values, version),
    bindOverride: (name, address, port) => {
      if (name === 'virtualOutbound' && options.outboundPort !== undefined) port = options.outboundPort;
      if (name === 'virtualInbound' && options.inboundPort !== undefined) port = options.inboundPort;
      const remapped = options.remapPorts?.[port];
      if (remapped !== undefined) port = remapped;
      // Local mode: several proxies share the machine; wildcard listeners bind the proxy's own
      // address (sidecars and gateways alike).
      if (localMode && (address === '0.0.0.0' || address === '::') && options.address) address = options.address;
      return { address, port };
    },
    onChange: () => {
      if (isReady || checking || !applier.isComplete()) return;
      checking = true;
      void listeners.settled().then(() => {
        checking = false;
        if (!isReady && applier.isComplete()) {
          isReady = true;
          log('info', 'initial configuration applied; ready');
          readyResolve();
        }
      });
    },
  });

  const host = options.address ?? '127.0.0.1';
  const startTime = Date.now();
  let closing: Promise<void> | undefined;
  let fetchTimer: NodeJS.Timeout | undefined;
  const servers: http.Server[] = [];
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      xds.close();
      clearTimeout(fetchTimer);
      for (const s of servers) s.closeAllConnections?.();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await listeners.close();
      await clusters.close();
      await telemetry.close();
      await dns?.close();
      secrets.close();
    })());
  const backend = createAdminBackend({
    node,
    applier,
    clusters,
    listeners,
    stats,
    secrets,
    startTime,
    isReady: () => isReady && !draining && (worker.othersReady?.() ?? true),
    isDraining: () => !!draining,
    restartEpoch: options.restartEpoch,
    concurrency: options.concurrency,
    setLogLevel: (l) => {
      if (!(l in LEVELS)) return false;
      level = LEVELS[l as LogLevel];
      return true;
    },
    quit: () => void close().then(() => options.onQuit?.()),
    refreshServerStats: () => {
      serverGauges.live.set(isReady ? 1 : 0);
      serverGauges.state.set(draining ? 1 : isReady ? 0 : 2);
      serverGauges.uptime.set(Math.floor((Date.now() - startTime) / 1000));
      serverGauges.connected.set(xds.connected ? 1 : 0);
      serverGauges.listeners.set(listeners.listeners.size);
      serverGauges.clusters.set(clusters.clusters.size);
    },
  });
  const serve = async (kind: 'admin' | 'stats' | 'ready', port: number): Promise<{ port: number }> => {
    if (worker.admin === false) return { port: 0 };
    const srv = await listenHttp(createAdminHandler(backend, kind), kind === 'admin' ? options.adminAddress ?? host : host, port, hold);
    servers.push(srv.server);
    return srv;
  };
  let dns: DnsProxy | undefined;
  if (options.dnsCapture && worker.admin !== false) {
    // istio-agent's DNS proxy (127.0.0.1:15053): the capture rules send the app's DNS here
    const dnsStats = stats.scope('dns.');
    dns = new DnsProxy({
      table: dnsTable,
      upstreams: options.dnsUpstreams ?? resolv.servers,
      port: options.dnsPort ?? 15053,
      stats: {
        requests: dnsStats.counter('requests'),
        answered: dnsStats.counter('answered'),
        upstreamRequests: dnsStats.counter('upstream_requests'),
        upstreamFailures: dnsStats.counter('upstream_failures'),
        overflow: dnsStats.counter('overflow'),
      },
      log: (m) => log('warn', m),
    });
    await dns.start();
  }
  const admin = await serve('admin', options.adminPort ?? 15000);
  const statsSrv = await serve('stats', options.statsPort ?? 15090);
  const readySrv = await serve('ready', options.readyPort ?? 15021);
  if (options.appProbers && options.appProbers.size > 0 && worker.admin !== false) {
    // the kubelet's rewritten probes (istio-agent's 15020): the app's own probes, run from here
    const { appProbeHandler } = await import('./admin/app-probes.js');
    const st = await listenHttp(appProbeHandler(options.appProbers, '127.0.0.1'), host, options.statusPort ?? 15020);
    servers.push(st.server);
  }
  xds.start();
  // Envoy's initial_fetch_timeout (15 s): an EDS/RDS resource the server never sends does not keep
  // the proxy unready forever once clusters and listeners are in.
  fetchTimer = setTimeout(() => {
    applier.initialFetchTimedOut = true;
    applier.onMembershipChange();
  }, options.initialFetchTimeoutMs ?? 15_000);
  fetchTimer.unref();
  log('info', `proxy ${node.id} started; xDS ${options.xdsAddress}, admin ${host}:${admin.port}`);

  return {
    ports: { admin: admin.port, stats: statsSrv.port, ready: readySrv.port },
    ready,
    isReady: () => isReady,
    listenerPort: (name) => {
      const l = listeners.listeners.get(name);
      return l ? (l.boundPort ?? (l.config.bindToPort ? undefined : l.config.port)) : undefined;
    },
    stats,
    clusterStats: (name) => clusters.clusterStats(name),
    nodeId: node.id,
    drain: (mode) =>
      (draining ??= (async () => {
        if (mode === 'handover') {
          // the new process answers on the admin ports and talks to the control plane now
          xds.close();
          for (const s of servers) {
            s.close();
            s.closeIdleConnections?.();
          }
        }
        const result = await runDrain(
          {
            drainListeners: (accept) => {
              listeners.drainListeners({ accept });
              for (const h of passthrough.values()) h.drain();
            },
            stopAccepting: () => listeners.stopAccepting(),
            openConnections: () => listeners.openConnections,
            lastActivityAt: () => listeners.lastActivityAt,
            destroyConnections: () => listeners.destroyConnections(),
          },
          mode,
          {
            drainMs: options.drainTimeMs ?? DRAIN_DEFAULTS.drainMs,
            parentShutdownMs: options.parentShutdownMs ?? DRAIN_DEFAULTS.parentShutdownMs,
            quietMs: options.drainQuietMs ?? DRAIN_DEFAULTS.quietMs,
          },
          (msg) => log('info', msg),
        );
        log('info', `drained (${result.reason}) after ${result.elapsedMs} ms${result.closedAtDeadline ? `, ${result.closedAtDeadline} connection(s) closed at the deadline` : ''}`);
        await close();
        return result;
      })()),
    close,
  };
}
