/**
 * Listener resource -> ListenerConfig, parsed once per LDS update: address, bind_to_port,
 * use_original_dst, and filter chains with their match and terminal network filter (HTTP
 * connection manager or TcpProxy). Anything invalid throws (NACK).
 */
import { ORIGINAL_DST_LISTENER_FILTER_TYPE } from '../../xds/type-urls.js';
import { durationToMs } from '../../xds/codec.js';
import type { TcpTelemetry } from '../telemetry/telemetry-stream.js';
import { RAW_BUFFER_TYPE } from '../transport/raw-buffer.js';
import { onlyKnown, parseDownstreamTlsContext } from '../transport/tls-config.js';
import { DownstreamTlsTransport } from '../transport/tls-downstream.js';
import { DOWNSTREAM_TLS_TYPE, UPSTREAM_TLS_TYPE } from '../transport/transport-registry.js';
import { NO_SECRETS, type SecretProvider } from '../secret/secret-types.js';
import { needsAppProtocols, needsTlsInspection, parseFilterChainMatch, selectByMatch, type ChainQuery, type FilterChainMatch } from './filter-chain-match.js';

export type { ChainQuery, FilterChainMatch } from './filter-chain-match.js';
import { fail } from '../core/errors.js';
import type { HttpConnectionManager } from '../http/connection-manager.js';
import type { TcpProxy } from '../network/tcp-proxy.js';
import type { NetworkChain } from '../network/network-chain.js';
import { parseNetworkFilters, type ChainParseContext } from '../network/network-registry.js';
import type { RequestObserver } from '../core/observer.js';
import type { SharedFilterResources } from '../filter-api/http-filter.js';
import { SharedResources } from '../filter-api/shared-resources.js';

export interface FilterChain {
  name: string;
  match: FilterChainMatch;
  /** the chain's DownstreamTlsContext (transport_socket tls); undefined = raw_buffer */
  tls: DownstreamTlsTransport | undefined;
  /** the network filters and the terminal */
  network: NetworkChain;
  /** the terminal when it is an HCM (the local-mode dispatcher hands it requests) */
  hcm: HttpConnectionManager | undefined;
  /** the terminal when it is a TCP proxy */
  tcp: TcpProxy | undefined;
}

export interface ListenerConfig {
  name: string;
  address: string;
  /** where it binds: the resource's port unless the proxy binds it elsewhere (`--remap-port`, `--outbound-port`) */
  port: number;
  /**
   * the port in the listener resource, when it binds elsewhere: connections report it as their
   * local port (RBAC destination_port, chain matching), as the pod's own port (local mode with
   * per-pod ports binds workload port 9080 on a port of its own)
   */
  resourcePort?: number;
  /** additional_addresses (a service's other virtual IPs on a `<vip>_<port>` listener) */
  additionalAddresses: string[];
  bindToPort: boolean;
  useOriginalDst: boolean;
  direction: 'inbound' | 'outbound';
  chains: FilterChain[];
  defaultChain: FilterChain | undefined;
  /** the original_dst listener filter: the connection's original destination is what chains match on */
  originalDst: boolean;
  /** read the first bytes for a ClientHello (tls_inspector, or a chain that matches on TLS facts) */
  inspectTls: boolean;
  /** read the first bytes for the application protocol (http_inspector, or a chain matching on it) */
  inspectApp: boolean;
  /** an explicit http_inspector: every connection is inspected, whatever its port */
  httpInspector: boolean;
  /** `transparent`: the socket accepts connections to any address (TPROXY; IP_TRANSPARENT) */
  transparent: boolean;
  /**
   * listener_filters_timeout: how long the inspectors wait for a connection's first bytes
   * (Envoy's default 15 s; 0 = no limit). On expiry the connection is closed, or, with
   * continue_on_listener_filters_timeout, handed to a chain with what is known (plaintext).
   */
  listenerFiltersTimeoutMs: number;
  continueOnListenerFiltersTimeout: boolean;
  /**
   * where its `listener.<prefix>.*` stats go: stat_prefix, else the configured address as Envoy
   * names it (`0.0.0.0_15001`), which the Prometheus tag extractor turns into listener_address
   */
  statPrefix: string;
  /** ignore_global_conn_limit: connections here are not refused by the global downstream limit */
  ignoreGlobalConnLimit: boolean;
  /** the listener's own access_log: a line for each connection refused before any filter chain (flag NR) */
  accessLog: TcpTelemetry | undefined;
  raw: Record<string, any>;
}

export interface ListenerParseContext extends Omit<ChainParseContext, 'shared'> {
  observer: RequestObserver;
  shared?: SharedFilterResources;
  /** port/address overrides (virtualOutbound/virtualInbound flags, local-mode address) */
  bindOverride(name: string, address: string, port: number): { address: string; port: number };
  proxyAddress: string;
  /** SDS secrets of the chains' TLS contexts (default: none) */
  secrets?: SecretProvider;
  /** a secret of an active chain changed (readiness may change) */
  onSecretChange?: () => void;
}

/** Envoy's listener_filters_timeout when the listener does not set one */
export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

const HTTP_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector';
const TLS_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
/** listener filters this proxy implements (original_dst: the resolver; inspectors: listener-manager.ts) */
const LISTENER_FILTERS = new Set([ORIGINAL_DST_LISTENER_FILTER_TYPE, HTTP_INSPECTOR_TYPE, TLS_INSPECTOR_TYPE]);

function parseDownstreamTransport(ts: Record<string, any> | undefined, where: string, ctx: ListenerParseContext): DownstreamTlsTransport | undefined {
  if (!ts) return undefined;
  onlyKnown(ts, ['name', 'typed_config'], where);
  const typed = ts.typed_config as Record<string, any> | undefined;
  const url = String(typed?.['@type'] ?? '');
  if (!typed) {
    if (ts.name === 'envoy.transport_sockets.raw_buffer' || ts.name === 'raw_buffer') return undefined;
    fail(`${where}: transport socket ${JSON.stringify(ts.name ?? '')} without typed_config is not supported`);
  }
  if (url === RAW_BUFFER_TYPE) {
    onlyKnown(typed, [], `${where}.typed_config`);
    return undefined;
  }
  if (url === DOWNSTREAM_TLS_TYPE) return new DownstreamTlsTransport(parseDownstreamTlsContext(typed, `${where}.typed_config`), ctx.secrets ?? NO_SECRETS, ctx.onSecretChange);
  if (url === UPSTREAM_TLS_TYPE) fail(`${where}: a filter chain's transport socket must be a DownstreamTlsContext, not ${url}`);
  fail(`${where}: transport socket type ${url || '(none)'} is not implemented by this proxy`);
}

function parseChain(fc: Record<string, any>, ctx: ListenerParseContext, listenerName: string, bufferLimitBytes: number | undefined): FilterChain {
  const where = `listener ${listenerName}: filter chain ${fc.name ?? ''}`;
  onlyKnown(fc, ['name', 'filter_chain_match', 'filters', 'transport_socket', 'metadata', 'transport_socket_connect_timeout'], where);
  const match = parseFilterChainMatch(fc.filter_chain_match, `${where}: filter_chain_match`);
  const tls = parseDownstreamTransport(fc.transport_socket, `${where}: transport_socket`, ctx);
  const net = parseNetworkFilters((fc.filters ?? []) as Array<Record<string, any>>, { ...ctx, shared: ctx.shared ?? new SharedResources(), bufferLimitBytes }, where);
  return { name: String(fc.name ?? ''), match, tls, network: net, hcm: net.hcm, tcp: net.tcp };
}

export function parseListener(l: Record<string, any>, ctx: ListenerParseContext): ListenerConfig {
  const name = String(l.name ?? '');
  if (!name) fail('listener without name');
  const sa = l.address?.socket_address;
  if (!sa && !l.api_listener) fail(`listener ${name}: no socket address`);
  let address = String(sa?.address ?? '0.0.0.0');
  let port = Number(sa?.port_value ?? 0);
  const bindToPort = l.bind_to_port?.value !== false && !l.api_listener;
  const filterTypes = ((l.listener_filters ?? []) as Array<Record<string, any>>).map((f, i) => {
    const t = String(f.typed_config?.['@type'] ?? '');
    if (!LISTENER_FILTERS.has(t)) fail(`listener ${name}: listener_filters[${i}] ${f.name ?? ''} (${t || 'no typed_config'}): not implemented by this proxy`);
    if (f.filter_disabled) fail(`listener ${name}: listener_filters[${i}].filter_disabled: not implemented by this proxy`);
    return t;
  });
  const statPrefix = typeof l.stat_prefix === 'string' && l.stat_prefix !== '' ? l.stat_prefix : `${address.includes(':') ? `[${address}]` : address}_${port}`;
  const resourcePort = port;
  if (bindToPort) ({ address, port } = ctx.bindOverride(name, address, port));
  const limitRaw = l.per_connection_buffer_limit_bytes?.value;
  const bufferLimitBytes = limitRaw === undefined ? undefined : Number(limitRaw);
  const chains = ((l.filter_chains ?? []) as Array<Record<string, any>>).map((fc) => parseChain(fc, ctx, name, bufferLimitBytes));
  const defaultChain = l.default_filter_chain ? parseChain(l.default_filter_chain, ctx, name, bufferLimitBytes) : undefined;
  let direction: 'inbound' | 'outbound' = 'outbound';
  if (l.traffic_direction === 'INBOUND' || name === 'virtualInbound') direction = 'inbound';
  else if (l.traffic_direction !== 'OUTBOUND' && name !== 'virtualOutbound' && ctx.proxyAddress && address === ctx.proxyAddress && l.bind_to_port?.value !== false) {
    direction = 'inbound';
  }
  return {
    name,
    address,
    port,
    ...(port !== resourcePort ? { resourcePort } : {}),
    additionalAddresses: ((l.additional_addresses ?? []) as Array<Record<string, any>>)
      .map((a) => a.address?.socket_address?.address)
      .filter((a): a is string => typeof a === 'string' && a !== ''),
    bindToPort,
    useOriginalDst: l.use_original_dst?.value === true,
    direction,
    chains,
    defaultChain,
    originalDst: filterTypes.includes(ORIGINAL_DST_LISTENER_FILTER_TYPE),
    inspectTls: filterTypes.includes(TLS_INSPECTOR_TYPE) || needsTlsInspection(chains.map((c) => c.match)),
    inspectApp: filterTypes.includes(HTTP_INSPECTOR_TYPE) || needsAppProtocols(chains.map((c) => c.match)),
    httpInspector: filterTypes.includes(HTTP_INSPECTOR_TYPE),
    transparent: l.transparent?.value === true,
    listenerFiltersTimeoutMs: durationToMs(l.listener_filters_timeout) ?? DEFAULT_LISTENER_FILTERS_TIMEOUT_MS,
    continueOnListenerFiltersTimeout: l.continue_on_listener_filters_timeout === true,
    statPrefix,
    ignoreGlobalConnLimit: l.ignore_global_conn_limit === true,
    accessLog: Array.isArray(l.access_log) && l.access_log.length > 0 ? ctx.telemetry?.tcpFromXds({ access_log: l.access_log }, undefined) : undefined,
    raw: l,
  };
}

/** Every chain of a listener (the default chain too). */
export function allChains(cfg: ListenerConfig): FilterChain[] {
  return cfg.defaultChain ? [...cfg.chains, cfg.defaultChain] : cfg.chains;
}

/**
 * Whether a connection to `port` is held until its first bytes show the application protocol:
 * with an http_inspector always, else only when a chain that can match this port selects on it
 * (so a server-first protocol on another port is not held up waiting for the client to speak).
 */
export function inspectsAppOn(cfg: ListenerConfig, port: number | undefined): boolean {
  if (!cfg.inspectApp) return false;
  if (cfg.httpInspector || port === undefined) return true;
  return cfg.chains.some((c) => c.match.applicationProtocols.length > 0 && (c.match.destinationPort === undefined || c.match.destinationPort === port));
}

/** A connection's filter chain (filter-chain-match.ts), else the default chain. */
export function selectChainFor(cfg: ListenerConfig, q: ChainQuery): FilterChain | undefined {
  return selectByMatch(cfg.chains, q) ?? cfg.defaultChain;
}

/** Plaintext selection by port, sniffed app protocol and destination (tests, per-request dispatch). */
export function selectChain(cfg: ListenerConfig, destPort: number | undefined, appProtocol: string | undefined, destHost?: string): FilterChain | undefined {
  return selectChainFor(cfg, {
    destinationPort: destPort,
    destinationHost: destHost,
    serverName: undefined,
    transportProtocol: 'raw_buffer',
    applicationProtocols: appProtocol ? [appProtocol] : [],
    sourceAddress: undefined,
    sourcePort: undefined,
    localAddress: undefined,
  });
}

/**
 * envoy.filters.listener.http_inspector: 'h2c' for the HTTP/2 preface, 'http/1.0' or 'http/1.1'
 * for an HTTP/1.x request line (1.1 when the line is not complete yet), else undefined.
 */
export function detectAppProtocol(chunk: Buffer): string | undefined {
  if (chunk.subarray(0, 3).toString('latin1') === 'PRI') return 'h2c';
  const head = chunk.subarray(0, 2048).toString('latin1');
  if (!/^(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE) /.test(head)) return undefined;
  const eol = head.indexOf('\r\n');
  return eol > 0 && head.slice(0, eol).endsWith(' HTTP/1.0') ? 'http/1.0' : 'http/1.1';
}
