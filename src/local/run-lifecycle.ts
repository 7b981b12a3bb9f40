/**
 * The part of `clew run` both pod modes share (loopback addresses and network namespaces): wait
 * for the sidecar, then run until the app exits or a stop signal comes, and the exit code.
 */
import type { LocalConsole } from './local-console.js';
import { httpReady, waitReady } from './local-readiness.js';
import type { RestartingChild } from './local-restart.js';
import { exitCodeOf, type ManagedChild, type StopSignal, type Supervisor } from './local-supervisor.js';

/**
 * Waits until the sidecar answers `readyUrl`. Undefined when it is ready; otherwise the exit code
 * `clew run` returns: 130 after a stop signal, the sidecar's own code (or 1) when it failed.
 */
export async function awaitRunSidecar(o: {
  con: LocalConsole;
  name: string;
  sidecar: ManagedChild;
  readyUrl: string;
  stop: StopSignal;
  timeoutMs: number;
}): Promise<number | undefined> {
  const { con, sidecar, stop } = o;
  try {
    await Promise.race([
      waitReady([{ label: `${o.name} sidecar`, check: () => httpReady(o.readyUrl) }], {
        console: con,
        title: 'Waiting for the sidecar',
        timeoutMs: o.timeoutMs,
        abort: () => (stop.signal() ? `interrupted by ${stop.signal()}` : sidecar.exit ? `sidecar exited (code ${exitCodeOf(sidecar.exit)})` : undefined),
      }),
      stop.woken,
    ]);
  } catch (err) {
    con.info(`clew run: ${(err as Error).message}`);
    return sidecar.exit ? exitCodeOf(sidecar.exit) || 1 : 1;
  }
  return stop.signal() ? 130 : undefined;
}

/**
 * Runs until the app exits or a stop signal comes, then stops everything: the app's exit code,
 * or 130 after a signal.
 */
export async function runUntilAppOrSignal(o: {
  con: LocalConsole;
  sup: Supervisor;
  app: ManagedChild | undefined;
  restarting: RestartingChild | undefined;
  stop: StopSignal;
}): Promise<number> {
  const { app } = o;
  const first = await Promise.race([
    ...(app ? [app.exited.then(() => 'app' as const)] : []),
    o.stop.woken.then(() => 'signal' as const),
  ]);
  o.restarting?.disarm();
  if (first === 'app') o.con.info(`clew run: the app exited (code ${exitCodeOf(app!.exit!)}), stopping the sidecar`);
  await o.sup.stop();
  if (app?.exit) return exitCodeOf(app.exit);
  return 130;
}
