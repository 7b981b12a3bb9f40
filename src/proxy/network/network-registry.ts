/**
 * The explicit list of network filters the proxy implements, by typed_config type URL (a
 * TypedStruct by its inner type_url): terminals (HttpConnectionManager, TcpProxy) and the filters
 * before them. A chain whose filter type is not listed is refused (NACK), so a policy filter the
 * proxy cannot run is never skipped silently.
 */
import { HCM_TYPE, ISTIO_STATS_TYPE, TCP_PROXY_TYPE } from '../../xds/type-urls.js';
import { fail } from '../core/errors.js';
import type { NetworkFilterConfig, NetworkFilterFactory, NetworkParseContext, NetworkTerminal } from '../filter-api/network-filter.js';
import { filterConfigOf, filterTypeUrl } from '../filters/registry.js';
import { HttpConnectionManager } from '../http/connection-manager.js';
import { parseHcm, type HcmParseContext } from '../http/hcm-config.js';
import type { NetworkChain } from './network-chain.js';
import { networkRbacFactory } from '../filters/rbac/rbac-network.js';
import { connectionLimitFactory } from './connection-limit.js';
import { parseTcpProxy, TcpProxy } from './tcp-proxy.js';

export type ChainParseContext = NetworkParseContext & HcmParseContext & {
  /** the listener's per_connection_buffer_limit_bytes (the HCM's buffer limit for retries and mirrors) */
  bufferLimitBytes?: number;
};

const hcmFactory: NetworkFilterFactory<ChainParseContext> = {
  typeUrls: [HCM_TYPE],
  parseTerminal: (config, _name, ctx) => {
    const cfg = parseHcm(config, ctx);
    if (ctx.bufferLimitBytes !== undefined) cfg.bufferLimitBytes = ctx.bufferLimitBytes;
    return new HttpConnectionManager(cfg, { observer: ctx.observer });
  },
};

const tcpProxyFactory: NetworkFilterFactory<ChainParseContext> = {
  typeUrls: [TCP_PROXY_TYPE],
  parseTerminal: (config, _name, ctx, chainFilters) => new TcpProxy(parseTcpProxy(config, ctx.resolveCluster, ctx.telemetry, chainFilters), ctx.observer),
};

/** istio.stats before tcp_proxy: the TCP proxy reads it for Istio's TCP metrics; nothing runs per connection */
const istioStatsNetworkFactory: NetworkFilterFactory<ChainParseContext> = {
  typeUrls: [ISTIO_STATS_TYPE],
  parse: (_config, name) => ({ name, completionOnly: true, create: () => ({ onNewConnection: () => 'continue' }) }),
};

export const NETWORK_FILTER_FACTORIES: readonly NetworkFilterFactory<ChainParseContext>[] = [
  istioStatsNetworkFactory,
  connectionLimitFactory,
  networkRbacFactory,
  hcmFactory,
  tcpProxyFactory,
];

const byType = new Map<string, NetworkFilterFactory<ChainParseContext>>();
for (const f of NETWORK_FILTER_FACTORIES) for (const t of f.typeUrls) byType.set(t, f);

export interface ParsedNetworkChain extends NetworkChain {
  hcm: HttpConnectionManager | undefined;
  tcp: TcpProxy | undefined;
}

/** A filter chain's `filters`: every one known, exactly one terminal, and it is the last. */
export function parseNetworkFilters(list: ReadonlyArray<Record<string, any>>, ctx: ChainParseContext, where: string): ParsedNetworkChain {
  const filters: NetworkFilterConfig[] = [];
  let terminal: NetworkTerminal | undefined;
  list.forEach((f, i) => {
    const name = String(f?.name ?? '');
    const typed = f?.typed_config as Record<string, any> | undefined;
    const typeUrl = filterTypeUrl(typed);
    const factory = byType.get(typeUrl);
    if (!factory) fail(`${where}: Didn't find a registered implementation for '${name}' with type URL: '${typeUrl.replace('type.googleapis.com/', '')}'`);
    if (terminal !== undefined) fail(`${where}: filters[${i}] ${name}: a terminal filter (${filterTypeUrl(list[i - 1]?.typed_config).replace(/.*\./, '')}) must be the last in the chain`);
    const config = filterConfigOf(typed);
    if (factory.parseTerminal) terminal = factory.parseTerminal(config, name, ctx, list);
    else {
      const cfg = factory.parse!(config, name, ctx);
      if (!cfg.completionOnly) filters.push(cfg);
    }
  });
  if (!terminal) fail(`${where}: no terminal filter (HttpConnectionManager or TcpProxy)`);
  return {
    filters,
    terminal,
    hcm: terminal instanceof HttpConnectionManager ? terminal : undefined,
    tcp: terminal instanceof TcpProxy ? terminal : undefined,
  };
}
