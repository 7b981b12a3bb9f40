/**
 * How local pods are addressed on this machine, one interface with two implementations:
 *
 *   loopback-ip  every pod on its own 127.0.x.y with Istio's well-known sidecar ports (15001,
 *                15000, 15090, 15021) and its workload ports as declared: Linux routes all of
 *                127/8 to lo (pod-addressing-loopback.ts)
 *   port         every pod on 127.0.0.1, its sidecar's ports, the inbound ports of its workload
 *                ports and its app's ports leased per pod from one port range (macOS has only
 *                127.0.0.1 unless an administrator adds aliases): pod-addressing-port.ts
 *
 * In port mode the sidecar binds workload port P on another port (`--remap-port P=REAL`) and
 * publishes it in its node metadata (CLEW_ENDPOINT_PORTS), so EDS endpoints carry the real port;
 * its admin and stats ports go there too (CLEW_ADMIN_PORT, CLEW_STATS_PORT).
 *
 * The mode: `--pod-addressing`, else $CLEW_POD_ADDRESSING, else loopback-ip when 127.0.1.1 can
 * be bound here and port otherwise.
 */
import { createServer } from 'node:net';
import { LocalError } from './local-errors.js';

export type PodAddressingMode = 'loopback-ip' | 'port';
export const POD_ADDRESSING_MODES: readonly PodAddressingMode[] = ['loopback-ip', 'port'];
export const POD_ADDRESSING_ENV = 'CLEW_POD_ADDRESSING';

/** The sidecar's own ports (Istio's: outbound 15001, inbound 15006, admin 15000, stats 15090, ready 15021). */
export interface ProxyPorts {
  outbound: number;
  inbound: number;
  admin: number;
  stats: number;
  ready: number;
}

export const DEFAULT_PROXY_PORTS: ProxyPorts = { outbound: 15001, inbound: 15006, admin: 15000, stats: 15090, ready: 15021 };

export interface PodNetworkRequest {
  /** `name.namespace`, for the lease files */
  owner: string;
  /** the workload's (container) ports */
  ports: number[];
  /** whether the pod has an app (then it gets an app port per workload port) */
  app: boolean;
  /** a fixed pod address (else the mode's choice) */
  address?: string;
  /** sidecar ports fixed by the caller (flags, the gateway); the rest are the mode's choice */
  proxyPorts?: Partial<ProxyPorts>;
}

/** Where one pod's sockets are. */
export interface PodNetwork {
  address: string;
  proxyPorts: ProxyPorts;
  /** workload port -> the port its sidecar listener binds on `address` (the EDS endpoint's port) */
  inboundPorts: Map<number, number>;
  /** workload port -> the app's port on `address` */
  appPorts: Map<number, number>;
  /** lease files (the supervisor's guard removes them if it is killed) */
  files: string[];
  release(): void;
}

export interface PodAddressing {
  readonly mode: PodAddressingMode;
  /** why this mode was chosen (shown by `clew demo` and `clew run`) */
  readonly reason: string;
  allocate(req: PodNetworkRequest, stateDir?: string): Promise<PodNetwork>;
}

/** Parses a mode named by `source` (a flag or the environment variable); anything else is a usage error. */
export function parsePodAddressingMode(value: string, source: string): PodAddressingMode {
  const v = value.trim().toLowerCase();
  if ((POD_ADDRESSING_MODES as readonly string[]).includes(v)) return v as PodAddressingMode;
  throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `${source}: unknown pod addressing ${JSON.stringify(value)} (expected ${POD_ADDRESSING_MODES.join(' or ')})`);
}

/** Whether 127.0.1.1 can be bound here (Linux: yes; macOS without loopback aliases: no), with the error if not. */
export function probeLoopbackIp(address = '127.0.1.1'): Promise<{ ok: true } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.code ?? err.message }));
    srv.listen({ host: address, port: 0, exclusive: true }, () => srv.close(() => resolve({ ok: true })));
  });
}

/** The mode and why: the flag, else the environment, else what this machine can do. */
export async function choosePodAddressingMode(
  flag: string | undefined, env: NodeJS.ProcessEnv = process.env, probe = probeLoopbackIp,
): Promise<{ mode: PodAddressingMode; reason: string }> {
  if (flag !== undefined) return { mode: parsePodAddressingMode(flag, '--pod-addressing'), reason: 'set by --pod-addressing' };
  const fromEnv = env[POD_ADDRESSING_ENV];
  if (fromEnv) return { mode: parsePodAddressingMode(fromEnv, `$${POD_ADDRESSING_ENV}`), reason: `set by $${POD_ADDRESSING_ENV}` };
  const r = await probe();
  if (r.ok) return { mode: 'loopback-ip', reason: 'this machine routes 127.0.0.0/8 to loopback' };
  return { mode: 'port', reason: `127.0.1.1 cannot be bound here (${r.error}): every pod on 127.0.0.1 with its own ports` };
}
