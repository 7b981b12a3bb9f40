/**
 * Owns the listeners: binds those with bind_to_port (reusing the listening socket when an update
 * keeps the address), indexes bind_to_port=false listeners by port for dispatch, and drains:
 * a replaced or removed listener stops accepting, its connections keep being served by the old
 * config but lose keep-alive (HTTP/1.1 `connection: close`, HTTP/2 GOAWAY), and whatever is left
 * after the drain time is closed. Whole-proxy drains (SIGTERM, hot restart, /drain_listeners)
 * discourage every connection the same way, optionally keep accepting (graceful), close HTTP/1.1
 * connections that stay idle while draining, and report open connections so the proxy can tell
 * when it is quiescent.
 */
import * as net from 'node:net';
import type { EventEmitter } from 'node:events';
import { StatsStore } from '../../stats/stats-store.js';
import { newStreamInfo } from '../core/stream-info.js';
import { listenerStats, type ListenerStats } from './listener-stats.js';
import type { Duplex } from 'node:stream';
import { CONN_CTX, type ConnectionContext } from '../core/connection-context.js';
import { drainIdleMs, idleMs, markDraining, trackConnection } from '../drain/connection-activity.js';
import type { HttpConnectionManager } from '../http/connection-manager.js';
import type { RequestObserver } from '../core/observer.js';
import type { DestinationResolver } from '../core/destination.js';
import { allChains, detectAppProtocol, inspectsAppOn, selectChain, selectChainFor, type ChainQuery, type FilterChain, type ListenerConfig } from './listener-config.js';
import { inspectClientHello, type ClientHelloInfo } from './tls-inspector.js';
import type { TlsStats } from '../transport/tls-stats.js';
import { OutboundDispatcher } from './outbound-dispatcher.js';
import { handToNetworkChain } from '../network/network-chain.js';

/** connections looked at per accept when one must be closed to make room */
const EVICT_SCAN = 64;
/** a connection idle for less than this is not closed to make room (its request may be on the way) */
const MIN_IDLE_TO_EVICT_MS = 1000;

export interface ListenerManagerOptions {
  observer: RequestObserver;
  resolver: DestinationResolver;
  drainTimeMs: number;
  /** a draining HTTP/1.1 connection idle this long is closed (default 1000 ms) */
  drainIdleMs?: number;
  /**
   * connections accepted before this settles wait for it (a hot-restarted proxy accepts from the
   * shared sockets before its configuration is complete: Envoy's listener warming)
   */
  hold?: Promise<void>;
  passthroughHcm(clusterName: string): HttpConnectionManager;
  /**
   * the server a listener binds, when it is not a net.Server: under transparent capture the
   * listeners that need the original destination (and `transparent` ones, TPROXY) are capture
   * listeners (src/capture/capture-listener.ts); undefined = net.Server
   */
  createServer?(config: ListenerConfig): ListeningServer | undefined;
  /** a service hostname's virtual IP (the proxy's name table), to find `<vip>_<port>` listeners by name */
  resolveName?(host: string): string | undefined;
  log(level: 'debug' | 'info' | 'warn', msg: string): void;
  /** the `listener.<name>.ssl.*` stats of a listener with TLS chains */
  tlsStats?(listenerName: string): TlsStats;
  /** where `listener.<name>.*` stats live (default: a private store) */
  stats?: StatsStore;
  /**
   * the global downstream connection limit (Envoy's overload manager `downstream_connections`
   * monitor): a connection accepted while this many are open is closed at once and counted in
   * `listener.<prefix>.downstream_global_cx_overflow`; 0 = no limit
   */
  maxDownstreamConnections?: number;
}

/** the most bytes read while looking for a complete ClientHello (a record's maximum and its header) */
const MAX_INSPECT_BYTES = 16384 + 5;

export interface ActiveListener {
  config: ListenerConfig;
  version: string;
  lastUpdated: Date;
  server: ListeningServer | undefined;
  boundPort: number | undefined;
  bindError: string | undefined;
  bound: Promise<void>;
  /** connections accepted from now on are discouraged (drain_listeners, SIGTERM, hot restart) */
  draining: boolean;
}

export interface DrainListenersOptions {
  /** only listeners whose traffic direction is inbound */
  inboundOnly?: boolean;
  /** keep accepting (new connections are discouraged too); otherwise stop accepting now */
  accept: boolean;
}

type Conn = net.Socket | Duplex;

/** What a bound listener needs of its server: net.Server's surface, or a capture listener's. */
export interface ListeningServer extends EventEmitter {
  readonly listening: boolean;
  listen(options: { host: string; port: number }, cb: () => void): unknown;
  address(): net.AddressInfo | string | null;
  close(cb?: (err?: Error) => void): unknown;
}

export class ListenerManager {
  readonly listeners = new Map<string, ActiveListener>();
  /** bind_to_port=false listeners on a wildcard address, by port (`0.0.0.0_<port>`) */
  private readonly portIndex = new Map<number, ListenerConfig>();
  /** bind_to_port=false listeners on one address (`<vip>_<port>`), by `address:port` */
  private readonly addressIndex = new Map<string, ListenerConfig>();
  private readonly conns = new Map<ListenerConfig, Set<Conn>>();
  private readonly dispatcher: OutboundDispatcher;
  private readonly drainTimers = new Set<NodeJS.Timeout>();
  /** every downstream connection still open, on any listener */
  private readonly open = new Set<Conn>();
  private readonly bytesSeen = new WeakMap<Conn, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** last time a downstream connection was accepted or closed (ms since epoch) */
  lastActivityAt = 0;
  private holding = false;
  /** a drain of every listener is under way: listeners added by later LDS updates drain too */
  private drainingAll: 'accepting' | 'stopped' | undefined;

  constructor(private readonly opts: ListenerManagerOptions) {
    this.statsStore = opts.stats ?? new StatsStore();
    if (opts.hold) {
      this.holding = true;
      void opts.hold.then(() => (this.holding = false));
    }
    this.dispatcher = new OutboundDispatcher(
      {
        chainFor: (ctx, dest) => this.chainFor(ctx, dest),
        generation: () => this.generation,
        passthroughHcm: (name) => opts.passthroughHcm(name),
        dispatchConnection: (socket, ctx) => this.dispatchConnection(socket, ctx),
        noFilterChain: (ctx, protocol) => this.noFilterChain(undefined, ctx, undefined, protocol),
      },
      opts.observer,
    );
  }

  /** bumped by every LDS state applied: routing cached per connection is stale after it */
  generation = 0;

  /** Applies a full LDS state (already parsed and validated). */
  apply(configs: ListenerConfig[], version: string): void {
    this.generation++;
    const next = new Map(configs.map((c) => [c.name, c]));
    const freeServers = new Map<string, ActiveListener>();
    for (const [name, al] of this.listeners) {
      const c = next.get(name);
      if (c && JSON.stringify(c.raw) === JSON.stringify(al.config.raw) && c.address === al.config.address && c.port === al.config.port) continue;
      this.drainConfig(al.config);
      // its TLS contexts stop watching secrets; connections already made keep their contexts
      for (const ch of allChains(al.config)) ch.tls?.close();
      if (al.config.bindToPort === false) this.unindex(al.config);
      if (al.server) freeServers.set(`${al.config.address}:${al.config.port}`, al);
      this.listeners.delete(name);
    }
    for (const c of configs) {
      if (this.listeners.has(c.name)) continue;
      const al: ActiveListener = { config: c, version, lastUpdated: new Date(), server: undefined, boundPort: undefined, bindError: undefined, bound: Promise.resolve(), draining: !!this.drainingAll };
      this.listeners.set(c.name, al);
      const tlsChains = allChains(c).filter((ch) => ch.tls);
      if (tlsChains.length > 0) {
        const st = this.opts.tlsStats?.(c.name);
        for (const ch of tlsChains) ch.tls!.activate(st);
      }
      if (!c.bindToPort) {
        if (isWildcard(c.address)) this.portIndex.set(c.port, c);
        else for (const a of [c.address, ...c.additionalAddresses]) this.addressIndex.set(`${a}:${c.port}`, c);
        continue;
      }
      const reuse = freeServers.get(`${c.address}:${c.port}`);
      if (reuse) {
        freeServers.delete(`${c.address}:${c.port}`);
        al.server = reuse.server;
        al.boundPort = reuse.boundPort;
        al.server!.removeAllListeners('connection');
        al.server!.on('connection', (s: net.Socket) => this.onConnection(al, s));
        if (al.server!.listening) {
          al.server!.removeAllListeners('error');
          al.server!.on('error', (err: NodeJS.ErrnoException) => this.onAcceptError(al, err));
        }
      } else if (this.drainingAll !== 'stopped') this.bind(al);
    }
    for (const al of freeServers.values()) al.server?.close();
  }

  private bind(al: ActiveListener): void {
    const server = this.opts.createServer?.(al.config) ?? net.createServer({ noDelay: true });
    al.server = server;
    server.on('connection', (s: net.Socket) => this.onConnection(al, s));
    al.bound = new Promise<void>((resolve) => {
      const onBindError = (err: Error): void => {
        al.bindError = err.message;
        this.opts.log('warn', `listener ${al.config.name}: cannot bind ${al.config.address}:${al.config.port}: ${err.message}`);
        resolve();
      };
      server.once('error', onBindError);
      server.listen({ host: al.config.address, port: al.config.port }, () => {
        al.boundPort = (server.address() as net.AddressInfo).port;
        server.off('error', onBindError);
        // after the bind, a listening socket still reports accept() failures (EMFILE/ENFILE when
        // descriptors run out) as 'error': without a listener that ends the process
        server.on('error', (err: NodeJS.ErrnoException) => this.onAcceptError(al, err));
        resolve();
      });
    });
  }

  private acceptErrors = 0;

  /** accept() failed (descriptors exhausted): the listener goes on; logged at most once a second */
  private onAcceptError(al: ActiveListener, err: NodeJS.ErrnoException): void {
    const n = ++this.acceptErrors;
    const now = Date.now();
    if (now - this.lastAcceptErrorLog >= 1000) {
      this.lastAcceptErrorLog = now;
      this.opts.log('warn', `listener ${al.config.name}: accept failed: ${err.code ?? err.message} (${n} so far)`);
    }
  }

  private lastAcceptErrorLog = 0;

  private unindex(c: ListenerConfig): void {
    if (this.portIndex.get(c.port) === c) this.portIndex.delete(c.port);
    for (const a of [c.address, ...c.additionalAddresses]) {
      const key = `${a}:${c.port}`;
      if (this.addressIndex.get(key) === c) this.addressIndex.delete(key);
    }
  }

  /**
   * The listener a destination belongs to, Envoy's use_original_dst lookup: the one on exactly
   * that address and port (`<vip>_<port>`; a hostname is looked up in the name table), else the
   * wildcard one on the port (`0.0.0.0_<port>`).
   */
  private listenerFor(dest: { host: string; port: number }): ListenerConfig | undefined {
    if (this.addressIndex.size > 0) {
      const ip = net.isIP(dest.host) ? dest.host : this.opts.resolveName?.(dest.host);
      const exact = ip !== undefined ? this.addressIndex.get(`${ip}:${dest.port}`) : undefined;
      if (exact) return exact;
    }
    return this.portIndex.get(dest.port);
  }

  /** The connection's original destination, unless it was made to the listener itself. */
  private originalDestination(al: ActiveListener, socket: net.Socket): { host: string; port: number } | undefined {
    const dest = this.opts.resolver.resolveConnection(socket);
    if (!dest || (dest.port === al.boundPort && dest.host === socket.localAddress)) return undefined;
    return dest;
  }

  private track(cfg: ListenerConfig, socket: Conn): void {
    let set = this.conns.get(cfg);
    if (!set) this.conns.set(cfg, (set = new Set()));
    set.add(socket);
    socket.once('close', () => set!.delete(socket));
    if (!this.open.has(socket)) {
      this.open.add(socket);
      socket.once('close', () => {
        this.open.delete(socket);
        this.lastActivityAt = Date.now();
      });
    }
  }

  private drainConfig(cfg: ListenerConfig): void {
    const set = this.conns.get(cfg);
    for (const ch of [...cfg.chains, ...(cfg.defaultChain ? [cfg.defaultChain] : [])]) ch.hcm?.drain();
    if (!set || set.size === 0) {
      this.conns.delete(cfg);
      return;
    }
    const now = Date.now();
    for (const s of set) {
      const ctx = ctxOf(s);
      if (ctx) markDraining(ctx, now);
    }
    this.startSweep();
    const t = setTimeout(() => {
      this.drainTimers.delete(t);
      for (const s of set) s.destroy();
      this.conns.delete(cfg);
    }, this.opts.drainTimeMs);
    t.unref();
    this.drainTimers.add(t);
  }

  private readonly statsStore: StatsStore;
  /** where the search for an idle connection to close resumes (a live iterator over `open`) */
  private evictCursor: Iterator<Conn> | undefined;

  /**
   * At the global limit, an HTTP/1.1 connection with no request under way for a second or more
   * (an idle keep-alive, or one that never sent a complete head) is closed to make room, as
   * Envoy's overload manager shortens idle timeouts under pressure: a flood of idle connections
   * cannot lock out new clients. At most EVICT_SCAN connections are looked at per accept.
   */
  private evictIdle(): boolean {
    const now = Date.now();
    for (let i = 0; i < EVICT_SCAN; i++) {
      let r = this.evictCursor?.next();
      if (r === undefined || r.done) {
        this.evictCursor = this.open.values();
        r = this.evictCursor.next();
        if (r.done) return false;
      }
      const s = r.value;
      const ctx = ctxOf(s);
      const idle = idleMs(ctx, now);
      if (idle === undefined || idle < MIN_IDLE_TO_EVICT_MS || s.destroyed) continue;
      this.statsOf(ctx!.listenerName).downstream_cx_idle_evicted.inc();
      this.open.delete(s);
      s.destroy();
      return true;
    }
    return false;
  }
  private readonly statsByName = new Map<string, ListenerStats>();
  private lastOverflowLog = 0;

  /** `listener.<prefix>.*` (one set per prefix: listeners are few and prefixes repeat across updates) */
  listenerStats(prefix: string): ListenerStats {
    let st = this.statsByName.get(prefix);
    if (st === undefined) {
      st = listenerStats(this.statsStore, prefix);
      this.statsByName.set(prefix, st);
    }
    return st;
  }

  /** the stats of the listener named so (by its stat prefix), or of the name if it is gone */
  private statsOf(listenerName: string): ListenerStats {
    return this.listenerStats(this.listeners.get(listenerName)?.config.statPrefix ?? listenerName);
  }

  private onConnection(al: ActiveListener, socket: net.Socket): void {
    if (this.holding) {
      // bytes that arrive meanwhile stay buffered in the socket
      socket.on('error', () => undefined);
      void this.opts.hold!.then(() => {
        if (!socket.destroyed) this.onConnection(al, socket);
      });
      return;
    }
    const cfg = al.config;
    socket.on('error', () => undefined);
    const st = this.listenerStats(cfg.statPrefix);
    st.downstream_cx_total.inc();
    const max = this.opts.maxDownstreamConnections ?? 0;
    if (max > 0 && !cfg.ignoreGlobalConnLimit && this.open.size >= max && !this.evictIdle()) {
      // over the global limit: closed before any byte is read (Envoy's global_cx_overflow), so a
      // flood of idle connections cannot use up the descriptors new clients and upstreams need
      st.downstream_global_cx_overflow.inc();
      const now = Date.now();
      if (now - this.lastOverflowLog >= 10_000) {
        this.lastOverflowLog = now;
        this.opts.log('warn', `listener ${cfg.name}: ${this.open.size} downstream connections open, the limit (--max-downstream-connections ${max}): new connections are closed`);
      }
      socket.destroy();
      return;
    }
    st.downstream_cx_active.inc();
    socket.once('close', () => {
      st.downstream_cx_active.dec();
      st.downstream_cx_destroy.inc();
    });
    const ctx: ConnectionContext = {
      listenerName: cfg.name,
      direction: cfg.direction,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? '',
      // a listener bound on another port than its resource's reports the resource's (the pod's own port)
      localPort: cfg.resourcePort ?? socket.localPort ?? 0,
      destination: undefined,
      draining: al.draining,
      remote: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`,
      local: `${socket.localAddress ?? ''}:${socket.localPort ?? 0}`,
      routed: undefined,
      tls: undefined,
    };
    (socket as unknown as Record<symbol, unknown>)[CONN_CTX] = ctx;
    trackConnection(ctx);
    this.lastActivityAt = Date.now();
    this.track(cfg, socket);
    if (cfg.useOriginalDst) {
      const dest = this.originalDestination(al, socket);
      if (dest) {
        ctx.destination = dest;
        this.dispatchConnection(socket, ctx);
      } else this.dispatcher.handleConnection(socket, ctx);
      return;
    }
    if (cfg.originalDst) {
      // virtualInbound (REDIRECT/TPROXY): chains match the connection's original destination
      const dest = this.originalDestination(al, socket);
      if (dest) ctx.destination = dest;
      return this.serve(socket, ctx, cfg, dest?.port ?? ctx.localPort);
    }
    this.serve(socket, ctx, cfg, ctx.localPort);
  }

  /** A connection whose destination is known (SO_ORIGINAL_DST or a CONNECT tunnel). */
  dispatchConnection(socket: net.Socket, ctx: ConnectionContext): void {
    const port = ctx.destination!.port;
    const target = this.listenerFor(ctx.destination!) ?? this.listeners.get(ctx.listenerName)?.config;
    if (!target) {
      this.noFilterChain(socket, ctx, undefined);
      return;
    }
    if (target.name !== ctx.listenerName) {
      ctx.listenerName = target.name;
      ctx.direction = target.direction;
      this.track(target, socket);
    }
    this.serve(socket, ctx, target, port);
  }

  /**
   * Chooses the connection's filter chain (listener filters first: the TLS inspector reads the
   * ClientHello's SNI and ALPN, the HTTP inspector the protocol; the bytes are put back), then
   * runs the chain: its TLS context (handshake, client certificate) if it has one, then the HCM or
   * the TCP proxy on the (decrypted) connection.
   */
  private serve(socket: net.Socket, ctx: ConnectionContext, cfg: ListenerConfig, port: number): void {
    const q: ChainQuery = {
      destinationPort: port,
      destinationHost: ctx.destination?.host ?? (cfg.useOriginalDst || !cfg.bindToPort ? undefined : ctx.localAddress),
      serverName: undefined,
      transportProtocol: 'raw_buffer',
      applicationProtocols: [],
      sourceAddress: ctx.remoteAddress,
      sourcePort: ctx.remotePort,
      localAddress: ctx.localAddress,
    };
    const inspectApp = inspectsAppOn(cfg, port);
    if (!cfg.inspectTls && !inspectApp) return this.runChain(socket, ctx, cfg, selectChainFor(cfg, q), undefined);
    const chunks: Buffer[] = [];
    let bytes = 0;
    // listener_filters_timeout: a client that never finishes its first bytes (a partial
    // ClientHello, a silent client on a sniffed port) is closed, or handed on as plaintext
    let timer: NodeJS.Timeout | undefined;
    const stopWaiting = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      socket.removeListener('data', onData);
      socket.removeListener('close', stopWaiting);
    };
    if (cfg.listenerFiltersTimeoutMs > 0) {
      timer = setTimeout(() => {
        stopWaiting();
        this.listenerStats(cfg.statPrefix).downstream_pre_cx_timeout.inc();
        if (!cfg.continueOnListenerFiltersTimeout) {
          socket.destroy();
          return;
        }
        socket.pause();
        if (bytes > 0) socket.unshift(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes));
        this.runChain(socket, ctx, cfg, selectChainFor(cfg, q), undefined);
      }, cfg.listenerFiltersTimeoutMs);
      socket.once('close', stopWaiting);
    }
    const onData = (d: Buffer): void => {
      chunks.push(d);
      bytes += d.length;
      const buf = chunks.length === 1 ? d : Buffer.concat(chunks, bytes);
      const r = cfg.inspectTls ? inspectClientHello(buf) : ({ kind: 'raw' } as const);
      if (r.kind === 'more' && bytes < MAX_INSPECT_BYTES) return;
      stopWaiting();
      socket.pause();
      socket.unshift(buf);
      let hello: ClientHelloInfo | undefined;
      if (r.kind === 'tls') {
        hello = r.hello;
        q.transportProtocol = 'tls';
        q.serverName = hello.serverName;
        q.applicationProtocols = hello.alpn;
      } else if (inspectApp) {
        const app = detectAppProtocol(buf);
        if (app) q.applicationProtocols = [app];
      }
      this.runChain(socket, ctx, cfg, selectChainFor(cfg, q), hello);
    };
    socket.on('data', onData);
  }

  private runChain(socket: net.Socket, ctx: ConnectionContext, cfg: ListenerConfig, chain: FilterChain | undefined, hello: ClientHelloInfo | undefined): void {
    if (!chain) {
      this.noFilterChain(socket, ctx, cfg);
      return;
    }
    if (!chain.tls) {
      // the inspectors paused it with their bytes put back: flowing again from the next tick,
      // by which time the chain has attached its reader (or paused it, as the TCP proxy does)
      if (socket.isPaused()) socket.resume();
      return this.handToChain(socket, ctx, chain);
    }
    chain.tls.accept(socket, hello?.alpn, (secure, info) => {
      ctx.tls = info;
      (secure as unknown as Record<symbol, unknown>)[CONN_CTX] = ctx;
      this.handToChain(secure, ctx, chain);
    });
  }

  private handToChain(socket: net.Socket, ctx: ConnectionContext, chain: FilterChain): void {
    handToNetworkChain(chain.network, socket, ctx);
  }

  /**
   * No listener or filter chain takes the connection (or, through the dispatcher, its request):
   * Envoy's no_filter_chain_match, a line with flag NR in the listener's access log (Istio gives
   * every listener one for exactly this), and the observer hears of it; the connection closes.
   */
  noFilterChain(socket: Duplex | undefined, ctx: ConnectionContext, cfg: ListenerConfig | undefined, protocol = 'TCP'): void {
    const listener = cfg ?? this.listeners.get(ctx.listenerName)?.config;
    if (listener) this.listenerStats(listener.statPrefix).no_filter_chain_match.inc();
    else this.statsOf(ctx.listenerName).no_filter_chain_match.inc();
    const info = newStreamInfo(ctx.direction, protocol);
    info.listenerName = ctx.listenerName;
    info.downstreamRemoteAddress = ctx.remote;
    info.downstreamLocalAddress = ctx.local;
    info.responseFlags.add('NR');
    info.responseCodeDetails = 'filter_chain_not_found';
    info.durationMs = 0;
    if (ctx.destination !== undefined) info.authority = `${ctx.destination.host}:${ctx.destination.port}`;
    listener?.accessLog?.onConnectionClose(info);
    this.opts.observer.onRequestComplete(info);
    socket?.destroy();
  }

  private chainFor(ctx: ConnectionContext, dest: { host: string; port: number }): FilterChain | undefined {
    const target = this.listenerFor(dest) ?? this.listeners.get(ctx.listenerName)?.config;
    if (!target) return undefined;
    return selectChain(target, dest.port, 'http/1.1', dest.host);
  }

  /** Envoy warms a listener until the SDS secrets of its TLS chains are in: the first one missing, if any. */
  secretsMissing(): string | undefined {
    for (const al of this.listeners.values()) {
      for (const ch of allChains(al.config)) {
        const m = ch.tls?.notReady();
        if (m) return `listener ${al.config.name}: ${m}`;
      }
    }
    return undefined;
  }

  /** Resolves when every bound listener has bound (or failed). */
  async settled(): Promise<void> {
    await Promise.all([...this.listeners.values()].map((l) => l.bound));
  }

  /**
   * Drains listeners (Envoy's drain_listeners): their connections, and those accepted from now
   * on, are discouraged (HTTP/1.1 `connection: close`, HTTP/2 GOAWAY, idle HTTP/1.1 closed);
   * without `accept` the listeners stop accepting now.
   */
  drainListeners(opts: DrainListenersOptions): void {
    const now = Date.now();
    if (!opts.inboundOnly && this.drainingAll !== 'stopped') this.drainingAll = opts.accept ? 'accepting' : 'stopped';
    for (const al of this.selected(opts.inboundOnly)) {
      al.draining = true;
      if (!opts.accept) this.stopListener(al);
      const cfg = al.config;
      for (const ch of [...cfg.chains, ...(cfg.defaultChain ? [cfg.defaultChain] : [])]) ch.hcm?.drain();
      for (const s of this.conns.get(cfg) ?? []) {
        const ctx = ctxOf(s);
        if (ctx) markDraining(ctx, now);
      }
    }
    this.startSweep();
  }

  /**
   * POST /drain_listeners[?inboundonly][&graceful][&skip_exit]: without `graceful` the listeners
   * stop accepting now; with it they keep accepting (discouraged) for the drain time, then stop,
   * unless `skip_exit`. Either way their connections are drained; the process keeps running.
   */
  drainAll(opts: { inboundOnly?: boolean; graceful?: boolean; skipExit?: boolean } = {}): void {
    this.drainListeners({ inboundOnly: opts.inboundOnly, accept: !!opts.graceful });
    if (!opts.graceful || opts.skipExit) return;
    const t = setTimeout(() => {
      this.drainTimers.delete(t);
      this.stopAccepting(opts.inboundOnly);
    }, this.opts.drainTimeMs);
    t.unref();
    this.drainTimers.add(t);
  }

  /** Drained listeners close their listening sockets (a graceful drain period ended). */
  stopAccepting(inboundOnly?: boolean): void {
    if (!inboundOnly && this.drainingAll) this.drainingAll = 'stopped';
    for (const al of this.selected(inboundOnly)) this.stopListener(al);
  }

  /** Open downstream connections on every listener (admin ports excluded). */
  get openConnections(): number {
    return this.open.size;
  }

  /** Ends every downstream connection now (the end of a drain). */
  destroyConnections(): void {
    for (const s of this.open) s.destroy();
  }

  private selected(inboundOnly: boolean | undefined): ActiveListener[] {
    return [...this.listeners.values()].filter((al) => !inboundOnly || al.config.direction === 'inbound');
  }

  private stopListener(al: ActiveListener): void {
    const s = al.server;
    if (s?.listening) s.close();
  }

  private startSweep(): void {
    if (this.sweepTimer) return;
    const idleMs = this.opts.drainIdleMs ?? 1000;
    this.sweepTimer = setInterval(() => this.closeIdle(idleMs), Math.max(20, Math.min(200, idleMs / 4)));
    this.sweepTimer.unref();
  }

  /** Closes draining HTTP/1.1 connections that stayed idle (no request, no byte) for idleMs. */
  private closeIdle(idleMs: number): void {
    const now = Date.now();
    for (const s of this.open) {
      const read = (s as net.Socket).bytesRead ?? 0;
      if (this.bytesSeen.get(s) !== read) {
        // bytes arrived since the last sweep: a request may be on its way in
        this.bytesSeen.set(s, read);
        continue;
      }
      const idle = drainIdleMs(ctxOf(s), now);
      if (idle !== undefined && idle >= idleMs) s.destroy();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    for (const t of this.drainTimers) clearTimeout(t);
    const closing: Array<Promise<void>> = [];
    for (const al of this.listeners.values()) {
      const s = al.server;
      if (s?.listening) closing.push(new Promise((r) => s.close(() => r())));
    }
    for (const set of this.conns.values()) for (const s of set) s.destroy();
    this.listeners.clear();
    await Promise.all(closing);
  }
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '';
}

function ctxOf(s: Conn): ConnectionContext | undefined {
  return (s as unknown as Record<symbol, ConnectionContext | undefined>)[CONN_CTX];
}
