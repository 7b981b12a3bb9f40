/**
 * A real mesh for end-to-end tests: `clew control-plane` and `clew proxy` sidecars as child
 * processes, each sidecar on its own leased loopback address in local mode (interception NONE),
 * started with the same arguments `clew run` gives them (src/local/local-pod.ts). Apps live in the
 * test process, listening on their pod's address. Everything started here is stopped in after()
 * (SIGTERM, then SIGKILL).
 */
import { after } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { clewCommand } from '../../src/local/local-clew-bin.js';
import { planPod, readyUrl, sidecarArgs, type PodPlan } from '../../src/local/local-pod.js';
import { freePorts } from '../../src/local/local-ports.js';
import { httpReady } from '../../src/local/local-readiness.js';
import { giveCredentials } from '../../src/local/local-demo.js';
import { adminTokenOf, type ControlPlaneAccess, type PodTokenFile } from '../../src/local/local-credentials.js';

export { connectTunnel, TunnelAgent, curl } from './mesh-clients.js';

const procs = new Set<ChildProcess>();
const plans: PodPlan[] = [];
const dirs: string[] = [];
const tokens: PodTokenFile[] = [];
/** control planes started here, by xDS address: sidecars planned against one get its credentials */
const controlPlanes = new Map<string, ControlPlaneProc>();

after(async () => {
  for (const t of tokens) t.stop();
  await Promise.all([...procs].map((p) => stopProcess(p)));
  for (const p of plans) p.network.release();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** SIGTERM (a `clew run` then stops its sidecar and app), SIGKILL after `graceMs`. */
export async function stopProcess(p: ChildProcess, graceMs = 5000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
}

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export interface Proc {
  proc: ChildProcess;
  output(): string;
  exited: Promise<void>;
}

/** Spawns `clew <args>`, keeping its output (for failure messages). */
export function spawnClew(args: string[], env: NodeJS.ProcessEnv = {}, user?: { uid: number; gid: number }): Proc {
  const cmd = clewCommand(args);
  const proc = spawn(cmd.command, cmd.args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...user });
  procs.add(proc);
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return { proc, output: () => out, exited };
}

/** Polls (bounded) until `pred` holds. */
export async function waitFor(pred: () => boolean | Promise<boolean>, ms: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ControlPlaneProc extends Proc {
  configDir: string;
  xdsPort: number;
  secureXdsPort: number;
  debugPort: number;
  xdsAddress: string;
  debugUrl: string;
}

/**
 * `clew control-plane` on fixed (or fresh) ports, with `--mesh-config` when a mesh config file is
 * given; resolves once /ready answers.
 */
export async function startControlPlane(configDir: string, ports?: { xds: number; debug: number; secure?: number }, meshConfigFile?: string): Promise<ControlPlaneProc> {
  const [xds, debug, secure] = ports ? [ports.xds, ports.debug, ports.secure ?? (await freePorts('127.0.0.1', 1))[0]] : await freePorts('127.0.0.1', 3);
  const mesh = meshConfigFile ? ['--mesh-config', meshConfigFile] : [];
  const p = spawnClew(['control-plane', '--config-dir', configDir, ...mesh, '--xds-port', String(xds), '--secure-xds-port', String(secure), '--debug-port', String(debug)]);
  const cp: ControlPlaneProc = {
    ...p,
    configDir,
    xdsPort: xds,
    secureXdsPort: secure,
    debugPort: debug,
    xdsAddress: `127.0.0.1:${xds}`,
    debugUrl: `http://127.0.0.1:${debug}`,
  };
  controlPlanes.set(cp.xdsAddress, cp);
  let dead = false;
  void p.exited.then(() => (dead = true));
  await waitFor(async () => {
    if (dead) throw new Error(`control plane exited: ${p.output()}`);
    return httpReady(`${cp.debugUrl}/ready`, 500);
  }, 20_000, () => `the control plane: ${p.output()}`);
  return cp;
}

/** What a pod needs to get its credentials from this control plane. */
export function controlPlaneAccess(cp: ControlPlaneProc): ControlPlaneAccess {
  return { debugUrl: cp.debugUrl, adminToken: adminTokenOf(cp.configDir), secureAddress: `127.0.0.1:${cp.secureXdsPort}` };
}

/** POST /apis/v1/apply on the control plane's debug port (what `clew apply` does). */
export async function applyConfig(cp: { debugUrl: string; configDir: string }, yaml: string): Promise<void> {
  return writeConfig(cp, 'apply', yaml);
}

/** POST /apis/v1/delete (what `clew delete -f` does). */
export async function deleteConfig(cp: { debugUrl: string; configDir: string }, yaml: string): Promise<void> {
  return writeConfig(cp, 'delete', yaml);
}

async function writeConfig(cp: { debugUrl: string; configDir: string }, op: 'apply' | 'delete', yaml: string): Promise<void> {
  const token = readFileSync(join(cp.configDir, '.clew', 'secrets', 'admin-token'), 'utf8').trim();
  const res = await request(`${cp.debugUrl}/apis/v1/${op}`, {
    method: 'POST',
    body: yaml,
    headers: { 'content-type': 'application/yaml', authorization: `Bearer ${token}` },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${op} answered ${res.statusCode}: ${text}`);
}

export interface PodOptions {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  /** workload ports the sidecar serves on the pod address */
  ports?: number[];
  xdsAddress: string;
  /** where address leases live (a temp dir per test file) */
  stateDir: string;
}

export interface Sidecar extends Proc {
  name: string;
  address: string;
  plan: PodPlan;
  /** http://<address>:15001, the pod's HTTP_PROXY */
  outboundUrl: string;
  outbound: { host: string; port: number };
  adminUrl: string;
  /** the value of one counter/gauge from the admin /stats text (0 when absent) */
  stat(name: string): Promise<number>;
}

/** One counter/gauge from a proxy's admin /stats text (0 when absent). */
export async function adminStat(adminUrl: string, name: string): Promise<number> {
  const res = await request(`${adminUrl}/stats`);
  const line = (await res.body.text()).split('\n').find((l) => l.startsWith(`${name}: `));
  return line ? Number(line.slice(name.length + 2)) : 0;
}

/** Leases the pod's address (no process yet): apps bind on `plan.address` before the sidecar starts. */
export async function planSidecar(o: PodOptions): Promise<PodPlan> {
  const plan = await planPod({
    name: o.name,
    namespace: o.namespace ?? 'default',
    labels: o.labels ?? { app: o.name },
    serviceAccount: o.name,
    ports: o.ports ?? [],
    xdsAddress: o.xdsAddress,
  }, o.stateDir);
  plans.push(plan);
  return plan;
}

/**
 * Starts `clew proxy` for a planned pod with the arguments `clew run` uses; `appPorts` says where
 * the app listens for each workload port. Resolves once the sidecar reports ready (within `readyMs`).
 */
export async function startSidecar(plan: PodPlan, appPorts: Record<number, number> = {}, readyMs = 20_000): Promise<Sidecar> {
  for (const [p, appPort] of Object.entries(appPorts)) plan.appPorts.set(Number(p), appPort);
  // as `clew run` does: a workload token and the root, so the sidecar registers, gets its
  // certificate and speaks ADS over TLS
  const cp = controlPlanes.get(plan.spec.xdsAddress);
  if (cp && !plan.spec.credentials) {
    await giveCredentials([plan], controlPlaneAccess(cp), undefined, tokens, () => {});
  }
  const p = spawnClew(sidecarArgs(plan));
  let dead = false;
  void p.exited.then(() => (dead = true));
  await waitFor(async () => {
    if (dead) throw new Error(`sidecar ${plan.spec.name} exited: ${p.output()}`);
    return httpReady(readyUrl(plan), 500);
  }, readyMs, () => `sidecar ${plan.spec.name} to be ready: ${p.output()}`);
  const adminUrl = `http://${plan.address}:${plan.proxyPorts.admin}`;
  return {
    ...p,
    name: plan.spec.name,
    address: plan.address,
    plan,
    outboundUrl: `http://${plan.address}:${plan.proxyPorts.outbound}`,
    outbound: { host: plan.address, port: plan.proxyPorts.outbound },
    adminUrl,
    stat: (name: string) => adminStat(adminUrl, name),
  };
}

/** Service `web` (an http port) whose pods are labelled version v1 / v2, with a DestinationRule naming both subsets. */
export function webV1V2Platform(port: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http-web, port: ${port}, targetPort: ${port}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;
}
