/**
 * Benchmarking on a machine that other jobs may share: every run records the CPU that processes
 * outside the benchmark used meanwhile (bench-proc.ts foreignCpuWatch); runs start after a quiet
 * second, and a disturbed run (others over 5 % of the machine's CPU) is repeated, keeping the
 * least disturbed attempt.
 */
import { foreignCpuWatch, ownTreeCpuSeconds } from './bench-proc.js';
import type { H2Target, Results, TargetRuns } from './bench-results.js';
import { round, sleep } from './bench-util.js';

export interface QuietPolicy {
  /** repeats of a disturbed run */
  retries: number;
  /** no repeats after this time (ms since the epoch) */
  retryUntil: number;
  log: (line: string) => void;
}

/** Waits (up to the limit) until other processes use under 10 % of the machine's CPU; returns their share. */
export async function waitQuiet(maxMinutes: number, policy: QuietPolicy, notes: string[]): Promise<number> {
  const end = Date.now() + maxMinutes * 60_000;
  for (;;) {
    const w = foreignCpuWatch();
    await sleep(3000);
    const pct = round(w.stop(), 1);
    if (pct < 10) return pct;
    if (Date.now() >= end) {
      notes.push(`the machine was busy before the run: ${pct} % of its CPU used by other processes`);
      return pct;
    }
    policy.log(`machine busy: other processes use ${pct} % of the CPU; waiting for it to calm down (up to ${maxMinutes} min in all)`);
  }
}

/**
 * The pause before a run: at least a second; longer while the benchmark's own idle processes are
 * still busy (a Node target collecting garbage after its load, up to 10 s) or other processes
 * are (up to 2 min when disturbed runs are repeated).
 */
export async function settle(policy: QuietPolicy): Promise<void> {
  const start = Date.now();
  const foreignEnd = start + (policy.retries > 0 ? Math.min(120_000, policy.retryUntil - start) : 0);
  const ownEnd = start + 10_000;
  for (;;) {
    const w = foreignCpuWatch();
    const own0 = ownTreeCpuSeconds();
    await sleep(1000);
    const ownBusy = ownTreeCpuSeconds() - own0 > 0.03;
    const foreignBusy = w.stop() > 5;
    if ((!ownBusy || Date.now() >= ownEnd) && (!foreignBusy || Date.now() >= foreignEnd)) return;
  }
}

/** One measurement, repeated while disturbed (see the file comment). */
export async function measureClean<T extends { foreignCpuPct: number }>(policy: QuietPolicy, what: string, measure: () => Promise<T>): Promise<T> {
  let best: T | undefined;
  for (let attempt = 0; ; attempt++) {
    await settle(policy);
    const r = await measure();
    if (!best || r.foreignCpuPct < best.foreignCpuPct) best = r;
    const canRetry = attempt < policy.retries && Date.now() < policy.retryUntil;
    if (r.foreignCpuPct <= 5 || !canRetry) return best;
    policy.log(`${what}: other processes used ${r.foreignCpuPct} % of the CPU; measuring again`);
  }
}

export function foreignSummary(runs: TargetRuns[], h2: H2Target[]): Results['foreignCpu'] {
  const all = [...runs.flatMap((t) => [...t.wrk, ...t.fixedRate, ...t.hey]), ...h2.flatMap((t) => t.runs)]
    .map((r) => r.foreignCpuPct)
    .filter((v) => Number.isFinite(v));
  return {
    meanPct: round(all.reduce((a, b) => a + b, 0) / Math.max(1, all.length), 1),
    maxPct: Math.max(0, ...all),
    runsOver5Pct: all.filter((v) => v > 5).length,
    runs: all.length,
  };
}
