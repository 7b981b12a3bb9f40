/**
 * envoy.filters.network.connection_limit: at most `max_connections` connections at a time through
 * the filter chain it sits in (a per-listener limit when every chain has one). A connection over
 * the limit is closed, after `delay` if set (so a client cannot retry as fast as it likes), and
 * counted in `connection_limit.<stat_prefix>.limited_connections`; `active_connections` is a gauge.
 * `runtime_enabled` is read through its default value (Clew has no runtime layer).
 */
import { durationToMs } from '../../xds/codec.js';
import { CONNECTION_LIMIT_TYPE } from '../../xds/type-urls.js';
import type { Counter, Gauge, StatsStore } from '../../stats/stats-store.js';
import { StatsStore as PrivateStats } from '../../stats/stats-store.js';
import { fail } from '../core/errors.js';
import type { NetworkFilter, NetworkFilterCallbacks, NetworkFilterConfig, NetworkFilterFactory, NetworkParseContext } from '../filter-api/network-filter.js';

export interface ConnectionLimitConfig {
  statPrefix: string;
  maxConnections: number;
  delayMs: number;
  enabled: boolean;
}

const MAX_TIMER_MS = 2_147_483_647;

export function parseConnectionLimit(tc: Record<string, any>, where: string): ConnectionLimitConfig {
  const statPrefix = String(tc.stat_prefix ?? '');
  if (statPrefix === '') fail(`${where}: connection_limit stat_prefix is required`);
  const max = Number(tc.max_connections?.value ?? tc.max_connections);
  if (!Number.isInteger(max) || max < 1) fail(`${where}: connection_limit max_connections must be at least 1`);
  const delayMs = durationToMs(tc.delay) ?? 0;
  const rt = tc.runtime_enabled as Record<string, any> | undefined;
  return { statPrefix, maxConnections: max, delayMs: Math.min(delayMs, MAX_TIMER_MS), enabled: rt?.default_value?.value !== false };
}

/** One chain's limit (parsed once per LDS update): the count of connections it let through. */
export class ConnectionLimit implements NetworkFilterConfig {
  private active = 0;
  private readonly limited: Counter;
  private readonly activeGauge: Gauge;

  constructor(readonly name: string, readonly config: ConnectionLimitConfig, stats: StatsStore) {
    const s = stats.scope(`connection_limit.${config.statPrefix}.`);
    this.limited = s.counter('limited_connections');
    this.activeGauge = s.gauge('active_connections');
  }

  create(): NetworkFilter {
    let counted = false;
    let timer: NodeJS.Timeout | undefined;
    return {
      onNewConnection: (cb: NetworkFilterCallbacks) => {
        const c = this.config;
        if (!c.enabled) return 'continue';
        if (this.active >= c.maxConnections) {
          this.limited.inc();
          if (c.delayMs > 0) {
            // held unread, then closed: a client cannot retry as fast as it likes
            timer = setTimeout(() => cb.close('connection_limit'), c.delayMs);
            timer.unref();
          } else cb.close('connection_limit');
          return 'stop';
        }
        counted = true;
        this.active++;
        this.activeGauge.inc();
        return 'continue';
      },
      onDestroy: () => {
        clearTimeout(timer);
        if (!counted) return;
        counted = false;
        this.active--;
        this.activeGauge.dec();
      },
    };
  }
}

export const connectionLimitFactory: NetworkFilterFactory<NetworkParseContext> = {
  typeUrls: [CONNECTION_LIMIT_TYPE],
  parse: (config, name, ctx) => new ConnectionLimit(name, parseConnectionLimit(config, `connection_limit ${name}`), ctx.telemetry?.stats ?? new PrivateStats()),
};
