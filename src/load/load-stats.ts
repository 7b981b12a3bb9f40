/** Latency samples and per-status counts of a load run. */

export const LOAD_PERCENTILES = [50, 75, 90, 99, 99.9] as const;

export interface LatencySummary {
  count: number;
  minMs: number;
  avgMs: number;
  stdDevMs: number;
  maxMs: number;
  sumMs: number;
  /** [percentile, milliseconds] for LOAD_PERCENTILES. */
  percentiles: Array<{ percentile: number; valueMs: number }>;
}

export class LoadStats {
  private readonly samples: number[] = [];
  /** Status code -> count; -1 = connection error or timeout (fortio's convention). */
  readonly codes = new Map<number, number>();

  record(code: number, latencyMs: number): void {
    this.samples.push(latencyMs);
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
  }

  get count(): number {
    return this.samples.length;
  }

  /** Codes in ascending order with their counts. */
  sortedCodes(): Array<[number, number]> {
    return [...this.codes.entries()].sort((a, b) => a[0] - b[0]);
  }

  summary(): LatencySummary {
    const sorted = Float64Array.from(this.samples).sort();
    const n = sorted.length;
    if (n === 0) {
      return { count: 0, minMs: 0, avgMs: 0, stdDevMs: 0, maxMs: 0, sumMs: 0,
        percentiles: LOAD_PERCENTILES.map((p) => ({ percentile: p, valueMs: 0 })) };
    }
    let sum = 0;
    for (const v of sorted) sum += v;
    const avg = sum / n;
    let sq = 0;
    for (const v of sorted) sq += (v - avg) ** 2;
    return {
      count: n,
      minMs: sorted[0],
      avgMs: avg,
      stdDevMs: Math.sqrt(sq / n),
      maxMs: sorted[n - 1],
      sumMs: sum,
      percentiles: LOAD_PERCENTILES.map((p) => ({ percentile: p, valueMs: percentile(sorted, p) })),
    };
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
