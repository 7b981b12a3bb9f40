/**
 * Running `ip` (iproute2) and friends for the network-namespace local mode, synchronously (the
 * topology changes under a lock, one command after another). A failed command is a LocalError
 * naming the command and what it printed.
 */
import { spawnSync } from 'node:child_process';
import { LocalError } from './local-errors.js';

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cmd(command: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): CmdResult {
  const r = spawnSync(command, args, { encoding: 'utf8', input: opts.input, timeout: 30_000 });
  if (r.error) {
    const e = r.error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `${command} not found (install iproute2 and iptables)`);
    if (!opts.allowFail) throw new LocalError('CLEW_LOCAL_NETNS', `${command} ${args.join(' ')}: ${e.message}`);
    return { code: -1, stdout: '', stderr: e.message };
  }
  const res = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (!opts.allowFail && res.code !== 0) {
    throw new LocalError('CLEW_LOCAL_NETNS', `${command} ${args.join(' ')}: ${res.stderr.trim() || `exit ${res.code}`}`);
  }
  return res;
}

export function ip(args: string[], allowFail = false): CmdResult {
  return cmd('ip', args, { allowFail });
}

/** `ip` inside a namespace (`ip -n NS ...`). */
export function ipIn(ns: string, args: string[], allowFail = false): CmdResult {
  return cmd('ip', ['-n', ns, ...args], { allowFail });
}

/** Any command inside a namespace. */
export function execIn(ns: string, command: string, args: string[], allowFail = false): CmdResult {
  return cmd('ip', ['netns', 'exec', ns, command, ...args], { allowFail });
}

export function netnsList(): string[] {
  return ip(['netns', 'list'], true).stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

export function netnsExists(ns: string): boolean {
  return netnsList().includes(ns);
}

/** Processes inside a namespace. */
export function netnsPids(ns: string): number[] {
  return ip(['netns', 'pids', ns], true).stdout.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** Ends every process inside `ns` (SIGTERM, then SIGKILL after `graceMs`), then deletes it. */
export function deleteNetns(ns: string, graceMs = 2000): void {
  if (!netnsExists(ns)) return;
  let pids = netnsPids(ns);
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.length > 0 && Date.now() < deadline) {
    sleepMs(50);
    pids = netnsPids(ns);
  }
  for (const pid of pids) signal(pid, 'SIGKILL');
  if (pids.length > 0) sleepMs(100);
  ip(['netns', 'del', ns], true);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** A synchronous pause (the topology code runs under a lock, without yielding). */
export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Link names are at most 15 bytes. */
export function linkName(name: string): string {
  if (name.length > 15) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `link name ${name} is longer than 15 characters`);
  return name;
}
