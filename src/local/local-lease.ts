/**
 * Lease files: the lock-free way local mode shares a scarce resource (a loopback address, a
 * port) between processes of one user. A lease is a file in the per-user state dir, created
 * with link() from a private temp file (atomic, content included), holding the owner's pid. A
 * lease whose owner is dead is stale and reclaimed. Released on `release()` and, as a safety
 * net, when the process exits.
 */
import { existsSync, linkSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface Lease {
  /** the lease file */
  file: string;
  release(): void;
}

const active = new Set<Lease>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lease of [...active]) lease.release();
  });
}

/** procfs (Linux) tells zombies apart; elsewhere (macOS, BSD) kill(0) is all there is */
const HAS_PROCFS = existsSync('/proc/self/stat');

/** True when `pid` runs (on Linux a zombie, exited but not yet reaped, counts as dead). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else; still alive
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!HAS_PROCFS) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    // ENOENT: it went away meanwhile; anything else: trust kill(0)
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function leasePid(text: string | undefined): number {
  if (!text) return 0;
  try {
    return Number((JSON.parse(text) as { pid?: number }).pid ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Tries to take `file` atomically, content included: the content goes to a private temp file
 * first, then link() publishes it under the lease name (fails with EEXIST if taken). So no one
 * ever sees a lease file without its owner's pid in it.
 */
function tryCreate(file: string, content: string): boolean {
  const tmp = `${file}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Removes `file` if it still holds exactly `staleText`. Renaming is atomic, so of several
 * reclaimers only one gets the file; if what it got is not the stale lease (someone re-leased in
 * between), it is put back with link(), which fails rather than overwrite.
 */
function reclaimStale(file: string, staleText: string): void {
  const tmp = `${file}.reclaim-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, tmp);
  } catch {
    return;
  }
  const got = readText(tmp);
  if (got !== staleText) {
    try {
      linkSync(tmp, file);
    } catch {
      /* a newer lease exists already */
    }
  }
  try {
    unlinkSync(tmp);
  } catch {
    /* gone */
  }
}

/** Takes the lease `<dir>/<name>` (reclaiming it from a dead owner), or undefined when a live process holds it. */
export function takeLease(dir: string, name: string, owner: string): Lease | undefined {
  installExitHook();
  const file = join(dir, name);
  const content = JSON.stringify({ pid: process.pid, owner, at: new Date().toISOString() });
  if (!tryCreate(file, content)) {
    const text = readText(file);
    // unreadable or without a pid: not ours to judge, leave it
    if (text === undefined || leasePid(text) === 0 || pidAlive(leasePid(text))) return undefined;
    reclaimStale(file, text);
    if (!tryCreate(file, content)) return undefined;
  }
  const lease: Lease = {
    file,
    release() {
      if (!active.delete(lease)) return;
      // only remove it if it is still ours
      if (readText(file) === content) {
        try {
          unlinkSync(file);
        } catch {
          /* already gone */
        }
      }
    },
  };
  active.add(lease);
  return lease;
}

/** The names after `prefix` of the leases in `dir` held by live processes, with their pids. */
export function liveLeases(dir: string, prefix: string): { name: string; pid: number }[] {
  const out: { name: string; pid: number }[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix) || name.includes('.reclaim-') || name.includes('.new-')) continue;
    const pid = leasePid(readText(join(dir, name)));
    if (pidAlive(pid)) out.push({ name: name.slice(prefix.length), pid });
  }
  return out;
}
