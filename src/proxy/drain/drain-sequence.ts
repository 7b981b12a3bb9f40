/**
 * The whole-proxy drain: Envoy's drain manager plus pilot-agent's "exit once drained" logic.
 *
 * - `graceful` (SIGTERM): every listener keeps accepting for the drain duration (Envoy's
 *   `drain_listeners?graceful`), but every connection is discouraged: HTTP/1.1 responses carry
 *   `connection: close`, HTTP/2 sessions get GOAWAY, idle HTTP/1.1 connections are closed. The
 *   drain is over once no downstream connection is open and none was opened or closed for
 *   `quietMs` (callers that keep sending keep the proxy serving; a caller that has gone quiet
 *   lets it exit right after its last request instead of after the whole drain duration).
 * - `handover` (the old process of a hot restart): the listeners stop accepting at once (the new
 *   process accepts from the same sockets), connections are discouraged the same way, and the
 *   drain is over as soon as the last connection has closed.
 *
 * At `drainMs` the listeners stop accepting (in-flight requests go on); at `parentShutdownMs`
 * whatever is still open is closed and the drain ends regardless.
 */

export type DrainMode = 'graceful' | 'handover';

export interface DrainTarget {
  /** discourage every connection; `accept`: keep the listeners accepting */
  drainListeners(accept: boolean): void;
  stopAccepting(): void;
  openConnections(): number;
  /** last time a downstream connection was accepted or closed (ms since epoch) */
  lastActivityAt(): number;
  destroyConnections(): void;
}

export interface DrainTimes {
  drainMs: number;
  parentShutdownMs: number;
  quietMs: number;
}

export interface DrainResult {
  /** quiescent: nothing left in flight; deadline: parentShutdownMs closed what was left */
  reason: 'quiescent' | 'deadline';
  elapsedMs: number;
  /** connections still open at the deadline (0 when quiescent) */
  closedAtDeadline: number;
}

export const DRAIN_DEFAULTS: DrainTimes = { drainMs: 45_000, parentShutdownMs: 60_000, quietMs: 1000 };

export function runDrain(target: DrainTarget, mode: DrainMode, times: DrainTimes, log: (msg: string) => void): Promise<DrainResult> {
  const t0 = Date.now();
  let accepting = mode === 'graceful';
  target.drainListeners(accepting);
  log(`draining (${mode}): ${target.openConnections()} connection(s) open, drain ${times.drainMs} ms, parent shutdown ${times.parentShutdownMs} ms`);
  return new Promise<DrainResult>((resolve) => {
    let done = false;
    const finish = (reason: DrainResult['reason'], closedAtDeadline: number): void => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(stopTimer);
      clearTimeout(hardTimer);
      resolve({ reason, elapsedMs: Date.now() - t0, closedAtDeadline });
    };
    const check = (): void => {
      if (target.openConnections() > 0) return;
      if (accepting && Date.now() - target.lastActivityAt() < times.quietMs) return;
      finish('quiescent', 0);
    };
    const poll = setInterval(check, Math.max(10, Math.min(50, times.quietMs / 4)));
    const stopTimer = setTimeout(() => {
      if (accepting) {
        accepting = false;
        target.stopAccepting();
        log(`drain duration over: listeners closed, ${target.openConnections()} connection(s) still open`);
      }
      check();
    }, Math.min(times.drainMs, times.parentShutdownMs));
    const hardTimer = setTimeout(() => {
      const left = target.openConnections();
      target.stopAccepting();
      target.destroyConnections();
      finish('deadline', left);
    }, times.parentShutdownMs);
    // the listeners keep a proxy process alive; these timers alone should not
    poll.unref();
    stopTimer.unref();
    hardTimer.unref();
    check();
  });
}
