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
import { httpReady, waitReady } from './local-readiness.js';
import { exitCodeOf, Supervisor, type ManagedChild } from './local-supervisor.js';

export interface RunOptions {
  console?: LocalConsole;
  stateDir?: string;
  readyTimeoutMs?: number;
}

export async function runPod(spec: PodSpec, opts: RunOptions = {}): Promise<number> {
  const con = opts.console ?? new LocalConsole();
  const plan = await planPod(spec, opts.stateDir);
  const sup = new Supervisor({ console: con });
  if (plan.lease) sup.guardFile(plan.lease.file);
  let signalled: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  const woken = new Promise<void>((r) => (wake = r));
  const uninstall = sup.onSignals((sig) => {
    if (signalled) return;
    signalled = sig;
    con.info(`clew run: ${sig}, stopping ${spec.name}`);
    wake();
  });
  let app: ManagedChild | undefined;
  try {
    for (const l of describePod(plan)) con.info(l);
    const restarting = new RestartingChild(sup, sidecarSpec(plan), `the sidecar of ${spec.name}`);
    const sidecar = restarting.current;
    try {
      await Promise.race([
        waitReady([{ label: `${spec.name} sidecar`, check: () => httpReady(readyUrl(plan)) }], {
          console: con,
          title: 'Waiting for the sidecar',
          timeoutMs: opts.readyTimeoutMs ?? 60_000,
          abort: () =>
            signalled ? `interrupted by ${signalled}` : sidecar.exit ? `sidecar exited (code ${exitCodeOf(sidecar.exit)})` : undefined,
        }),
        woken,
      ]);
    } catch (err) {
      con.info(`clew run: ${(err as Error).message}`);
      return sidecar.exit ? exitCodeOf(sidecar.exit) || 1 : 1;
    }
    if (signalled) return 130;
    // from now on a sidecar that dies is restarted, and the app keeps running
    restarting.arm();
    if (spec.app) {
      app = startApp(sup, plan);
      con.info(`app ${spec.app.command} started (pid ${app.pid})`);
    }
    const first = await Promise.race([
      ...(app ? [app.exited.then(() => 'app' as const)] : []),
      woken.then(() => 'signal' as const),
    ]);
    restarting.disarm();
    if (first === 'app') con.info(`clew run: the app exited (code ${exitCodeOf(app!.exit!)}), stopping the sidecar`);
    await sup.stop();
    if (app?.exit) return exitCodeOf(app.exit);
    return 130;
  } finally {
    await sup.stop();
    uninstall();
    plan.lease?.release();
  }
}
