/**
 * Loopback address leases: each local workload ("pod") gets its own 127.0.<x>.<y> so every
 * sidecar can bind Istio's well-known ports on it (Linux routes all of 127/8 to lo, no root; macOS
 * does not: there local mode uses per-pod ports instead, pod-addressing-port.ts).
 * A lease is the file `addr-127.0.x.y` in the per-user state dir (local-lease.ts).
 */
import { LocalError } from './local-errors.js';
import { liveLeases, takeLease } from './local-lease.js';
import { isPortFree } from './local-ports.js';
import { localStateDir } from './local-state-dir.js';

export { pidAlive } from './local-lease.js';

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

function* candidates(firstBlock: number): Generator<string> {
  for (let x = firstBlock; x <= 255; x++) {
    for (let y = 1; y <= 254; y++) yield `127.0.${x}.${y}`;
  }
}

/** Leases the lowest free loopback address (released ones are reused first). */
export async function allocateAddress(opts: AllocateOptions = {}): Promise<AddressLease> {
  const dir = opts.stateDir ?? localStateDir();
  const firstBlock = opts.firstBlock ?? (Number(process.env.CLEW_LOCAL_FIRST_BLOCK) || 1);
  for (const address of candidates(firstBlock)) {
    const lease = takeLease(dir, `${LEASE_PREFIX}${address}`, opts.owner ?? '');
    if (!lease) continue;
    if (await usable(address, opts.probePorts ?? [])) return { address, file: lease.file, release: () => lease.release() };
    // someone outside our state dir (another user, a stray process) uses it: skip it
    lease.release();
  }
  throw new LocalError('CLEW_LOCAL_NO_ADDRESS', `no free loopback address left in 127.0.${firstBlock}-255.x`);
}

async function usable(address: string, ports: number[]): Promise<boolean> {
  if (!(await isPortFree(address, 0))) return false; // not routable here (e.g. not Linux)
  for (const p of ports) if (!(await isPortFree(address, p))) return false;
  return true;
}

/** The addresses currently leased in `dir` by live processes (for diagnostics and tests). */
export function listLeases(dir: string = localStateDir()): { address: string; pid: number }[] {
  return liveLeases(dir, LEASE_PREFIX).map((l) => ({ address: l.name, pid: l.pid }));
}
