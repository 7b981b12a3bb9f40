/**
 * Processes of the benchmark: spawn pinned to a CPU with `taskset`, run a tool with a hard time
 * bound, and read a process tree's CPU time (utime+stime from /proc/<pid>/stat) and RSS.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { sleep } from './bench-util.js';

let clockTicks = 0;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on Linux in practice). */
export function clkTck(): number {
  if (clockTicks) return clockTicks;
  try {
    clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    clockTicks = 100;
  }
  return clockTicks;
}

interface ProcStat { pid: number; ppid: number; ticks: number; childTicks: number }

function readStat(pid: number): ProcStat | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces: parse after its closing parenthesis
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15
    // cutime/cstime (16, 17): children that exited and were waited for
    return { pid, ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]), childTicks: Number(rest[13]) + Number(rest[14]) };
  } catch {
    return undefined;
  }
}

/** The pid and all its descendants that are alive now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(st.pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop()!;
    if (!fs.existsSync(`/proc/${p}`)) continue;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds (user+system, all threads) of the given processes. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const p of pids) ticks += readStat(p)?.ticks ?? 0;
  return ticks / clkTck();
}

/** Busy CPU seconds of the whole machine (all CPUs) from /proc/stat. */
export function machineBusySeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  // cpu user nice system idle iowait irq softirq steal ...
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] ?? 0)) / clkTck();
}

/** CPU seconds of this process, its live descendants and its exited (waited-for) children. */
export function ownTreeCpuSeconds(): number {
  const self = readStat(process.pid);
  return cpuSeconds(processTree(process.pid)) + (self ? self.childTicks / clkTck() : 0);
}

/**
 * Watches CPU used on the machine by processes outside this benchmark (other jobs sharing the
 * machine), as a percentage of all CPUs over the watched interval.
 */
export function foreignCpuWatch(): { stop(): number } {
  const ncpu = os.cpus().length;
  const t0 = performance.now();
  const busy0 = machineBusySeconds();
  const own0 = ownTreeCpuSeconds();
  return {
    stop() {
      const secs = (performance.now() - t0) / 1000;
      const foreign = machineBusySeconds() - busy0 - (ownTreeCpuSeconds() - own0);
      return Math.max(0, (foreign * 100) / (secs * ncpu));
    },
  };
}

/** Resident set size in MB (sum over the processes). */
export function rssMb(pids: number[]): number {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // exited
    }
  }
  return kb / 1024;
}

/** Samples the RSS of `pids` every `everyMs` until stopped; returns the peak. */
export function rssSampler(pids: () => number[], everyMs = 250): { stop(): number } {
  let peak = rssMb(pids());
  const t = setInterval(() => {
    peak = Math.max(peak, rssMb(pids()));
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, rssMb(pids()));
    },
  };
}

export interface Pinned {
  child: ChildProcess;
  pid: number;
  name: string;
  /** resolves when it exits */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Starts `command` pinned to `cpu` (taskset execs it, so the pid is the command's), in its own
 * process group so that stop() ends it and whatever it started. Output goes to `logFile`.
 */
export function spawnPinned(name: string, cpu: number | undefined, command: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Pinned {
  const fd = fs.openSync(logFile, 'a');
  const [cmd, argv] = cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]];
  const child = spawn(cmd, argv, { stdio: ['ignore', fd, fd], detached: true, env: env ?? process.env });
  fs.closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('error', () => undefined);
  const pid = child.pid!;
  return {
    child,
    pid,
    name,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        return;
      }
      const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
      if (!done) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone
        }
        await exited;
      }
    },
  };
}

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

const activeTools = new Set<number>();

/** Kills the tools still running (the suite is stopping). */
export function killActiveTools(): void {
  for (const pid of activeTools) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  activeTools.clear();
}

/** Runs a tool (optionally pinned) and kills it after `timeoutMs`. */
export function runTool(command: string, args: string[], opts: { cpu?: number; timeoutMs: number }): Promise<ToolRun> {
  const [cmd, argv] = opts.cpu === undefined ? [command, args] : ['taskset', ['-c', String(opts.cpu), command, ...args]];
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid) activeTools.add(child.pid);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      if (child.pid) activeTools.delete(child.pid);
      resolve({ code: -1, stdout, stderr: stderr + String(err), timedOut, ms: Date.now() - t0 });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (child.pid) activeTools.delete(child.pid);
      resolve({ code, stdout, stderr, timedOut, ms: Date.now() - t0 });
    });
  });
}
