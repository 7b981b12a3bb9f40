/**
 * The proxy side of `clew proxy --hot-restart` / `--concurrency N`: runs in a worker of the
 * agent (a node:cluster worker, so its listening sockets are created by the agent and shared
 * with the other workers and the next generation), reports readiness, and drains or quits when
 * the agent says so. With N > 1, worker 0 of a generation runs the ADS stream, forwards what it
 * accepts and serves admin/stats/readiness with every worker's stats; workers 1..N-1 take its
 * configuration and push their stats to it (worker-config-feed.ts, worker-stats.ts).
 */
import type { ProxyHandle, ProxyWorkerHooks } from '../proxy.js';
import { CONCURRENCY_ENV, isAgentMessage, RESTART_EPOCH_ENV, WORKER_INDEX_ENV, type ChildMessage } from './agent-messages.js';
import { FollowerConfigSource, forwardingApplier } from './worker-config-feed.js';
import { snapshotStats, STATS_PUSH_MS, WorkerStatsStore } from './worker-stats.js';

export interface WorkerRole {
  /** hot restart generation (0, 1, ...) */
  epoch: number;
  /** index in the generation; 0 is the config leader */
  index: number;
  /** workers in the generation */
  concurrency: number;
}

function envInt(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const n = Number(env[name] ?? dflt);
  return Number.isInteger(n) && n >= 0 ? n : dflt;
}

export function restartEpochFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return envInt(env, RESTART_EPOCH_ENV, 0);
}

export function workerRoleFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerRole {
  return { epoch: restartEpochFromEnv(env), index: envInt(env, WORKER_INDEX_ENV, 0), concurrency: Math.max(1, envInt(env, CONCURRENCY_ENV, 1)) };
}

function sendToAgent(m: ChildMessage): void {
  if (!process.connected) return;
  try {
    process.send?.(m, undefined, {}, () => undefined);
  } catch {
    /* the agent is gone; the channel's disconnect ends this worker */
  }
}

/** startProxy's hooks for this worker's role (none for a lone worker). */
export function workerHooks(role: WorkerRole): ProxyWorkerHooks {
  if (role.concurrency <= 1) return {};
  if (role.index === 0) {
    let othersReady = false;
    process.on('message', (m: unknown) => {
      if (isAgentMessage(m) && m.clew === 'all-ready') othersReady = true;
    });
    return { stats: new WorkerStatsStore(), wrapApplier: (a) => forwardingApplier(a, sendToAgent), othersReady: () => othersReady };
  }
  const log = (msg: string): void => void process.stderr.write(`${new Date().toISOString()} [warn] clew-proxy: ${msg}\n`);
  return { admin: false, configSource: (a) => new FollowerConfigSource(a, sendToAgent, log) };
}

export function serveAgent(handle: ProxyHandle, role: WorkerRole, exit: (code: number) => void): void {
  void handle.ready.then(() => sendToAgent({ clew: 'ready' }));
  process.on('message', (m: unknown) => {
    if (!isAgentMessage(m)) return;
    if (m.clew === 'drain') void handle.drain(m.mode).then(() => exit(0));
    else if (m.clew === 'quit') void handle.close().then(() => exit(0));
    else if (m.clew === 'stats' && handle.stats instanceof WorkerStatsStore && m.worker !== undefined) handle.stats.setRemote(m.worker, m.series);
  });
  if (role.concurrency > 1 && role.index > 0) {
    const timer = setInterval(() => sendToAgent({ clew: 'stats', series: snapshotStats(handle.stats) }), STATS_PUSH_MS);
    timer.unref();
    sendToAgent({ clew: 'stats', series: snapshotStats(handle.stats) });
  }
  // a terminal hangup reaches the whole process group: restarts are the agent's business
  process.on('SIGHUP', () => undefined);
}
