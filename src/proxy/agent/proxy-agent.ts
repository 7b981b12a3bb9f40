/**
 * `clew proxy --hot-restart`: the agent (pilot-agent's role when it drove Envoy's hot restarts).
 * The process the user or supervisor started stays up for the proxy's whole life and owns the
 * listening sockets; the proxy runs in a child. The children are node:cluster workers with
 * scheduling left to the OS (SCHED_NONE): when a child listens, the agent binds the socket and
 * hands the child a duplicate of the descriptor, which the child accepts from itself (no hop
 * through the agent). A second child listening on the same address and port gets the very same
 * socket, so two generations can share a listening socket, which is what a hot restart needs
 * (Node 20's net has no SO_REUSEPORT).
 *
 * SIGHUP: hot restart. Epoch N+1 starts from the files on disk (an upgraded `clew` included),
 * binds (gets the same sockets; connections it accepts before it is ready wait for it), fetches
 * its configuration; once ready, epoch N hands over: it closes its copies of the listening
 * sockets (the kernel's accept queue stays with epoch N+1: no connection is refused), drains
 * its connections and exits. A new child that fails to become ready is stopped; the old one
 * keeps serving.
 * SIGTERM: every child drains gracefully and exits; SIGINT: children close at once. The agent
 * exits with the active child's exit code, and also when the active child exits on its own
 * (POST /quitquitquit, a crash).
 */
import cluster, { type Worker } from 'node:cluster';
import { constants } from 'node:os';
import { isChildMessage, RESTART_EPOCH_ENV, type AgentMessage } from './agent-messages.js';

export interface AgentOptions {
  /** how long a new child may take to become ready before the restart is abandoned (ms) */
  readyTimeoutMs: number;
  /** after asking the children to drain, how long before they are killed (ms) */
  exitTimeoutMs: number;
  log(msg: string): void;
}

interface Child {
  worker: Worker;
  epoch: number;
  pid: number;
}

export class ProxyAgent {
  private epoch = 0;
  private active: Child | undefined;
  private pending: Child | undefined;
  private readonly live = new Set<Child>();
  private stopping: 'graceful' | 'quit' | undefined;
  private exitCode = 0;
  private resolveDone!: (code: number) => void;
  /** resolves with the exit code once every child has exited after a stop */
  readonly done = new Promise<number>((r) => (this.resolveDone = r));

  constructor(private readonly o: AgentOptions) {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ silent: false });
  }

  start(): void {
    this.active = this.fork();
  }

  /** Installs SIGHUP (restart), SIGTERM (drain) and SIGINT (quit). */
  handleSignals(): void {
    process.on('SIGHUP', () => void this.restart());
    process.on('SIGTERM', () => this.stop('graceful'));
    process.on('SIGINT', () => this.stop('quit'));
  }

  get activePid(): number | undefined {
    return this.active?.pid;
  }

  private fork(): Child {
    const epoch = this.epoch++;
    const worker = cluster.fork({ [RESTART_EPOCH_ENV]: String(epoch) });
    const child: Child = { worker, epoch, pid: worker.process.pid ?? 0 };
    this.live.add(child);
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) => this.onExit(child, code, signal));
    return child;
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    this.live.delete(child);
    const c = code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1);
    if (child === this.active) {
      this.active = undefined;
      this.exitCode = c;
      if (!this.stopping) {
        this.o.log(`proxy epoch ${child.epoch} (pid ${child.pid}) exited with code ${c}; stopping`);
        this.stop('quit');
      }
    } else if (child !== this.pending) this.o.log(`proxy epoch ${child.epoch} (pid ${child.pid}) exited (code ${c})`);
    if (this.stopping && this.live.size === 0) this.resolveDone(this.exitCode);
  }

  /** Hot restart: a new generation takes over the sockets, the current one drains. */
  async restart(): Promise<boolean> {
    if (this.stopping) return false;
    if (this.pending) {
      this.o.log('hot restart already in progress; ignored');
      return false;
    }
    const old = this.active;
    const next = this.fork();
    this.pending = next;
    this.o.log(`hot restart: starting epoch ${next.epoch} (pid ${next.pid})`);
    const outcome = await new Promise<'ready' | 'exited' | 'timeout'>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), this.o.readyTimeoutMs);
      next.worker.on('message', (m: unknown) => {
        if (isChildMessage(m)) {
          clearTimeout(timer);
          resolve('ready');
        }
      });
      next.worker.once('exit', () => {
        clearTimeout(timer);
        resolve('exited');
      });
    });
    this.pending = undefined;
    if (outcome !== 'ready') {
      this.o.log(`hot restart: epoch ${next.epoch} ${outcome === 'exited' ? 'exited' : 'was not ready in time'}; epoch ${old?.epoch ?? '-'} keeps serving`);
      if (this.live.has(next)) {
        send(next, { clew: 'quit' });
        setTimeout(() => next.worker.process.kill('SIGKILL'), 5000).unref();
      }
      return false;
    }
    if (this.stopping) {
      signal(next, this.stopping);
      return false;
    }
    this.active = next;
    if (old && this.live.has(old)) send(old, { clew: 'drain', mode: 'handover' });
    this.o.log(`hot restart: epoch ${next.epoch} (pid ${next.pid}) serving${old ? `; epoch ${old.epoch} (pid ${old.pid}) draining` : ''}`);
    return true;
  }

  /**
   * Drain (`graceful`: SIGTERM) or close (`quit`: SIGINT) every child; `done` resolves once all
   * have exited. Signals rather than messages: a supervisor signalling the whole process group
   * sends the children the same signal, and a child drains once however often it is told.
   */
  stop(kind: 'graceful' | 'quit'): void {
    if (this.stopping === 'quit' || this.stopping === kind) return;
    this.stopping = kind;
    for (const c of this.live) signal(c, kind);
    const t = setTimeout(() => {
      for (const c of this.live) c.worker.process.kill('SIGKILL');
    }, kind === 'quit' ? 5000 : this.o.exitTimeoutMs);
    t.unref();
    if (this.live.size === 0) this.resolveDone(this.exitCode);
  }
}

function signal(c: Child, kind: 'graceful' | 'quit'): void {
  try {
    c.worker.process.kill(kind === 'quit' ? 'SIGINT' : 'SIGTERM');
  } catch {
    /* already gone */
  }
}

function send(c: Child, msg: AgentMessage): void {
  if (!c.worker.isConnected()) return;
  try {
    c.worker.send(msg, undefined, () => undefined);
  } catch {
    /* the child is going away; its exit is handled */
  }
}
