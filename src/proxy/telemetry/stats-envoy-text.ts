/**
 * Envoy's admin `/stats` forms of a StatsStore: the text form (`<flat name>: <value>`, sorted,
 * histograms as quantile summaries) and `?format=json`.
 */
import type { Histogram, Series, StatsStore } from '../../stats/stats-store.js';

const QUANTILES = [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1];
const QUANTILE_NAMES = ['P0', 'P25', 'P50', 'P75', 'P90', 'P95', 'P99', 'P99.5', 'P99.9', 'P100'];

export interface EnvoyStatsOptions {
  /** regex on the flat name (Envoy's `filter=`) */
  filter?: RegExp;
  /** only series that were touched (Envoy's `usedonly`) */
  usedOnly?: boolean;
}

function fmt(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 1000) / 1000);
}

function histogramSummary(h: Histogram): string {
  if (h.count === 0) return 'No recorded values';
  // Envoy shows (interval, cumulative); we keep no intervals, hence `nan` like a fresh Envoy
  return QUANTILES.map((q, i) => `${QUANTILE_NAMES[i]}(nan,${fmt(h.quantile(q))})`).join(' ');
}

function selected(store: StatsStore, opts: EnvoyStatsOptions): Series[] {
  const out: Series[] = [];
  for (const s of store.all()) {
    if (opts.filter && !opts.filter.test(s.flatName)) continue;
    if (opts.usedOnly && (s.type === 'histogram' ? s.count === 0 : s.value === 0)) continue;
    out.push(s);
  }
  return out.sort((a, b) => (a.flatName < b.flatName ? -1 : a.flatName > b.flatName ? 1 : 0));
}

export function envoyStatsText(store: StatsStore, opts: EnvoyStatsOptions = {}): string {
  const lines: string[] = [];
  for (const s of selected(store, opts)) {
    lines.push(`${s.flatName}: ${s.type === 'histogram' ? histogramSummary(s) : fmt(s.value)}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

export function envoyStatsJson(store: StatsStore, opts: EnvoyStatsOptions = {}): { stats: unknown[] } {
  const stats: unknown[] = [];
  for (const s of selected(store, opts)) {
    if (s.type === 'histogram') {
      const cum = s.cumulative();
      stats.push({
        name: s.flatName,
        histogram: {
          buckets: s.buckets.map((b, i) => ({ upper_bound: b, cumulative: cum[i] })),
          sum: s.sum,
          count: s.count,
        },
      });
    } else stats.push({ name: s.flatName, value: s.value });
  }
  return { stats };
}
