/**
 * `clew run`: one pod in the foreground. The sidecar starts first; the app starts once the
 * sidecar is ready (so its first outbound calls already go through a configured proxy). A sidecar
 * that dies after that is restarted with backoff (a kubelet's restart policy; local-restart.ts);
 * when the app exits, or on SIGINT/SIGTERM/SIGHUP, both stop. The result is the app's exit code
 * (or the sidecar's when it died before it was ready).
 */
import { LocalConsole } from './local-console.js';
import { describePod, planPod, readyUrl, sidecarSpec, startApp, type PodSpec } from './local-pod.js';
import { RestartingChild } from './local-restart.js';
import { Supervisor, type ManagedChild } from './local-supervisor.js';
import { awaitRunSidecar, runUntilAppOrSignal } from './run-lifecycle.js';
import { fetchRootCert, PodTokenFile, type ControlPlaneAccess } from './local-credentials.js';
import type { PodAddressing } from './pod-addressing.js';

export interface RunOptions {
  console?: LocalConsole;
  stateDir?: string;
  readyTimeoutMs?: number;
  /** the control plane to get the pod's credentials from (token, root certificate); none: no identity */
  controlPlane?: ControlPlaneAccess;
  /** how the pod is addressed (default loopback-ip) */
  addressing?: PodAddressing;
}

export async function runPod(spec: PodSpec, opts: RunOptions = {}): Promise<number> {
  const con = opts.console ?? new LocalConsole();
  const plan = await planPod(spec, opts.stateDir, opts.addressing);
  let token: PodTokenFile | undefined;
  if (opts.controlPlane) {
    try {
      const rootCert = await fetchRootCert(opts.controlPlane);
      token = await PodTokenFile.create(opts.controlPlane, {
        name: spec.name, namespace: spec.namespace, serviceAccount: spec.serviceAccount, address: plan.address, labels: spec.labels,
      }, rootCert, { stateDir: opts.stateDir, log: (l) => con.info(l) });
      plan.spec.credentials = token.credentials();
    } catch (err) {
      plan.network.release();
      throw err;
    }
  }
  const sup = new Supervisor({ console: con });
  for (const f of plan.network.files) sup.guardFile(f);
  const stop = sup.awaitStopSignal((sig) => con.info(`clew run: ${sig}, stopping ${spec.name}`));
  let app: ManagedChild | undefined;
  try {
    if (opts.addressing) con.info(`pod addressing: ${opts.addressing.mode} (${opts.addressing.reason})`);
    for (const l of describePod(plan)) con.info(l);
    const restarting = new RestartingChild(sup, sidecarSpec(plan), `the sidecar of ${spec.name}`);
    const sidecar = restarting.current;
    const failed = await awaitRunSidecar({ con, name: spec.name, sidecar, readyUrl: readyUrl(plan), stop, timeoutMs: opts.readyTimeoutMs ?? 60_000 });
    if (failed !== undefined) return failed;
    // from now on a sidecar that dies is restarted, and the app keeps running
    restarting.arm();
    if (spec.app) {
      app = startApp(sup, plan);
      con.info(`app ${spec.app.command} started (pid ${app.pid})`);
    }
    return await runUntilAppOrSignal({ con, sup, app, restarting, stop });
  } finally {
    await sup.stop();
    stop.uninstall();
    token?.stop();
    plan.network.release();
  }
}
