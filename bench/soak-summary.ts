/**
 * The soak's figures from its RSS samples (pure, tested in test/bench/soak-summary.test.ts).
 * Samples carry t in seconds since the load started (idle samples before it are negative).
 * RSS moves with the young generation by tens of MB between two samples, so "at 5 minutes" and
 * "at the end" are medians over a window (one minute, or a third of a shorter run) rather than
 * single samples: a growth figure then means the level moved, not one scavenge's timing.
 */
export interface SoakSample { t: number; rssMb: number; heapUsedMb: number }

export interface SoakFigures {
  idleRssMb: number;
  peakRssMb: number;
  /** where the warm-up ends: 300 s, or a third of a run shorter than 15 minutes */
  warmupSeconds: number;
  rssAt5MinMb: number;
  rssEndMb: number;
  growthAfter5MinMb: number;
  /** the same for the V8 heap's live objects */
  heapAt5MinMb: number;
  heapEndMb: number;
}

export function median(v: number[]): number {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const r1 = (v: number): number => Math.round(v * 10) / 10;

/** `idle`: samples before the load; `load`: samples during it (t from 0 to loadSeconds). */
export function soakFigures(idle: SoakSample[], load: SoakSample[], loadSeconds: number): SoakFigures {
  if (load.length === 0) throw new Error('no samples under load');
  const warmupSeconds = Math.min(300, loadSeconds / 3);
  const win = Math.min(60, loadSeconds / 3);
  const around = (from: number, to: number): SoakSample[] => {
    const w = load.filter((s) => s.t >= from && s.t <= to);
    return w.length ? w : [load.reduce((b, s) => (Math.abs(s.t - to) < Math.abs(b.t - to) ? s : b))];
  };
  const at5 = around(warmupSeconds - win / 2, warmupSeconds + win / 2);
  const end = around(loadSeconds - win, loadSeconds);
  const rssAt5MinMb = median(at5.map((s) => s.rssMb));
  const rssEndMb = median(end.map((s) => s.rssMb));
  return {
    idleRssMb: r1(median(idle.length ? idle.map((s) => s.rssMb) : [load[0].rssMb])),
    peakRssMb: r1(Math.max(...load.map((s) => s.rssMb))),
    warmupSeconds: r1(warmupSeconds),
    rssAt5MinMb: r1(rssAt5MinMb),
    rssEndMb: r1(rssEndMb),
    growthAfter5MinMb: r1(rssEndMb - rssAt5MinMb),
    heapAt5MinMb: r1(median(at5.map((s) => s.heapUsedMb))),
    heapEndMb: r1(median(end.map((s) => s.heapUsedMb))),
  };
}
