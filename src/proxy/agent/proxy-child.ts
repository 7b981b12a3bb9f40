/**
 * The proxy side of `clew proxy --hot-restart`: runs in a child of the agent (a node:cluster
 * worker, so its listening sockets are created by the agent and shared with the next
 * generation), reports readiness, and drains or quits when the agent says so.
 */
import type { ProxyHandle } from '../proxy.js';
import { isAgentMessage, RESTART_EPOCH_ENV, type ChildMessage } from './agent-messages.js';

export function restartEpochFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env[RESTART_EPOCH_ENV] ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

export function serveAgent(handle: ProxyHandle, exit: (code: number) => void): void {
  void handle.ready.then(() => process.send?.({ clew: 'ready' } satisfies ChildMessage));
  process.on('message', (m: unknown) => {
    if (!isAgentMessage(m)) return;
    if (m.clew === 'drain') void handle.drain(m.mode).then(() => exit(0));
    else void handle.close().then(() => exit(0));
  });
  // a terminal hangup reaches the whole process group: restarts are the agent's business
  process.on('SIGHUP', () => undefined);
}
