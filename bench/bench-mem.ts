/**
 * Where a process's resident memory is: /proc/<pid>/smaps_rollup splits RSS into anonymous pages
 * (heap, stacks, JIT code: what the process itself allocated) and file-backed pages (the mapped
 * executable and libraries, mostly shared with every other process running the same binary).
 */
import * as fs from 'node:fs';

export interface MemBreakdown {
  /** resident set, MB (smaps_rollup Rss) */
  rssMb: number;
  /** anonymous pages, MB (smaps_rollup Anonymous) */
  anonMb: number;
  /** file-backed pages (shared memory included), MB: Rss − Anonymous */
  fileMb: number;
}

/** Parses /proc/<pid>/smaps_rollup (kB fields); undefined when it has no Rss or Anonymous line. */
export function parseSmapsRollup(text: string): MemBreakdown | undefined {
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const rss = kb('Rss');
  const anon = kb('Anonymous');
  if (rss === undefined || anon === undefined) return undefined;
  return { rssMb: rss / 1024, anonMb: anon / 1024, fileMb: (rss - anon) / 1024 };
}

/** The processes' memory, summed; undefined when none could be read (exited, or no smaps_rollup: Linux < 4.14). */
export function memBreakdown(pids: number[]): MemBreakdown | undefined {
  let sum: MemBreakdown | undefined;
  for (const p of pids) {
    let m: MemBreakdown | undefined;
    try {
      m = parseSmapsRollup(fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
    } catch {
      // exited, or not readable
    }
    if (!m) continue;
    sum = sum ? { rssMb: sum.rssMb + m.rssMb, anonMb: sum.anonMb + m.anonMb, fileMb: sum.fileMb + m.fileMb } : m;
  }
  return sum;
}

/** Rounded to 0.1 MB, for the results. */
export function roundMem(m: MemBreakdown | undefined): MemBreakdown | undefined {
  const r = (v: number) => Math.round(v * 10) / 10;
  return m && { rssMb: r(m.rssMb), anonMb: r(m.anonMb), fileMb: r(m.fileMb) };
}
