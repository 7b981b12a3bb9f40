/**
 * Listener resource -> ListenerConfig, parsed once per LDS update: address, bind_to_port,
 * use_original_dst, and filter chains with their match and terminal network filter (HTTP
 * connection manager or TcpProxy). Anything invalid throws (NACK).
 */
import { HCM_TYPE, ORIGINAL_DST_LISTENER_FILTER_TYPE, TCP_PROXY_TYPE } from '../../xds/type-urls.js';
import { fail } from '../errors.js';
import { HttpConnectionManager } from '../http/connection-manager.js';
import { parseHcm, type HcmParseContext } from '../http/hcm-config.js';
import { parseTcpProxy, TcpProxy } from '../network/tcp-proxy.js';
import type { RequestObserver } from '../observer.js';

export interface FilterChainMatch {
  destinationPort: number | undefined;
  /** IPv4 prefix_ranges as [network, mask] */
  prefixRanges: Array<[number, number]>;
  transportProtocol: string | undefined;
  applicationProtocols: string[];
}

export interface FilterChain {
  name: string;
  match: FilterChainMatch;
  hcm: HttpConnectionManager | undefined;
  tcp: TcpProxy | undefined;
}

export interface ListenerConfig {
  name: string;
  address: string;
  port: number;
  /** additional_addresses (a service's other virtual IPs on a `<vip>_<port>` listener) */
  additionalAddresses: string[];
  bindToPort: boolean;
  useOriginalDst: boolean;
  /** listener_filters has envoy.filters.listener.original_dst: chains match the original destination */
  originalDstFilter: boolean;
  /** `transparent`: the socket accepts connections to any address (TPROXY; IP_TRANSPARENT) */
  transparent: boolean;
  direction: 'inbound' | 'outbound';
  chains: FilterChain[];
  defaultChain: FilterChain | undefined;
  raw: Record<string, any>;
}

export interface ListenerParseContext extends HcmParseContext {
  observer: RequestObserver;
  /** port/address overrides (virtualOutbound/virtualInbound flags, local-mode address) */
  bindOverride(name: string, address: string, port: number): { address: string; port: number };
  proxyAddress: string;
}

function parseChain(fc: Record<string, any>, ctx: ListenerParseContext, listenerName: string): FilterChain {
  const m = (fc.filter_chain_match ?? {}) as Record<string, any>;
  const chain: FilterChain = {
    name: String(fc.name ?? ''),
    match: {
      destinationPort: m.destination_port?.value ?? (typeof m.destination_port === 'number' ? m.destination_port : undefined),
      prefixRanges: ((m.prefix_ranges ?? []) as Array<Record<string, any>>).flatMap((r) => {
        const ip = ipv4(String(r.address_prefix ?? ''));
        if (ip === undefined) return [];
        const len = Number(r.prefix_len?.value ?? r.prefix_len ?? 32);
        const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
        return [[(ip & mask) >>> 0, mask] as [number, number]];
      }),
      transportProtocol: m.transport_protocol || undefined,
      applicationProtocols: (m.application_protocols ?? []) as string[],
    },
    hcm: undefined,
    tcp: undefined,
  };
  for (const f of (fc.filters ?? []) as Array<Record<string, any>>) {
    const t = String(f.typed_config?.['@type'] ?? '');
    if (t === HCM_TYPE) chain.hcm = new HttpConnectionManager(parseHcm(f.typed_config, ctx), { observer: ctx.observer });
    else if (t === TCP_PROXY_TYPE) chain.tcp = new TcpProxy(parseTcpProxy(f.typed_config, ctx.resolveCluster, ctx.telemetry, fc.filters ?? []), ctx.observer);
    // Other network filters (metadata exchange, RBAC ...) are not terminal; not implemented yet.
  }
  if (!chain.hcm && !chain.tcp) fail(`listener ${listenerName}: filter chain ${chain.name} has no HttpConnectionManager or TcpProxy`);
  return chain;
}

export function parseListener(l: Record<string, any>, ctx: ListenerParseContext): ListenerConfig {
  const name = String(l.name ?? '');
  if (!name) fail('listener without name');
  const sa = l.address?.socket_address;
  if (!sa && !l.api_listener) fail(`listener ${name}: no socket address`);
  let address = String(sa?.address ?? '0.0.0.0');
  let port = Number(sa?.port_value ?? 0);
  const bindToPort = l.bind_to_port?.value !== false && !l.api_listener;
  if (bindToPort) ({ address, port } = ctx.bindOverride(name, address, port));
  const chains = ((l.filter_chains ?? []) as Array<Record<string, any>>).map((fc) => parseChain(fc, ctx, name));
  const defaultChain = l.default_filter_chain ? parseChain(l.default_filter_chain, ctx, name) : undefined;
  let direction: 'inbound' | 'outbound' = 'outbound';
  if (l.traffic_direction === 'INBOUND' || name === 'virtualInbound') direction = 'inbound';
  else if (l.traffic_direction !== 'OUTBOUND' && name !== 'virtualOutbound' && ctx.proxyAddress && address === ctx.proxyAddress && l.bind_to_port?.value !== false) {
    direction = 'inbound';
  }
  return {
    name,
    address,
    port,
    additionalAddresses: ((l.additional_addresses ?? []) as Array<Record<string, any>>)
      .map((a) => a.address?.socket_address?.address)
      .filter((a): a is string => typeof a === 'string' && a !== ''),
    bindToPort,
    useOriginalDst: l.use_original_dst?.value === true,
    originalDstFilter: ((l.listener_filters ?? []) as Array<Record<string, any>>).some(
      (f) => f.name === 'envoy.filters.listener.original_dst' || f.typed_config?.['@type'] === ORIGINAL_DST_LISTENER_FILTER_TYPE,
    ),
    transparent: l.transparent?.value === true,
    direction,
    chains,
    defaultChain,
    raw: l,
  };
}

export function ipv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/**
 * Envoy's filter chain match, reduced to what we can observe: destination port first (exact
 * beats unset), destination IP prefix ranges (a hostname destination, as in local mode, cannot be
 * told apart and matches any range), then application protocol ('http/1.1'/'h2c' when sniffed
 * HTTP); TLS chains are skipped (no TLS yet).
 */
export function selectChain(cfg: ListenerConfig, destPort: number | undefined, appProtocol: string | undefined, destHost?: string): FilterChain | undefined {
  let best: FilterChain | undefined;
  let bestScore = -1;
  const destIp = destHost !== undefined ? ipv4(destHost) : undefined;
  for (const c of cfg.chains) {
    const m = c.match;
    if (m.transportProtocol && m.transportProtocol !== 'raw_buffer') continue;
    let score = 0;
    if (m.destinationPort !== undefined) {
      if (m.destinationPort !== destPort) continue;
      score += 8;
    }
    if (m.prefixRanges.length > 0 && destIp !== undefined) {
      if (!m.prefixRanges.some(([net, mask]) => ((destIp & mask) >>> 0) === net)) continue;
      score += 4;
    }
    if (m.applicationProtocols.length > 0) {
      if (!appProtocol || !m.applicationProtocols.includes(appProtocol)) continue;
      score += 2;
    }
    if (m.transportProtocol) score += 1;
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best ?? cfg.defaultChain;
}

/**
 * Whether the first bytes must be read to pick a chain: only when a chain that can match this
 * destination port selects on the application protocol (so a server-first protocol on any
 * other port is not held up waiting for the client to speak).
 */
export function needsAppProtocol(cfg: ListenerConfig, destPort?: number): boolean {
  return cfg.chains.some((c) => c.match.applicationProtocols.length > 0 && (c.match.destinationPort === undefined || destPort === undefined || c.match.destinationPort === destPort));
}

/** 'http/1.1' or 'h2c' when the first bytes look like HTTP, else undefined. */
export function detectAppProtocol(chunk: Buffer): string | undefined {
  if (chunk.subarray(0, 3).toString('latin1') === 'PRI') return 'h2c';
  return /^(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE) /.test(chunk.subarray(0, 10).toString('latin1')) ? 'http/1.1' : undefined;
}
