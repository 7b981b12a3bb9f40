/**
 * envoy.filters.network.connection_limit: at most `max_connections` connections at a time through
 * the filter chain it sits in (a per-listener limit when every chain has one). A connection over
 * the limit is closed, after `delay` if set (so a client cannot retry as fast as it likes), and
 * counted in `connection_limit.<stat_prefix>.limited_connections`; `active_connections` is a gauge.
 * `runtime_enabled` is read through its default value (Clew has no runtime layer).
 */
import type { Duplex } from 'node:stream';
import { durationToMs } from '../../xds/codec.js';
import type { Counter, Gauge, StatsStore } from '../../stats/stats-store.js';
import { fail } from '../errors.js';

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

export class ConnectionLimit {
  private active = 0;
  private readonly limited: Counter;
  private readonly activeGauge: Gauge;

  constructor(readonly config: ConnectionLimitConfig, stats: StatsStore) {
    const s = stats.scope(`connection_limit.${config.statPrefix}.`);
    this.limited = s.counter('limited_connections');
    this.activeGauge = s.gauge('active_connections');
  }

  /** true: the connection may go on (and is counted until it closes); false: it is being closed */
  admit(socket: Duplex): boolean {
    const c = this.config;
    if (!c.enabled) return true;
    if (this.active >= c.maxConnections) {
      this.limited.inc();
      socket.pause();
      if (c.delayMs > 0) {
        const t = setTimeout(() => socket.destroy(), c.delayMs);
        t.unref();
        socket.once('close', () => clearTimeout(t));
      } else socket.destroy();
      return false;
    }
    this.active++;
    this.activeGauge.inc();
    socket.once('close', () => {
      this.active--;
      this.activeGauge.dec();
    });
    return true;
  }
}
