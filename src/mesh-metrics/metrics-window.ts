/**
 * The control plane's in-memory window of the sidecars' Istio metrics: what a Prometheus server
 * would keep for the graph, for the last hour only, bounded.
 *
 * Each scrape gives raw counters per proxy; their increase since the previous scrape (a decrease
 * is a restarted proxy: the new value is the increase, as Prometheus' rate() takes it) is added
 * to a traffic row (one per distinct set of TRAFFIC_LABELS). A row keeps a sample of its running
 * totals at each scrape in which it changed: every sample of the last 5 minutes, one per 30 s
 * before that, up to an hour. The rate over a window is (total now - total at the window's start)
 * / the seconds covered. Bounds: `maxRows` traffic rows and `maxRawSeries` raw series; what
 * would pass them is dropped and counted (`droppedSeries`).
 */
import type { PromSample } from './prom-text.js';
import { trafficKey, trafficLabels, type TrafficLabels, type TrafficQuery, type TrafficRow } from './traffic-rows.js';

const FINE_MS = 5 * 60_000;
const COARSE_MS = 30_000;
const MAX_WINDOW_MS = 60 * 60_000;

export const REQUESTS = 'istio_requests_total';
export const DURATION_BUCKET = 'istio_request_duration_milliseconds_bucket';
export const TCP_OPENED = 'istio_tcp_connections_opened_total';
export const TCP_SENT = 'istio_tcp_sent_bytes_total';
export const TCP_RECEIVED = 'istio_tcp_received_bytes_total';
/** the families a scrape reads (prefixes for parsePromText) */
export const SCRAPED_FAMILIES = [REQUESTS, DURATION_BUCKET, TCP_OPENED, TCP_SENT, TCP_RECEIVED] as const;

interface Sample {
  t: number;
  count: number;
  bytes: number;
  buckets: Float64Array;
}

interface Row {
  kind: 'http' | 'tcp';
  labels: TrafficLabels;
  /** bucket upper bounds (ms), ascending, as first seen */
  les: number[];
  count: number;
  bytes: number;
  buckets: Float64Array;
  changed: boolean;
  samples: Sample[];
}

interface Target {
  /** raw series text -> last raw value */
  last: Map<string, number>;
  /** raw series text -> its row and bucket index (-1: the count or bytes) */
  rowOf: Map<string, { row: Row; bucket: number; bytes: boolean }>;
}

export interface WindowStoreOptions {
  maxRows?: number;
  maxRawSeries?: number;
  now?: () => number;
}

export class MetricsWindowStore {
  private readonly rows = new Map<string, Row>();
  private readonly targets = new Map<string, Target>();
  private rawSeries = 0;
  private readonly maxRows: number;
  private readonly maxRawSeries: number;
  private readonly now: () => number;
  readonly startedAt: number;
  /** series not kept because a bound was reached */
  droppedSeries = 0;

  constructor(opts: WindowStoreOptions = {}) {
    this.maxRows = opts.maxRows ?? 20_000;
    this.maxRawSeries = opts.maxRawSeries ?? 200_000;
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
  }

  get rowCount(): number {
    return this.rows.size;
  }

  /** Adds one scrape of a target (a proxy's id). The first scrape of a target is its baseline. */
  addScrape(targetId: string, samples: readonly PromSample[]): void {
    let target = this.targets.get(targetId);
    const baseline = !target;
    if (!target) this.targets.set(targetId, (target = { last: new Map(), rowOf: new Map() }));
    for (const s of samples) {
      if (!Number.isFinite(s.value)) continue;
      let slot = target.rowOf.get(s.series);
      if (!slot) {
        if (this.rawSeries >= this.maxRawSeries) {
          this.droppedSeries++;
          continue;
        }
        const found = this.slotFor(s);
        if (!found) continue;
        slot = found;
        target.rowOf.set(s.series, slot);
        this.rawSeries++;
      }
      const prev = target.last.get(s.series);
      target.last.set(s.series, s.value);
      // a series new on a known target counted everything since the last scrape; on a new target
      // the first value is history from before we looked
      const delta = prev === undefined ? (baseline ? 0 : s.value) : s.value >= prev ? s.value - prev : s.value;
      if (delta === 0) continue;
      const row = slot.row;
      if (slot.bucket >= 0) row.buckets[slot.bucket] += delta;
      else if (slot.bytes) row.bytes += delta;
      else row.count += delta;
      row.changed = true;
    }
  }

  /** Forgets targets that are gone (their proxies disconnected). */
  retainTargets(ids: ReadonlySet<string>): void {
    for (const [id, t] of this.targets) {
      if (ids.has(id)) continue;
      this.rawSeries -= t.rowOf.size;
      this.targets.delete(id);
    }
  }

  /** Closes a scrape round: rows that changed keep a sample at `t`; old samples are thinned. */
  commit(t = this.now()): void {
    for (const [key, row] of this.rows) {
      if (row.changed) {
        row.changed = false;
        row.samples.push({ t, count: row.count, bytes: row.bytes, buckets: row.buckets.slice() });
        thin(row.samples, t);
      } else if (row.samples.length > 0 && row.samples[row.samples.length - 1].t < t - MAX_WINDOW_MS) {
        // idle for longer than any window: nothing left to report
        this.rows.delete(key);
      }
    }
  }

  /** Rates over the last `windowMs`. */
  query(windowMs: number): TrafficQuery {
    const now = this.now();
    const from = now - windowMs;
    const covered = Math.max(1, Math.min(windowMs, now - this.startedAt)) / 1000;
    const rows: TrafficRow[] = [];
    for (const row of this.rows.values()) {
      const last = row.samples[row.samples.length - 1];
      if (!last || last.t <= from) continue;
      const base = sampleAt(row.samples, from);
      const count = last.count - (base?.count ?? 0);
      const bytes = last.bytes - (base?.bytes ?? 0);
      if (count <= 0 && bytes <= 0) continue;
      const buckets: Array<[number, number]> = [];
      for (let i = 0; i < row.les.length; i++) {
        buckets.push([row.les[i], (last.buckets[i] - (base?.buckets[i] ?? 0)) / covered]);
      }
      rows.push({ kind: row.kind, labels: row.labels, rate: count / covered, bytesRate: bytes / covered, buckets });
    }
    return { rows, coveredSeconds: covered, timestamp: now };
  }

  private slotFor(s: PromSample): { row: Row; bucket: number; bytes: boolean } | undefined {
    const tcp = s.name.startsWith('istio_tcp_');
    const labels = trafficLabels(s.labels);
    const key = trafficKey(tcp ? 'tcp' : 'http', labels);
    let row = this.rows.get(key);
    if (!row) {
      if (this.rows.size >= this.maxRows) {
        this.droppedSeries++;
        return undefined;
      }
      row = { kind: tcp ? 'tcp' : 'http', labels, les: [], count: 0, bytes: 0, buckets: new Float64Array(0), changed: false, samples: [] };
      this.rows.set(key, row);
    }
    if (s.name === DURATION_BUCKET) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      if (Number.isNaN(le)) return undefined;
      let i = row.les.indexOf(le);
      if (i < 0) {
        row.les.push(le);
        row.les.sort((a, b) => a - b);
        i = row.les.indexOf(le);
        // keep the totals aligned with the bounds: a new bound is inserted at i
        const grow = (a: Float64Array): Float64Array => {
          const b = new Float64Array(a.length + 1);
          b.set(a.subarray(0, i), 0);
          b.set(a.subarray(i), i + 1);
          return b;
        };
        row.buckets = grow(row.buckets);
        for (const smp of row.samples) smp.buckets = grow(smp.buckets);
        // slots of other raw series of this row past i move by one
        for (const t of this.targets.values()) {
          for (const slot of t.rowOf.values()) if (slot.row === row && slot.bucket >= i) slot.bucket++;
        }
      }
      return { row, bucket: i, bytes: false };
    }
    return { row, bucket: -1, bytes: s.name === TCP_SENT || s.name === TCP_RECEIVED };
  }
}

/** The last sample at or before t. */
function sampleAt(samples: readonly Sample[], t: number): Sample | undefined {
  let lo = 0;
  let hi = samples.length - 1;
  let found: Sample | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (samples[mid].t <= t) {
      found = samples[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Keeps every sample of the last 5 minutes, one per 30 s before, and one older than an hour. */
function thin(samples: Sample[], now: number): void {
  let drop = 0;
  while (drop + 1 < samples.length && samples[drop + 1].t <= now - MAX_WINDOW_MS) drop++;
  if (drop > 0) samples.splice(0, drop);
  const fineFrom = now - FINE_MS;
  if (samples.length < 2 || samples[1].t > fineFrom) return;
  const kept: Sample[] = [];
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    const next = samples[i + 1];
    // an old sample goes when the next one is old too and in the same 30 s slot
    if (next && next.t <= fineFrom && Math.floor(next.t / COARSE_MS) === Math.floor(s.t / COARSE_MS)) continue;
    kept.push(s);
  }
  if (kept.length !== samples.length) samples.splice(0, samples.length, ...kept);
}
