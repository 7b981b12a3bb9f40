/**
 * Loopback address leases: each local workload ("pod") gets its own 127.0.<x>.<y> so every
 * sidecar can bind Istio's well-known ports on it (Linux routes all of 127/8 to lo, no root).
 *
 * Lock-free: a lease is the file `addr-127.0.x.y` in the per-user state dir, created with
 * link() from a private temp file (atomic, content included), holding the owner's pid. A lease
 * whose owner is dead is stale and reclaimed.
 * Released on `release()` and, as a safety net, when the process exits.
 */
import { linkSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LocalError } from './local-errors.js';
import { isPortFree } from './local-ports.js';
import { localStateDir } from './local-state-dir.js';

export interface AddressLease {
  address: string;
  /** the lease file */
  file: string;
  release(): void;
}

export interface AllocateOptions {
  stateDir?: string;
  /** who holds it (shown in the lease file, for humans) */
  owner?: string;
  /** ports that must be bindable on the address (else it is skipped: someone else uses it) */
  probePorts?: number[];
  /**
   * first third octet to try (default $CLEW_LOCAL_FIRST_BLOCK or 1); 127.0.0.x is left to the
   * host. Separate blocks keep users of separate state dirs (e.g. parallel tests) apart.
   */
  firstBlock?: number;
}

const LEASE_PREFIX = 'addr-';
const active = new Set<AddressLease>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lease of [...active]) lease.release();
  });
}

/** True when `pid` runs (a zombie, exited but not yet reaped, counts as dead). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else; still alive
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    // ENOENT: it went away meanwhile; otherwise no procfs here, trust kill(0)
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

function* candidates(firstBlock: number): Generator<string> {
  for (let x = firstBlock; x <= 255; x++) {
    for (let y = 1; y <= 254; y++) yield `127.0.${x}.${y}`;
  }
}

/** Leases the lowest free loopback address (released ones are reused first). */
export async function allocateAddress(opts: AllocateOptions = {}): Promise<AddressLease> {
  const dir = opts.stateDir ?? localStateDir();
  const content = JSON.stringify({ pid: process.pid, owner: opts.owner ?? '', at: new Date().toISOString() });
  installExitHook();
  const firstBlock = opts.firstBlock ?? (Number(process.env.CLEW_LOCAL_FIRST_BLOCK) || 1);
  for (const address of candidates(firstBlock)) {
    const file = join(dir, `${LEASE_PREFIX}${address}`);
    if (!tryCreate(file, content)) {
      const text = readText(file);
      // unreadable or without a pid: not ours to judge, leave it
      if (text === undefined || leasePid(text) === 0 || pidAlive(leasePid(text))) continue;
      reclaimStale(file, text);
      if (!tryCreate(file, content)) continue;
    }
    const lease = makeLease(address, file, content);
    if (await usable(address, opts.probePorts ?? [])) return lease;
    // someone outside our state dir (another user, a stray process) uses it: skip it
    lease.release();
  }
  throw new LocalError('CLEW_LOCAL_NO_ADDRESS', `no free loopback address left in 127.0.${firstBlock}-255.x`);
}

function makeLease(address: string, file: string, content: string): AddressLease {
  const lease: AddressLease = {
    address,
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

async function usable(address: string, ports: number[]): Promise<boolean> {
  if (!(await isPortFree(address, 0))) return false; // not routable here (e.g. not Linux)
  for (const p of ports) if (!(await isPortFree(address, p))) return false;
  return true;
}

/** The addresses currently leased in `dir` by live processes (for diagnostics and tests). */
export function listLeases(dir: string = localStateDir()): { address: string; pid: number }[] {
  const out: { address: string; pid: number }[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(LEASE_PREFIX) || name.includes('.reclaim-') || name.includes('.new-')) continue;
    const pid = leasePid(readText(join(dir, name)));
    if (pidAlive(pid)) out.push({ address: name.slice(LEASE_PREFIX.length), pid });
  }
  return out;
}
