/**
 * Envoy's listener stats (`listener.<stat_prefix or address>.*`): connections accepted, active and closed, and the
 * three ways a connection is refused before any filter sees it: the global downstream connection
 * limit (overload manager), a connection_limit filter on its chain (per listener), and no filter
 * chain matching it. Handles are resolved once per listener name.
 */
import type { Counter, Gauge, StatsStore } from '../../stats/stats-store.js';

export interface ListenerStats {
  downstream_cx_total: Counter;
  downstream_cx_active: Gauge;
  downstream_cx_destroy: Counter;
  /** refused by the global downstream connection limit (--max-downstream-connections) */
  downstream_global_cx_overflow: Counter;
  /** no filter chain matched the connection (or its request's destination) */
  no_filter_chain_match: Counter;
  /** idle HTTP/1.1 connections of this listener closed to make room under the global limit */
  downstream_cx_idle_evicted: Counter;
  /** the listener filters (TLS/HTTP inspectors) timed out waiting for the first bytes */
  downstream_pre_cx_timeout: Counter;
}

export function listenerStats(store: StatsStore, name: string): ListenerStats {
  const s = store.scope(`listener.${name}.`);
  return {
    downstream_cx_total: s.counter('downstream_cx_total'),
    downstream_cx_active: s.gauge('downstream_cx_active'),
    downstream_cx_destroy: s.counter('downstream_cx_destroy'),
    downstream_global_cx_overflow: s.counter('downstream_global_cx_overflow'),
    no_filter_chain_match: s.counter('no_filter_chain_match'),
    downstream_cx_idle_evicted: s.counter('downstream_cx_idle_evicted'),
    downstream_pre_cx_timeout: s.counter('downstream_pre_cx_timeout'),
  };
}
