/**
 * Pod addressing `port` (macOS, or forced): every pod on 127.0.0.1 (or a fixed address), and
 * every port a pod needs leased from one range: the sidecar's outbound, inbound, admin, stats and
 * readiness ports, then the port its sidecar binds for each workload port, then the app's port
 * for each. A lease is the file `port-<n>` in the per-user state dir (local-lease.ts), so pods of
 * one user never share a port; a port someone else has bound is skipped, as taken addresses are.
 *
 * The range is 20000-32767: below the kernel's ephemeral ports (Linux 32768-60999, macOS
 * 49152-65535) so outgoing connections never sit on a port a pod is about to bind, and above the
 * mesh's well-known ports. The scan starts at $CLEW_LOCAL_FIRST_PORT, else at a base derived from
 * the state dir (separate users and state dirs start in separate places), and wraps once. Pods
 * are planned in a fixed order and the lowest free port is taken, so a demo started again gets
 * the same ports.
 */
import { LocalError } from './local-errors.js';
import { takeLease, type Lease } from './local-lease.js';
import { assertPortsFree, isPortFree } from './local-ports.js';
import { localStateDir } from './local-state-dir.js';
import { DEFAULT_PROXY_PORTS, type PodAddressing, type PodNetwork, type PodNetworkRequest, type ProxyPorts } from './pod-addressing.js';

export const PORT_RANGE = { first: 20000, last: 32767 } as const;
const LEASE_PREFIX = 'port-';
const PROXY_PORT_ORDER: (keyof ProxyPorts)[] = ['outbound', 'inbound', 'admin', 'stats', 'ready'];

/** FNV-1a of the state dir: where its scan starts (stable for one state dir). */
export function firstPortFor(stateDir: string, env: NodeJS.ProcessEnv = process.env): number {
  const fixed = Number(env.CLEW_LOCAL_FIRST_PORT);
  if (env.CLEW_LOCAL_FIRST_PORT !== undefined) {
    if (!Number.isInteger(fixed) || fixed < PORT_RANGE.first || fixed > PORT_RANGE.last) {
      throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `$CLEW_LOCAL_FIRST_PORT: expected a port from ${PORT_RANGE.first} to ${PORT_RANGE.last}, got ${JSON.stringify(env.CLEW_LOCAL_FIRST_PORT)}`);
    }
    return fixed;
  }
  let h = 0x811c9dc5;
  for (const c of Buffer.from(stateDir)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  // 100 starting points 100 ports apart in 21000-30900: a demo needs about 70
  return 21000 + (h % 100) * 100;
}

function* candidates(first: number): Generator<number> {
  for (let p = first; p <= PORT_RANGE.last; p++) yield p;
  for (let p = PORT_RANGE.first; p < first; p++) yield p;
}

export function portAddressing(reason = 'port', host = '127.0.0.1'): PodAddressing {
  return {
    mode: 'port',
    reason,
    async allocate(req: PodNetworkRequest, stateDir?: string): Promise<PodNetwork> {
      const dir = stateDir ?? localStateDir();
      const address = req.address ?? host;
      const leases: Lease[] = [];
      const release = (): void => {
        for (const l of leases) l.release();
      };
      try {
        const fixed = PROXY_PORT_ORDER.filter((k) => req.proxyPorts?.[k] !== undefined)
          .map((k) => ({ port: req.proxyPorts![k]!, what: `${req.owner} ${k} port` }));
        await assertPortsFree(address, fixed);
        const gen = candidates(firstPortFor(dir));
        const next = async (): Promise<number> => {
          for (let r = gen.next(); !r.done; r = gen.next()) {
            const port = r.value;
            const lease = takeLease(dir, `${LEASE_PREFIX}${port}`, req.owner);
            if (!lease) continue;
            if (await isPortFree(address, port)) {
              leases.push(lease);
              return port;
            }
            lease.release(); // someone outside our state dir uses it
          }
          throw new LocalError('CLEW_LOCAL_NO_PORT', `no free port left in ${PORT_RANGE.first}-${PORT_RANGE.last} on ${address} for ${req.owner}`);
        };
        const proxyPorts = { ...DEFAULT_PROXY_PORTS };
        for (const k of PROXY_PORT_ORDER) proxyPorts[k] = req.proxyPorts?.[k] ?? (await next());
        const inboundPorts = new Map<number, number>();
        for (const p of req.ports) inboundPorts.set(p, await next());
        const appPorts = new Map<number, number>();
        if (req.app) for (const p of req.ports) appPorts.set(p, await next());
        return { address, proxyPorts, inboundPorts, appPorts, files: leases.map((l) => l.file), release };
      } catch (err) {
        release();
        throw err;
      }
    },
  };
}
