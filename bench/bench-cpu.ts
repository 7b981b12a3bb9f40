/**
 * CPU time of the proxies under test. The scheduler's run time of every thread
 * (/proc/<pid>/task/<tid>/schedstat, first field, ns) is the figure that /proc/<pid>/stat's
 * utime+stime report in clock ticks (10 ms at USER_HZ 100): the kernel scales utime and stime so
 * that their sum is that run time. A 3 s run at 1000 rps costs a proxy 0.2-0.5 s, so a tick is
 * 2-5 % of it; schedstat resolves it to the nanosecond. Without schedstat (a kernel without
 * CONFIG_SCHED_INFO) the meter falls back to the ticks.
 */
import * as fs from 'node:fs';
import { clkTck, cpuSeconds } from './bench-proc.js';

/** Run time of all live threads of `pid` in seconds, or undefined without schedstat (or if the process is gone). */
export function schedstatSeconds(pid: number): number | undefined {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let ns = 0;
  let read = 0;
  for (const tid of tids) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      read++;
    } catch {
      // the thread exited meanwhile (or there is no schedstat)
    }
  }
  return read ? ns / 1e9 : undefined;
}

export type CpuSource = 'schedstat' | 'ticks';

export interface CpuUse {
  /** CPU seconds of the processes during the interval */
  seconds: number;
  /** the same from utime+stime ticks, for comparison */
  tickSeconds: number;
  source: CpuSource;
}

function sample(pids: number[]): { sched: number | undefined; ticks: number } {
  let sched: number | undefined = 0;
  for (const p of pids) {
    const s = schedstatSeconds(p);
    sched = s === undefined || sched === undefined ? undefined : sched + s;
  }
  return { sched, ticks: cpuSeconds(pids) };
}

/**
 * Measures the CPU the processes use from now until stop(): from schedstat when it could be read
 * for every process at both ends, otherwise from ticks. A thread that exits takes its run time out
 * of the schedstat sum (utime+stime keep it): when schedstat falls short of the ticks by more than
 * their truncation (a tick per process at each end), the ticks are used.
 */
export function cpuMeter(pids: number[]): { stop(): CpuUse } {
  const a = sample(pids);
  return {
    stop() {
      const b = sample(pids);
      // whole ticks: rounding drops the float noise of the division by USER_HZ
      const tickSeconds = Math.round((b.ticks - a.ticks) * clkTck()) / clkTck();
      const slack = (2 * pids.length) / clkTck();
      if (a.sched !== undefined && b.sched !== undefined && b.sched - a.sched >= tickSeconds - slack) return { seconds: b.sched - a.sched, tickSeconds, source: 'schedstat' };
      return { seconds: tickSeconds, tickSeconds, source: 'ticks' };
    },
  };
}
