/**
 * `clew demo stop`: ends the demo described by the state file. SIGTERM to its supervisor (which
 * stops its children in order); then any listed process group still running is terminated,
 * so nothing is left behind even if the supervisor died abruptly.
 */
import { rmSync } from 'node:fs';
import { pidAlive } from './local-address.js';
import { readDemoState, removeDemoState, demoStatePath } from './local-demo-state.js';
import { LocalError } from './local-errors.js';
import { removeNetnsLeftovers } from './netns-network.js';

async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let alive = pids.filter(pidAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    alive = alive.filter(pidAlive);
  }
  return alive;
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

export interface StopResult {
  supervisorPid: number;
  /** children that had to be killed here (the supervisor did not stop them) */
  killed: number[];
}

export async function stopDemo(stateDir?: string, graceMs = 15_000): Promise<StopResult> {
  const state = readDemoState(stateDir);
  if (!state) {
    throw new LocalError('CLEW_LOCAL_DEMO_NOT_RUNNING', `no demo is running (no ${demoStatePath(stateDir)})`);
  }
  const supervisorAlive = pidAlive(state.supervisorPid);
  const children = [...state.pids, ...(state.guardPid ? [state.guardPid] : [])];
  if (!supervisorAlive && children.filter(pidAlive).length === 0) {
    if (state.netns) removeNetnsLeftovers(state.netns);
    removeDemoState(stateDir);
    if (state.configDirIsTemp) rmSync(state.configDir, { recursive: true, force: true });
    throw new LocalError('CLEW_LOCAL_DEMO_NOT_RUNNING', 'no demo is running (removed the state of one that ended abruptly)');
  }
  if (supervisorAlive) {
    process.kill(state.supervisorPid, 'SIGTERM');
    await waitGone([state.supervisorPid], graceMs);
    if (pidAlive(state.supervisorPid)) process.kill(state.supervisorPid, 'SIGKILL');
  }
  // the guard cleans up after a dead supervisor; give it a moment, then do it ourselves
  let left = await waitGone(state.pids, 4000);
  for (const pid of left) signalGroup(pid, 'SIGTERM');
  left = await waitGone(left, 2000);
  for (const pid of left) signalGroup(pid, 'SIGKILL');
  await waitGone(left, 2000);
  if (state.guardPid && pidAlive(state.guardPid)) process.kill(state.guardPid, 'SIGKILL');
  // --netns: the supervisor (or its netns guard) removes the pods' namespaces; whatever a killed
  // supervisor and guard left goes now (pods whose owner is gone, then the network itself)
  if (state.netns) removeNetnsLeftovers(state.netns);
  removeDemoState(stateDir);
  if (state.configDirIsTemp) rmSync(state.configDir, { recursive: true, force: true });
  return { supervisorPid: state.supervisorPid, killed: left };
}
