/**
 * Readiness waits with progress: polls each check until it passes, showing a spinner line on a
 * TTY ("Waiting for 3/12: productpage-v1, ...") or one plain line per check that became ready.
 */
import { connect } from 'node:net';
import { request } from 'undici';
import type { LocalConsole } from './local-console.js';
import { LocalError } from './local-errors.js';

export interface ReadyCheck {
  label: string;
  check: () => Promise<boolean>;
}

/** True when GET `url` answers 200 (within `timeoutMs`). */
export async function httpReady(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await request(url, { method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

/** True when a TCP connection to `host:port` succeeds. */
export function tcpReady(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export interface WaitOptions {
  console: LocalConsole;
  /** what we wait for, e.g. "Waiting for sidecars" */
  title: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** polled between rounds: a message aborts the wait (e.g. a child exited) */
  abort?: () => string | undefined;
}

/** Resolves when every check passed; throws CLEW_LOCAL_READY_TIMEOUT (or the abort message). */
export async function waitReady(checks: ReadyCheck[], opts: WaitOptions): Promise<void> {
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 60_000);
  const interval = opts.intervalMs ?? 150;
  const pending = new Set(checks);
  const con = opts.console;
  const secs = (): string => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const show = (): void => {
    const names = [...pending].map((c) => c.label);
    con.setStatus(`${opts.title}: ${checks.length - pending.size}/${checks.length} ready, waiting for ${names.join(', ')}`);
  };
  try {
    while (pending.size > 0) {
      show();
      const aborted = opts.abort?.();
      if (aborted) throw new LocalError('CLEW_LOCAL_CHILD_EXITED', aborted);
      await Promise.all(
        [...pending].map(async (c) => {
          if (await c.check()) {
            pending.delete(c);
            if (!con.tty) con.info(`ready: ${c.label} (${secs()})`);
          }
        }),
      );
      if (pending.size === 0) break;
      if (Date.now() >= deadline) {
        throw new LocalError(
          'CLEW_LOCAL_READY_TIMEOUT',
          `${opts.title}: not ready after ${secs()}: ${[...pending].map((c) => c.label).join(', ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    con.setStatus(undefined);
  }
  con.info(`${opts.title}: all ${checks.length} ready in ${secs()}`);
}
