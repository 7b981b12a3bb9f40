/**
 * Stats of a multi-worker proxy (--concurrency N), answered once by worker 0's admin and stats
 * ports. Workers 1..N-1 push a snapshot of their series to worker 0 (through the agent) every
 * `STATS_PUSH_MS`; worker 0's store shows, in /stats and /stats/prometheus, each series summed
 * over the workers: counters, histograms and traffic gauges (active connections, requests)
 * add up, like Envoy's worker threads sharing one stats store. Gauges that describe the
 * configuration or the process (server.*, membership, circuit breaker headroom, ...) are the
 * same in every worker and are shown as worker 0 has them, not multiplied by N.
 */
import { Counter, Gauge, Histogram, StatsStore, type Series } from '../../stats/stats-store.js';

/** how often workers 1..N-1 push their stats to worker 0 */
export const STATS_PUSH_MS = 1000;
/** a worker's snapshot older than this is ignored (the worker is gone or stuck) */
const STALE_MS = 10 * STATS_PUSH_MS;

/** One series over IPC: type, Prometheus name, labels, flat name and its value(s). */
export interface SeriesSnapshot {
  t: 'counter' | 'gauge' | 'histogram';
  p: string;
  l: Array<[string, string]>;
  f: string;
  /** counter or gauge value */
  v?: number;
  /** histogram: bucket bounds, per-bucket counts (+Inf last), sum, count */
  b?: number[];
  c?: number[];
  s?: number;
  n?: number;
}

/** gauges that every worker holds with the same value: shown once (worker 0's), not summed */
const PER_PROCESS_GAUGE =
  /^(server|control_plane|listener_manager|cluster_manager)\.|(^|\.)(membership_\w+|healthy|degraded|remaining_\w+|max_host_weight|ejections_active)$|^pilot_/;

export function isPerProcessGauge(flatName: string): boolean {
  return PER_PROCESS_GAUGE.test(flatName);
}

/**
 * A worker's series for worker 0. Zero-valued ones are left out: they add nothing to a sum, and
 * worker 0, configured the same, has the series itself (what only traffic creates is not zero).
 */
export function snapshotStats(store: StatsStore): SeriesSnapshot[] {
  const out: SeriesSnapshot[] = [];
  for (const s of store.all()) {
    if (s.type === 'histogram' ? s.count === 0 : s.value === 0) continue;
    const base = { t: s.type, p: s.promName, l: s.labels.map(([k, v]) => [k, v] as [string, string]), f: s.flatName };
    if (s.type === 'histogram') out.push({ ...base, b: [...s.buckets], c: [...s.counts], s: s.sum, n: s.count });
    else out.push({ ...base, v: s.value });
  }
  return out;
}

function keyOf(type: string, promName: string, flatName: string, labels: ReadonlyArray<readonly [string, string]>): string {
  let k = `${type}\u0001${promName}\u0001${flatName}`;
  for (const [a, b] of labels) k += `\u0002${a}\u0003${b}`;
  return k;
}

function fromSnapshot(r: SeriesSnapshot): Series {
  if (r.t === 'counter') {
    const c = new Counter(r.p, r.l, r.f);
    c.value = r.v ?? 0;
    return c;
  }
  if (r.t === 'gauge') {
    const g = new Gauge(r.p, r.l, r.f);
    g.value = r.v ?? 0;
    return g;
  }
  const h = new Histogram(r.p, r.l, r.f, r.b ?? []);
  addHistogram(h, r);
  return h;
}

function addHistogram(h: Histogram, r: SeriesSnapshot): void {
  const c = r.c ?? [];
  // bucket layouts match (same code in every worker); a mismatch only adds sum and count
  if (c.length === h.counts.length) for (let i = 0; i < c.length; i++) h.counts[i] += c[i];
  h.sum += r.s ?? 0;
  h.count += r.n ?? 0;
}

/** Worker 0's store: its own series, plus the other workers' last snapshots in what all() shows. */
export class WorkerStatsStore extends StatsStore {
  private readonly remote = new Map<number, { at: number; series: SeriesSnapshot[] }>();

  setRemote(worker: number, series: SeriesSnapshot[], now = Date.now()): void {
    this.remote.set(worker, { at: now, series });
  }

  /** workers whose stats are included (besides this one) */
  remoteWorkers(now = Date.now()): number[] {
    return [...this.remote].filter(([, r]) => now - r.at <= STALE_MS).map(([w]) => w).sort((a, b) => a - b);
  }

  /** Every series, summed over the workers; a series only another worker has is included. */
  override all(): IterableIterator<Series> {
    const now = Date.now();
    const fresh = [...this.remote.values()].filter((r) => now - r.at <= STALE_MS);
    if (fresh.length === 0) return super.all();
    const merged = new Map<string, Series>();
    for (const s of super.all()) {
      const k = keyOf(s.type, s.promName, s.flatName, s.labels);
      merged.set(k, fromSnapshot(snapshotOf(s)));
    }
    for (const { series } of fresh) {
      for (const r of series) {
        const k = keyOf(r.t, r.p, r.f, r.l);
        const m = merged.get(k);
        if (!m) merged.set(k, fromSnapshot(r));
        else if (m.type === 'counter') m.value += r.v ?? 0;
        else if (m.type === 'gauge') {
          if (!isPerProcessGauge(m.flatName)) m.value += r.v ?? 0;
        } else addHistogram(m, r);
      }
    }
    return merged.values();
  }
}

function snapshotOf(s: Series): SeriesSnapshot {
  const base = { t: s.type, p: s.promName, l: s.labels as Array<[string, string]>, f: s.flatName };
  return s.type === 'histogram' ? { ...base, b: s.buckets as number[], c: [...s.counts], s: s.sum, n: s.count } : { ...base, v: s.value };
}
