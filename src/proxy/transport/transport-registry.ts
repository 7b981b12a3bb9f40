/**
 * The explicit list of upstream transport sockets, by typed_config type URL, and a cluster's
 * transports: `transport_socket` (default raw_buffer) plus `transport_socket_matches`, chosen per
 * endpoint by its `envoy.transport_socket_match` metadata (Envoy's first-match order; an entry
 * with an empty match takes every endpoint). Parsing is pure (NACK on anything unknown); the
 * runtime transports are made once per cluster.
 */
import type { Scope } from '../../stats/stats-store.js';
import { structToJson } from '../../xds/struct.js';
import { fail } from '../core/errors.js';
import type { SecretProvider } from '../secret/secret-types.js';
import { RAW_BUFFER, RAW_BUFFER_TYPE } from './raw-buffer.js';
import { onlyKnown, parseUpstreamTlsContext, type UpstreamTlsConfig } from './tls-config.js';
import { tlsStats, type TlsStats } from './tls-stats.js';
import { TlsUpstreamTransport } from './tls-upstream.js';
import type { UpstreamTransport } from '../core/transport-socket.js';

export const UPSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const DOWNSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
/** endpoint (and locality) metadata namespace read by transport_socket_matches */
export const TRANSPORT_SOCKET_MATCH_KEY = 'envoy.transport_socket_match';

export interface TransportEnv {
  secrets: SecretProvider;
  /** lazily: the `ssl.*` stats of the cluster (only TLS transports ask) */
  tlsStats(): TlsStats;
  /** a secret of one of the transports changed (cluster readiness may change) */
  onSecretChange(): void;
  /** upstream_bind_config: every connection binds this local address (Istio's 127.0.0.6 inbound) */
  sourceAddress?: string;
  /**
   * local mode: connections to a loopback address (another pod on this machine) bind the pod's own
   * address, so the peer sees the caller's pod address as in a cluster (`ipBlocks`, `source.ip`)
   */
  loopbackSourceAddress?: string;
}

export interface UpstreamTransportFactory<C> {
  readonly name: string;
  readonly typeUrl: string;
  parse(typed: Record<string, any>, where: string): C;
  create(config: C, env: TransportEnv): UpstreamTransport;
}

const rawBufferFactory: UpstreamTransportFactory<undefined> = {
  name: 'envoy.transport_sockets.raw_buffer',
  typeUrl: RAW_BUFFER_TYPE,
  parse: (typed, where) => {
    onlyKnown(typed, [], where);
    return undefined;
  },
  create: () => RAW_BUFFER,
};

const tlsFactory: UpstreamTransportFactory<UpstreamTlsConfig> = {
  name: 'envoy.transport_sockets.tls',
  typeUrl: UPSTREAM_TLS_TYPE,
  parse: (typed, where) => parseUpstreamTlsContext(typed, where),
  create: (config, env) => new TlsUpstreamTransport(config, env.secrets, env.tlsStats(), () => env.onSecretChange()),
};

export const UPSTREAM_TRANSPORT_SOCKETS: ReadonlyArray<UpstreamTransportFactory<any>> = [rawBufferFactory, tlsFactory];

const byType = new Map(UPSTREAM_TRANSPORT_SOCKETS.map((f) => [f.typeUrl, f]));

export interface ParsedTransportSocket {
  factory: UpstreamTransportFactory<unknown>;
  config: unknown;
}

const RAW: ParsedTransportSocket = { factory: rawBufferFactory as UpstreamTransportFactory<unknown>, config: undefined };

/** envoy.config.core.v3.TransportSocket of a cluster (undefined = raw_buffer). */
export function parseUpstreamTransportSocket(ts: Record<string, any> | undefined, where: string): ParsedTransportSocket {
  if (!ts) return RAW;
  onlyKnown(ts, ['name', 'typed_config'], where);
  const typed = ts.typed_config as Record<string, any> | undefined;
  if (!typed) {
    const name = String(ts.name ?? '');
    if (name === 'envoy.transport_sockets.raw_buffer' || name === 'raw_buffer') return RAW;
    fail(`${where}: transport socket ${JSON.stringify(name)} without typed_config is not supported`);
  }
  const url = String(typed['@type'] ?? typed.type_url ?? '');
  if (url === DOWNSTREAM_TLS_TYPE) fail(`${where}: a cluster's transport socket must be an UpstreamTlsContext, not ${url}`);
  const f = byType.get(url);
  if (!f) fail(`${where}: transport socket type ${url || '(none)'} is not implemented by this proxy (supported: ${[...byType.keys()].join(', ')})`);
  return { factory: f as UpstreamTransportFactory<unknown>, config: f.parse(typed, `${where}.typed_config`) };
}

export interface TransportMatch {
  name: string;
  /** metadata key -> value, compared as JSON */
  match: Array<[string, string]>;
  socket: ParsedTransportSocket;
}

export interface ClusterTransportConfig {
  defaultSocket: ParsedTransportSocket;
  matches: TransportMatch[];
}

export function parseClusterTransports(c: Record<string, any>, where: string): ClusterTransportConfig {
  const matches = ((c.transport_socket_matches ?? []) as Array<Record<string, any>>).map((m, i): TransportMatch => {
    const w = `${where}.transport_socket_matches[${i}]`;
    onlyKnown(m, ['name', 'match', 'transport_socket'], w);
    const json = m.match ? structToJson(m.match) : {};
    return {
      name: String(m.name ?? `match-${i}`),
      match: Object.entries(json).map(([k, v]) => [k, JSON.stringify(v)]),
      socket: parseUpstreamTransportSocket(m.transport_socket, `${w}.transport_socket`),
    };
  });
  return { defaultSocket: parseUpstreamTransportSocket(c.transport_socket, `${where}.transport_socket`), matches };
}

/** The value of `envoy.transport_socket_match` metadata of an endpoint (plain JSON), if any. */
export function endpointTransportMetadata(metadata: Record<string, any> | undefined): Record<string, unknown> | undefined {
  const fm = metadata?.filter_metadata?.[TRANSPORT_SOCKET_MATCH_KEY];
  return fm ? structToJson(fm) : undefined;
}

/** A cluster's transports, made once per cluster; endpoints pick theirs by metadata. */
export class ClusterTransports {
  readonly defaultTransport: UpstreamTransport;
  private readonly matched: Array<{ match: TransportMatch; transport: UpstreamTransport }>;

  constructor(cfg: ClusterTransportConfig, env: TransportEnv) {
    const make = (s: ParsedTransportSocket): UpstreamTransport => bindSource(s.factory.create(s.config, env), env.sourceAddress, env.loopbackSourceAddress);
    this.defaultTransport = make(cfg.defaultSocket);
    this.matched = cfg.matches.map((m) => ({ match: m, transport: make(m.socket) }));
  }

  /** The transport of an endpoint and the name of the match entry that chose it ('' = default). */
  forEndpoint(meta: Record<string, unknown> | undefined): { transport: UpstreamTransport; matchName: string } {
    for (const { match, transport } of this.matched) {
      if (match.match.every(([k, v]) => meta !== undefined && JSON.stringify(meta[k]) === v)) return { transport, matchName: match.name };
    }
    return { transport: this.defaultTransport, matchName: '' };
  }

  /** Every transport this cluster may use (readiness: secrets to wait for). */
  all(): UpstreamTransport[] {
    return [this.defaultTransport, ...this.matched.map((m) => m.transport)];
  }

  close(): void {
    for (const t of this.all()) t.close();
  }
}

/** an IPv4 loopback literal (127.0.0.0/8) */
export function isLoopbackV4(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * A transport whose connections bind `address` (upstream_bind_config), or, without one, bind
 * `loopbackAddress` when they go to a loopback address; itself when neither is set.
 */
export function bindSource(t: UpstreamTransport, address: string | undefined, loopbackAddress?: string): UpstreamTransport {
  if (address === undefined && loopbackAddress === undefined) return t;
  const local = (host: string): string | undefined => address ?? (isLoopbackV4(host) ? loopbackAddress : undefined);
  return {
    kind: t.kind,
    secure: t.secure,
    alpn: t.alpn,
    readyEvent: t.readyEvent,
    connect: (host, port, opts) => {
      const la = local(host);
      return t.connect(host, port, la === undefined ? opts : { ...opts, localAddress: la });
    },
    failureReason: (s) => t.failureReason(s),
    connectionInfo: (s) => t.connectionInfo(s),
    notReady: () => t.notReady(),
    close: () => t.close(),
  };
}

/** the ssl.* stats under a cluster's scope, made on first use */
export function lazyTlsStats(scope: Scope): () => TlsStats {
  let s: TlsStats | undefined;
  return () => (s ??= tlsStats(scope));
}
