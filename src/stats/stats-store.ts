/**
 * The proxy's stats store: counters, gauges and histograms, Envoy style.
 *
 * A series is resolved once (name + labels -> handle) and the handle is kept by the caller, so
 * per-request code only does `handle.inc()` / `handle.record(v)`: no string building, no lookup.
 *
 * Two ways to name a series:
 * - Prometheus-native: `store.counter('istio_requests_total', labels)`. The flat (/stats) name
 *   is Istio's encoding `k=.=v;.;k2=.=v2;.;istio_requests_total`.
 * - Envoy-native: `store.scope('cluster.outbound|9080||reviews.default.svc.cluster.local.')
 *   .counter('upstream_rq_total')`. The flat name is the dotted name; tags and the
 *   Prometheus name come from tag extraction (stats-tag-extract.ts), done once at creation.
 */
import { extractTags, type TagExtractor, ISTIO_TAG_EXTRACTORS } from './stats-tag-extract.js';

export type Labels = Readonly<Record<string, string>>;
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Envoy's default histogram buckets (also what Istio uses for its standard histograms). */
export const ENVOY_DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
]);

interface SeriesBase {
  readonly type: MetricType;
  /** Prometheus metric name (sanitized) */
  readonly promName: string;
  /** label pairs in output order */
  readonly labels: ReadonlyArray<readonly [string, string]>;
  /** the Envoy /stats (flat) name */
  readonly flatName: string;
}

export class Counter implements SeriesBase {
  readonly type = 'counter' as const;
  value = 0;
  constructor(
    readonly promName: string,
    readonly labels: ReadonlyArray<readonly [string, string]>,
    readonly flatName: string,
  ) {}
  inc(n = 1): void {
    this.value += n;
  }
}

export class Gauge implements SeriesBase {
  readonly type = 'gauge' as const;
  value = 0;
  constructor(
    readonly promName: string,
    readonly labels: ReadonlyArray<readonly [string, string]>,
    readonly flatName: string,
  ) {}
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

export class Histogram implements SeriesBase {
  readonly type = 'histogram' as const;
  /** per-bucket (non-cumulative) counts; the last slot is the +Inf overflow */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly promName: string,
    readonly labels: ReadonlyArray<readonly [string, string]>,
    readonly flatName: string,
    readonly buckets: readonly number[],
  ) {
    this.counts = new Float64Array(buckets.length + 1);
  }
  record(v: number): void {
    const b = this.buckets;
    // binary search for the first bound >= v (Prometheus `le` semantics)
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (b[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo]++;
    this.sum += v;
    this.count++;
  }
  /** cumulative counts per bound, then +Inf */
  cumulative(): number[] {
    const out: number[] = new Array(this.counts.length);
    let acc = 0;
    for (let i = 0; i < this.counts.length; i++) {
      acc += this.counts[i];
      out[i] = acc;
    }
    return out;
  }
  /** estimated quantile from the buckets (linear interpolation inside a bucket) */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = q * this.count;
    let acc = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i];
      if (c > 0 && acc + c >= rank) {
        const lower = i === 0 ? 0 : this.buckets[i - 1];
        const upper = i < this.buckets.length ? this.buckets[i] : lower;
        return lower + ((upper - lower) * (rank - acc)) / c;
      }
      acc += c;
    }
    return this.buckets[this.buckets.length - 1];
  }
}

export type Series = Counter | Gauge | Histogram;

export class StatsError extends Error {
  constructor(
    readonly code: 'STATS_TYPE_CONFLICT' | 'STATS_BAD_NAME',
    message: string,
  ) {
    super(message);
    this.name = 'StatsError';
  }
}

const PROM_NAME_BAD = /[^a-zA-Z0-9_:]/g;

/** Prometheus metric-name sanitizing, as Envoy does it (every other character becomes `_`). */
export function sanitizePromName(name: string): string {
  let s = name.replace(PROM_NAME_BAD, '_');
  if (/^[0-9]/.test(s)) s = '_' + s;
  return s;
}

function labelKey(name: string, labels: Labels | undefined): string {
  if (!labels) return name;
  let k = name;
  for (const key in labels) k += '\u0001' + key + '\u0002' + labels[key];
  return k;
}

/** Istio's flat encoding of a tagged stat name, as shown by Envoy's /stats. */
function istioFlatName(name: string, labels: ReadonlyArray<readonly [string, string]>): string {
  if (labels.length === 0) return name;
  let s = '';
  for (const [k, v] of labels) s += `${k}=.=${v};.;`;
  return s + name;
}

export interface StatsStoreOptions {
  /** tag extractors applied to Envoy-style dotted names (default: Istio's set) */
  tagExtractors?: readonly TagExtractor[];
  /** prefix of Prometheus names derived from dotted names (default `envoy_`) */
  envoyPrefix?: string;
  /**
   * Series kept at most (default DEFAULT_MAX_SERIES). Past it a new series is handed out
   * detached (it counts, but is neither stored nor exported) and `clew.overflow.stats_series`
   * counts each one, so no client-chosen key can grow the store or its exposition without bound.
   */
  maxSeries?: number;
}

export const DEFAULT_MAX_SERIES = 20_000;

export class StatsStore {
  private readonly series = new Map<string, Series>();
  private readonly types = new Map<string, MetricType>();
  private readonly helps = new Map<string, string>();
  readonly tagExtractors: readonly TagExtractor[];
  readonly envoyPrefix: string;
  readonly maxSeries: number;
  /**
   * counts series handed out detached because the store was full; a proxy puts its
   * `clew.overflow.stats_series` here (stats-overflow.ts), other stores keep this unexported one
   */
  overflow = new Counter('stats_overflow', [], 'stats_overflow');

  constructor(opts: StatsStoreOptions = {}) {
    this.tagExtractors = opts.tagExtractors ?? ISTIO_TAG_EXTRACTORS;
    this.envoyPrefix = opts.envoyPrefix ?? 'envoy_';
    this.maxSeries = opts.maxSeries ?? DEFAULT_MAX_SERIES;
  }

  /** number of series kept */
  get size(): number {
    return this.series.size;
  }

  /** Whether the series of that name and labels exists (nothing is created). */
  has(name: string, labels?: Labels): boolean {
    return this.series.has(labelKey(name, labels));
  }

  /** Adds a series made outside the store (e.g. a module's overflow counter); kept past maxSeries. */
  adopt(s: Series): void {
    const key = '\u0000' + s.flatName;
    if (this.series.get(key) === s) return;
    this.make(s.type, s.promName, s.labels, s.flatName, ENVOY_DEFAULT_BUCKETS);
    this.series.set(key, s);
  }

  /** A counter with explicit labels (Prometheus-native name). Same name+labels -> same handle. */
  counter(name: string, labels?: Labels): Counter {
    return this.resolve('counter', name, labels, undefined) as Counter;
  }

  gauge(name: string, labels?: Labels): Gauge {
    return this.resolve('gauge', name, labels, undefined) as Gauge;
  }

  histogram(name: string, labels?: Labels, buckets: readonly number[] = ENVOY_DEFAULT_BUCKETS): Histogram {
    return this.resolve('histogram', name, labels, buckets) as Histogram;
  }

  /** Envoy-style scope: names below it are dotted (`<prefix><name>`), tags extracted once. */
  scope(prefix: string): Scope {
    return new Scope(this, prefix);
  }

  /** Sets the `# HELP` text of a Prometheus metric family. */
  help(promName: string, text: string): void {
    this.helps.set(promName, text);
  }

  helpOf(promName: string): string | undefined {
    return this.helps.get(promName);
  }

  /** every series, in creation order */
  all(): IterableIterator<Series> {
    return this.series.values();
  }

  /** A series by flat (/stats) name, for admin endpoints and tests. */
  byFlatName(flat: string): Series | undefined {
    return this.series.get('\u0000' + flat) ?? this.series.get(flat);
  }

  /** Zeroes nothing but forgets series, e.g. when a cluster is removed. */
  remove(s: Series): void {
    for (const [k, v] of this.series) {
      if (v === s) this.series.delete(k);
    }
  }

  /** @internal used by Scope */
  resolveDotted(type: MetricType, flatName: string, buckets: readonly number[] | undefined): Series {
    const key = '\u0000' + flatName;
    const existing = this.series.get(key);
    if (existing) return this.checkType(existing, type, flatName);
    const { name, tags } = extractTags(flatName, this.tagExtractors);
    const promName = sanitizePromName(this.envoyPrefix + name);
    const s = this.make(type, promName, tags, flatName, buckets ?? ENVOY_DEFAULT_BUCKETS);
    if (this.full()) return s;
    this.series.set(key, s);
    return s;
  }

  private resolve(type: MetricType, name: string, labels: Labels | undefined, buckets: readonly number[] | undefined): Series {
    const key = labelKey(name, labels);
    const existing = this.series.get(key);
    if (existing) return this.checkType(existing, type, name);
    const promName = sanitizePromName(name);
    const pairs: Array<readonly [string, string]> = [];
    if (labels) for (const k in labels) pairs.push([sanitizePromName(k), labels[k]]);
    const s = this.make(type, promName, pairs, istioFlatName(name, pairs), buckets ?? ENVOY_DEFAULT_BUCKETS);
    if (this.full()) return s;
    this.series.set(key, s);
    return s;
  }

  /** true (and counted) when a new series must stay detached */
  private full(): boolean {
    if (this.series.size < this.maxSeries) return false;
    this.overflow.inc();
    return true;
  }

  private make(
    type: MetricType,
    promName: string,
    labels: ReadonlyArray<readonly [string, string]>,
    flatName: string,
    buckets: readonly number[],
  ): Series {
    const known = this.types.get(promName);
    if (known && known !== type) {
      throw new StatsError('STATS_TYPE_CONFLICT', `metric ${promName} is a ${known}, not a ${type}`);
    }
    this.types.set(promName, type);
    if (type === 'counter') return new Counter(promName, labels, flatName);
    if (type === 'gauge') return new Gauge(promName, labels, flatName);
    return new Histogram(promName, labels, flatName, buckets);
  }

  private checkType(s: Series, type: MetricType, name: string): Series {
    if (s.type !== type) throw new StatsError('STATS_TYPE_CONFLICT', `stat ${name} is a ${s.type}, not a ${type}`);
    return s;
  }
}

/** A dotted-name prefix (Envoy's Stats::Scope). Handles are resolved once and cached by the caller. */
export class Scope {
  constructor(
    private readonly store: StatsStore,
    readonly prefix: string,
  ) {}
  counter(name: string): Counter {
    return this.store.resolveDotted('counter', this.prefix + name, undefined) as Counter;
  }
  gauge(name: string): Gauge {
    return this.store.resolveDotted('gauge', this.prefix + name, undefined) as Gauge;
  }
  histogram(name: string, buckets?: readonly number[]): Histogram {
    return this.store.resolveDotted('histogram', this.prefix + name, buckets) as Histogram;
  }
  scope(sub: string): Scope {
    return new Scope(this.store, this.prefix + sub);
  }
}
