/**
 * Overflow counters of bounded per-key structures that live outside any stats store (module
 * caches: header names, route lookups, upstream pools, peer metadata, Istio metric label sets).
 * Each is `clew.overflow.<what>` in /stats (`envoy_clew_overflow_<what>` in Prometheus); a proxy
 * adopts them all into its store. Process-wide: they count for every proxy in the process.
 */
import { Counter } from './stats-store.js';

const ALL: Counter[] = [];

/** The overflow counter of one bounded structure (created once per name). */
export function overflowCounter(what: string): Counter {
  const flat = `clew.overflow.${what}`;
  const known = ALL.find((c) => c.flatName === flat);
  if (known) return known;
  const c = new Counter(`envoy_clew_overflow_${what}`, [], flat);
  ALL.push(c);
  return c;
}

export function overflowCounters(): readonly Counter[] {
  return ALL;
}
