/** Starts the network-namespace guard (netns-guard-main.ts) for a supervisor of `--netns` pods. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NetnsNetwork } from './netns-network.js';

export class NetnsGuard {
  private proc: ChildProcess | undefined;

  constructor(network: NetnsNetwork) {
    const script = fileURLToPath(new URL('./netns-guard-main.js', import.meta.url));
    const p = spawn(process.execPath, [script], { stdio: ['pipe', 'ignore', 'inherit'], detached: true });
    p.on('error', () => (this.proc = undefined));
    p.stdin?.on('error', () => undefined);
    p.unref();
    (p.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    p.stdin?.write(`${JSON.stringify({ prefix: network.prefix, podCidr: network.podCidr, stateDir: network.stateDir })}\n`);
    this.proc = p;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** A clean stop: the guard exits without touching anything. */
  close(): void {
    this.proc?.stdin?.end('q\n');
    this.proc = undefined;
  }
}
