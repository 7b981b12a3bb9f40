/**
 * Process supervision for local mode. Each child runs in its own process group (so a stop
 * reaches its own children too, and Ctrl-C on the terminal reaches only us, who stop everything
 * in order), its output is forwarded line by line prefixed with `[name]`, and an orphan guard
 * (local-watchdog-main) kills the groups if this process dies without stopping them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { LocalConsole } from './local-console.js';
import { forwardLines } from './local-line-splitter.js';

export interface ChildSpec {
  name: string;
  command: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Shell convention: the exit code, or 128 + signal number. */
export function exitCodeOf(e: ChildExit): number {
  if (e.code !== null) return e.code;
  const n = e.signal ? (constants.signals as Record<string, number>)[e.signal] : undefined;
  return 128 + (n ?? 1);
}

export class ManagedChild {
  exit: ChildExit | undefined;
  readonly exited: Promise<ChildExit>;

  constructor(readonly name: string, readonly proc: ChildProcess) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      proc.once('error', (err) => {
        // spawn failure (ENOENT...): no exit event follows
        if (this.exit) return;
        this.exit = { code: 127, signal: null };
        proc.emit('spawn-error', err);
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  get running(): boolean {
    return this.exit === undefined && this.pid > 0;
  }

  /** Signals the child's whole process group. */
  signal(sig: NodeJS.Signals): void {
    if (this.pid <= 0) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      try {
        this.proc.kill(sig);
      } catch {
        /* gone */
      }
    }
  }
}

export interface SupervisorOptions {
  console?: LocalConsole;
  /** start the orphan guard (default true) */
  watchdog?: boolean;
}

/** A supervisor's wait for the first stop signal (see Supervisor.awaitStopSignal). */
export interface StopSignal {
  signal(): NodeJS.Signals | undefined;
  woken: Promise<void>;
  uninstall(): void;
}

export class Supervisor extends EventEmitter {
  readonly console: LocalConsole;
  private readonly kids: ManagedChild[] = [];
  private guard: ChildProcess | undefined;
  private stopping: Promise<void> | undefined;

  constructor(opts: SupervisorOptions = {}) {
    super();
    this.console = opts.console ?? new LocalConsole();
    if (opts.watchdog !== false) this.startGuard();
  }

  get children(): readonly ManagedChild[] {
    return this.kids;
  }

  /** pid of the orphan guard, if any (it belongs in state files too) */
  get guardPid(): number | undefined {
    return this.guard?.pid;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  spawn(spec: ChildSpec): ManagedChild {
    const proc = spawn(spec.command, spec.args ?? [], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group
    });
    const child = new ManagedChild(spec.name, proc);
    const prefix = `[${spec.name}] `;
    if (proc.stdout) forwardLines(proc.stdout, prefix, (l) => this.console.line(l));
    if (proc.stderr) forwardLines(proc.stderr, prefix, (l) => this.console.line(l, true));
    proc.on('spawn-error', (err: Error) => this.console.line(`${prefix}cannot start ${spec.command}: ${err.message}`, true));
    this.kids.push(child);
    if (child.pid > 0) this.tell(`+${child.pid}`);
    void child.exited.then((e) => {
      if (child.pid > 0) this.tell(`-${child.pid}`);
      this.emit('exit', child, e);
    });
    return child;
  }

  /** Files the guard removes if we die abruptly (address leases, state file). */
  guardFile(path: string, add = true): void {
    this.tell(`${add ? 'f' : 'u'}${path}`);
  }

  /** A directory (with its contents) the guard removes if we die abruptly (a demo's temporary config dir). */
  guardDir(path: string, add = true): void {
    this.tell(`${add ? 'd' : 'e'}${path}`);
  }

  /**
   * Stops every child: SIGTERM to each process group, SIGKILL to those still running after
   * `graceMs`. Idempotent; resolves when all have exited.
   */
  stop(graceMs = 5000): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop(graceMs);
    return this.stopping;
  }

  private async doStop(graceMs: number): Promise<void> {
    const kids = [...this.kids];
    for (const k of kids) k.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.all(kids.map((k) => k.exited));
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), graceMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (timedOut) for (const k of kids) if (k.running) k.signal('SIGKILL');
    await all;
    // members left behind by a leader that exited (its own children) go too
    for (const k of kids) k.signal('SIGKILL');
    this.closeGuard();
  }

  /** Calls `onSignal` on SIGINT/SIGTERM/SIGHUP; returns the uninstaller. */
  onSignals(onSignal: (sig: NodeJS.Signals) => void): () => void {
    const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    const h = (sig: NodeJS.Signals): void => onSignal(sig);
    for (const s of sigs) process.on(s, h);
    return () => {
      for (const s of sigs) process.off(s, h);
    };
  }

  /**
   * The first SIGINT/SIGTERM/SIGHUP: `signal()` names it once it came (later ones are ignored),
   * `woken` resolves then; `uninstall()` removes the handlers.
   */
  awaitStopSignal(onFirst: (sig: NodeJS.Signals) => void): StopSignal {
    let signalled: NodeJS.Signals | undefined;
    let wake: () => void = () => {};
    const woken = new Promise<void>((r) => (wake = r));
    const uninstall = this.onSignals((sig) => {
      if (signalled) return;
      signalled = sig;
      onFirst(sig);
      wake();
    });
    return { signal: () => signalled, woken, uninstall };
  }

  /** Why a start-up must give up: the first child that already exited, if any. */
  exitedBeforeReady(what: string): string | undefined {
    const dead = this.children.find((c) => c.exit);
    return dead ? `${dead.name} exited (code ${exitCodeOf(dead.exit!)}) before ${what} was ready; see its [${dead.name}] lines` : undefined;
  }

  private startGuard(): void {
    const script = fileURLToPath(new URL('./local-watchdog-main.js', import.meta.url));
    const guard = spawn(process.execPath, [script], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    guard.on('error', () => {
      this.guard = undefined;
    });
    guard.stdin?.on('error', () => {});
    guard.unref();
    (guard.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.guard = guard;
  }

  private tell(line: string): void {
    const w = this.guard?.stdin as Writable | null | undefined;
    if (w && !w.destroyed) w.write(`${line}\n`);
  }

  private closeGuard(): void {
    this.guard?.stdin?.end('q\n');
    this.guard = undefined;
  }
}
