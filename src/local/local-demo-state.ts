/**
 * The state of a running demo, written to <state dir>/demo.json when it is ready, so that
 * `clew demo stop` (another process, maybe another terminal) can end it, and so a second
 * `clew demo` refuses to start over it.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from './local-address.js';
import { localStateDir } from './local-state-dir.js';

export interface DemoPodState {
  name: string;
  namespace: string;
  address: string;
  /** workload port -> where its sidecar serves it on `address` (the same port unless pod addressing is `port`) */
  ports?: Record<string, number>;
  /** the sidecar's admin port on `address` */
  adminPort?: number;
  /** workload port -> app port */
  appPorts: Record<string, number>;
  sidecarPid: number;
  appPid?: number;
}

export interface DemoState {
  version: 1;
  /** the process supervising everything; SIGTERM to it stops the demo */
  supervisorPid: number;
  /** the orphan guard's pid */
  guardPid?: number;
  startedAt: string;
  detached: boolean;
  logFile?: string;
  configDir: string;
  /** true when the demo created configDir (and removes it at stop) */
  configDirIsTemp: boolean;
  controlPlane: { pid: number; xdsAddress: string; debugUrl: string };
  /** how the pods are addressed (pod-addressing.ts), and why */
  podAddressing?: { mode: 'loopback-ip' | 'port'; reason: string };
  gateway: { pid: number; address: string; port: number; url: string };
  /** the mesh client's outbound listener (fortio's sidecar) */
  client: { pid: number; address: string; proxyUrl: string };
  /** the dashboard the demo serves (`--dashboard-port`) */
  dashboard?: { url: string };
  /** the sidecars trace every request to the control plane's Zipkin receiver (the demo's own mesh config) */
  tracing?: boolean;
  pods: DemoPodState[];
  /** every child pid (they are process-group leaders) */
  pids: number[];
  /** `clew demo --netns`: the network its pods live in (stop removes what is left of it) */
  netns?: {
    prefix: string;
    podCidr: string;
    stateDir: string;
    guardPid?: number;
    pods: Array<{ name: string; namespace: string; ns: string; ip: string; host: string }>;
  };
}

export function demoStatePath(stateDir: string = localStateDir()): string {
  return join(stateDir, 'demo.json');
}

export function demoLogPath(stateDir: string = localStateDir()): string {
  return join(stateDir, 'demo.log');
}

export function readDemoState(stateDir?: string): DemoState | undefined {
  try {
    const s = JSON.parse(readFileSync(demoStatePath(stateDir), 'utf8')) as DemoState;
    return s && s.version === 1 ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Atomic write (rename), so a reader never sees half a file. */
export function writeDemoState(state: DemoState, stateDir?: string): string {
  const file = demoStatePath(stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}

/** Removes the state file if it still describes `supervisorPid` (or unconditionally). */
export function removeDemoState(stateDir?: string, supervisorPid?: number): void {
  const cur = readDemoState(stateDir);
  if (supervisorPid !== undefined && cur && cur.supervisorPid !== supervisorPid) return;
  try {
    unlinkSync(demoStatePath(stateDir));
  } catch {
    /* gone */
  }
}

/** The running demo, if any (a state file whose supervisor is alive). */
export function runningDemo(stateDir?: string): DemoState | undefined {
  const s = readDemoState(stateDir);
  return s && pidAlive(s.supervisorPid) ? s : undefined;
}
