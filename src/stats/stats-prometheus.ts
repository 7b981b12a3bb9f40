/**
 * Prometheus text exposition (format 0.0.4) of a StatsStore: one `# TYPE` (and optional
 * `# HELP`) per family, families sorted by name so the output is stable, histograms as
 * cumulative `_bucket{le=...}` series ending with `+Inf`, then `_sum` and `_count`.
 */
import type { Histogram, Series, StatsStore } from './stats-store.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label-value escaping of the text format: backslash, double quote and line feed. */
export function escapeLabelValue(v: string): string {
  if (!/[\\"\n]/.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escaping: backslash and line feed only. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Go-style float text: integers without a dot, +Inf/-Inf/NaN spelled as Prometheus expects. */
export function formatPromNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function labelText(labels: ReadonlyArray<readonly [string, string]>, extra?: string): string {
  if (labels.length === 0 && !extra) return '';
  const parts: string[] = [];
  for (const [k, v] of labels) parts.push(`${k}="${escapeLabelValue(v)}"`);
  if (extra) parts.push(extra);
  return `{${parts.join(',')}}`;
}

function histogramLines(h: Histogram, out: string[]): void {
  const cum = h.cumulative();
  for (let i = 0; i < h.buckets.length; i++) {
    out.push(`${h.promName}_bucket${labelText(h.labels, `le="${formatPromNumber(h.buckets[i])}"`)} ${cum[i]}`);
  }
  out.push(`${h.promName}_bucket${labelText(h.labels, 'le="+Inf"')} ${cum[cum.length - 1]}`);
  out.push(`${h.promName}_sum${labelText(h.labels)} ${formatPromNumber(h.sum)}`);
  out.push(`${h.promName}_count${labelText(h.labels)} ${h.count}`);
}

export interface PrometheusOptions {
  /** only families whose name passes this filter (e.g. /stats/prometheus?filter=) */
  filter?: (promName: string) => boolean;
  /** skip series that were never touched (Envoy's usedonly) */
  usedOnly?: boolean;
  /** emit `# HELP <name> <name>` for families without registered help (default true) */
  defaultHelp?: boolean;
}

function used(s: Series): boolean {
  return s.type === 'histogram' ? s.count > 0 : s.value !== 0;
}

export function prometheusText(store: StatsStore, opts: PrometheusOptions = {}): string {
  const families = new Map<string, Series[]>();
  for (const s of store.all()) {
    if (opts.filter && !opts.filter(s.promName)) continue;
    if (opts.usedOnly && !used(s)) continue;
    let f = families.get(s.promName);
    if (!f) families.set(s.promName, (f = []));
    f.push(s);
  }
  const names = [...families.keys()].sort();
  const out: string[] = [];
  for (const name of names) {
    const series = families.get(name)!;
    // promtool lints families without HELP, so every family gets one (its name, by default)
    const help = store.helpOf(name) ?? (opts.defaultHelp === false ? undefined : name);
    if (help) out.push(`# HELP ${name} ${escapeHelp(help)}`);
    out.push(`# TYPE ${name} ${series[0].type}`);
    for (const s of series) {
      if (s.type === 'histogram') histogramLines(s, out);
      else out.push(`${name}${labelText(s.labels)} ${formatPromNumber(s.value)}`);
    }
  }
  return out.length ? out.join('\n') + '\n' : '';
}
