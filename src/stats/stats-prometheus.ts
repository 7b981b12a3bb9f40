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

/** `{k="v",...` without the closing brace ('' when there are no labels), built once per series per scrape */
function labelPrefix(labels: ReadonlyArray<readonly [string, string]>): string {
  if (labels.length === 0) return '';
  let out = '{';
  for (let i = 0; i < labels.length; i++) out += `${i ? ',' : ''}${labels[i][0]}="${escapeLabelValue(labels[i][1])}"`;
  return out;
}

function histogramText(h: Histogram): string {
  const cum = h.cumulative();
  const base = labelPrefix(h.labels);
  const open = base ? `${base},` : '{';
  const closed = base ? `${base}}` : '';
  let out = '';
  for (let i = 0; i < h.buckets.length; i++) out += `${h.promName}_bucket${open}le="${formatPromNumber(h.buckets[i])}"} ${cum[i]}\n`;
  out += `${h.promName}_bucket${open}le="+Inf"} ${cum[cum.length - 1]}\n`;
  out += `${h.promName}_sum${closed} ${formatPromNumber(h.sum)}\n`;
  out += `${h.promName}_count${closed} ${h.count}\n`;
  return out;
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

/** Chunks of about this many characters come out of prometheusChunks(). */
export const PROMETHEUS_CHUNK_CHARS = 16 * 1024;

/**
 * The exposition in chunks, so a server can write one, let the event loop run (requests keep
 * flowing during a large scrape) and come back for the next. Values are read when their chunk
 * is built.
 */
export function* prometheusChunks(store: StatsStore, opts: PrometheusOptions = {}): Generator<string> {
  const families = new Map<string, Series[]>();
  for (const s of store.all()) {
    if (opts.filter && !opts.filter(s.promName)) continue;
    if (opts.usedOnly && !used(s)) continue;
    let f = families.get(s.promName);
    if (!f) families.set(s.promName, (f = []));
    f.push(s);
  }
  const names = [...families.keys()].sort();
  let out = '';
  for (const name of names) {
    const series = families.get(name)!;
    // promtool lints families without HELP, so every family gets one (its name, by default)
    const help = store.helpOf(name) ?? (opts.defaultHelp === false ? undefined : name);
    if (help) out += `# HELP ${name} ${escapeHelp(help)}\n`;
    out += `# TYPE ${name} ${series[0].type}\n`;
    for (const s of series) {
      if (s.type === 'histogram') out += histogramText(s);
      else {
        const base = labelPrefix(s.labels);
        out += `${name}${base ? `${base}}` : ''} ${formatPromNumber(s.value)}\n`;
      }
      if (out.length >= PROMETHEUS_CHUNK_CHARS) {
        yield out;
        out = '';
      }
    }
  }
  if (out) yield out;
}

export function prometheusText(store: StatsStore, opts: PrometheusOptions = {}): string {
  let out = '';
  for (const chunk of prometheusChunks(store, opts)) out += chunk;
  return out;
}
