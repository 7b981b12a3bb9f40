/**
 * Node.js's own floor, measured in the same run as Clew: one raw TCP relay (tcp-relay.ts) as the
 * cheapest possible Node proxy hop, two chained relays as the cheapest two-hop mesh path, and a
 * bare `node` process that does nothing, for the RSS any Node sidecar starts from. All run with
 * the sidecar's node flags (PROXY_NODE_FLAGS), pinned like the sidecar.
 */
import * as path from 'node:path';
import { PROXY_NODE_FLAGS } from '../src/cli/proxy-heap.js';
import { spawnPinned, type Pinned } from './bench-proc.js';
import { freePortOn, repoRoot, waitForPort } from './bench-util.js';

/** what the bare node process runs: a timer that keeps it alive and never fires */
export const BARE_NODE_SCRIPT = 'setInterval(()=>{},1e9)';

/** The command line of the bare node process, for the report. */
export function bareNodeCommand(): string {
  return ['node', ...PROXY_NODE_FLAGS, '-e', `'${BARE_NODE_SCRIPT}'`].join(' ');
}

async function startRelay(name: string, workDir: string, upstreamPort: number, cpu?: number): Promise<{ proc: Pinned; port: number }> {
  const port = await freePortOn('127.0.0.1');
  const script = path.join(repoRoot(), 'dist', 'bench', 'tcp-relay.js');
  const proc = spawnPinned(name, cpu, process.execPath, [...PROXY_NODE_FLAGS, script, '--port', String(port), '--upstream-port', String(upstreamPort)], path.join(workDir, `${name}.log`));
  try {
    await waitForPort('127.0.0.1', port, 10_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { proc, port };
}

export interface RelayChain {
  /** in path order: the first one is what the load generator calls */
  procs: Pinned[];
  url: string;
}

/** `hops` relays chained in front of the upstream (load → relay 1 → … → relay n → upstream). */
export async function startRelayChain(hops: number, workDir: string, upstreamPort: number, cpu?: number): Promise<RelayChain> {
  const procs: Pinned[] = [];
  let next = upstreamPort;
  try {
    for (let i = hops; i >= 1; i--) {
      const r = await startRelay(`tcp-relay-${hops}-${i}`, workDir, next, cpu);
      procs.unshift(r.proc);
      next = r.port;
    }
  } catch (err) {
    for (const p of procs) await p.stop();
    throw err;
  }
  return { procs, url: `http://127.0.0.1:${next}/` };
}

/** The bare node process (see BARE_NODE_SCRIPT); it needs no readiness check, it only has to idle. */
export function startBareNode(workDir: string, cpu?: number): Pinned {
  return spawnPinned('bare-node', cpu, process.execPath, [...PROXY_NODE_FLAGS, '-e', BARE_NODE_SCRIPT], path.join(workDir, 'bare-node.log'));
}

/**
 * Node's HTTP/2 floor (h2-proxy.ts: node:http2 server stream → one client session upstream),
 * with the sidecar's node flags, pinned like the sidecar. h2load through the raw TCP relay is the
 * byte floor below it.
 */
export async function startH2Proxy(workDir: string, upstreamPort: number, cpu?: number): Promise<{ proc: Pinned; url: string }> {
  const port = await freePortOn('127.0.0.1');
  const script = path.join(repoRoot(), 'dist', 'bench', 'h2-proxy.js');
  const proc = spawnPinned('h2-proxy', cpu, process.execPath, [...PROXY_NODE_FLAGS, script, '--port', String(port), '--upstream-port', String(upstreamPort)], path.join(workDir, 'h2-proxy.log'));
  try {
    await waitForPort('127.0.0.1', port, 10_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { proc, url: `http://127.0.0.1:${port}/` };
}
