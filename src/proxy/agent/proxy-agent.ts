/**
 * `clew proxy --hot-restart` / `--concurrency N`: the agent (pilot-agent's role when it drove
 * Envoy's hot restarts). The process the user or supervisor started stays up for the proxy's
 * whole life and owns the listening sockets; the proxy runs in node:cluster workers, N per
 * generation (restart epoch). When a worker listens, the agent binds the socket once; every
 * worker listening on the same address and port, of this generation or the next, shares it
 * (Node 20's net has no SO_REUSEPORT), which is what both hot restart and N workers need.
 * - N = 1 (--hot-restart alone): scheduling is left to the OS (SCHED_NONE): the worker gets a
 *   duplicate of the listening descriptor and accepts from it itself, no hop through the agent.
 * - N > 1: the agent accepts and hands each connection to a worker round robin (SCHED_RR; a
 *   worker closing its listener declines and the connection goes to another). The kernel's
 *   spread across processes blocked on one socket is lopsided; Envoy's workers likewise take
 *   turns by default. After the hand-off the connection is the worker's: no data passes through
 *   the agent. NODE_CLUSTER_SCHED_POLICY=none|rr (node's own variable) overrides either choice.
 * Worker 0 of a generation holds the ADS stream and the admin/stats/readiness ports; the agent
 * relays its accepted config to the others and their stats to it (worker-config-feed.ts,
 * worker-stats.ts).
 *
 * SIGHUP: hot restart. Generation N+1 (all its workers) starts from the files on disk (an
 * upgraded `clew` included), binds (gets the same sockets; connections it is given before it is
 * ready wait for it), fetches its configuration; once every new worker is ready, every worker of
 * generation N hands over: closes its listeners (the sockets stay, with the new generation: no
 * connection is refused), drains its connections and exits. A new generation that fails to
 * become ready (a worker exits, or the timeout) is stopped; the old one keeps serving.
 * SIGTERM: every worker drains gracefully and exits; SIGINT: workers close at once. The agent
 * exits with the active generation's exit code (the first non-zero one), and also when a worker
 * of the active generation exits on its own (POST /quitquitquit, a crash): the others are
 * stopped, as Envoy's process ends with any of its threads.
 */
import cluster, { type Worker } from 'node:cluster';
import { constants } from 'node:os';
import { CONCURRENCY_ENV, isChildMessage, RESTART_EPOCH_ENV, WORKER_INDEX_ENV, type AgentMessage, type ChildMessage, type ConfigUpdate } from './agent-messages.js';

export interface AgentOptions {
  /** workers per generation (default 1) */
  concurrency?: number;
  /** how long a new generation may take to become ready before the restart is abandoned (ms) */
  readyTimeoutMs: number;
  /** after asking the workers to drain, how long before they are killed (ms) */
  exitTimeoutMs: number;
  log(msg: string): void;
}

interface Child {
  worker: Worker;
  gen: Generation;
  index: number;
  pid: number;
  ready: boolean;
  /** a follower that listens for config */
  hello: boolean;
}

interface Generation {
  epoch: number;
  children: Child[];
  /** worker 0's latest accepted update per type, replayed to a follower that says hello */
  latest: Map<string, ConfigUpdate>;
  /** resolves when every worker is ready, or with why not */
  settled: Promise<'ready' | 'exited'>;
  settle(outcome: 'ready' | 'exited'): void;
}

export class ProxyAgent {
  private epoch = 0;
  private active: Generation | undefined;
  private pending: Generation | undefined;
  private readonly live = new Set<Child>();
  private stopping: 'graceful' | 'quit' | undefined;
  private exitCode = 0;
  /** the exit code is that of the worker whose own exit stopped the proxy */
  private exitCodeFixed = false;
  private readonly concurrency: number;
  private resolveDone!: (code: number) => void;
  /** resolves with the exit code once every worker has exited after a stop */
  readonly done = new Promise<number>((r) => (this.resolveDone = r));

  constructor(private readonly o: AgentOptions) {
    this.concurrency = Math.max(1, Math.floor(o.concurrency ?? 1));
    // NODE_CLUSTER_SCHED_POLICY (none|rr), node's own knob, overrides the choice
    const env = process.env.NODE_CLUSTER_SCHED_POLICY;
    if (env !== 'none' && env !== 'rr') cluster.schedulingPolicy = this.concurrency > 1 ? cluster.SCHED_RR : cluster.SCHED_NONE;
    cluster.setupPrimary({ silent: false });
  }

  start(): void {
    this.active = this.forkGeneration();
    this.o.log(`proxy epoch ${this.active.epoch} starting (${describe(this.active)})`);
  }

  /** Installs SIGHUP (restart), SIGTERM (drain) and SIGINT (quit). */
  handleSignals(): void {
    process.on('SIGHUP', () => void this.restart());
    process.on('SIGTERM', () => this.stop('graceful'));
    process.on('SIGINT', () => this.stop('quit'));
  }

  /** worker 0's pid of the serving generation */
  get activePid(): number | undefined {
    return this.active?.children[0]?.pid;
  }

  /** the serving generation's worker pids, by index */
  get activePids(): number[] {
    return this.active?.children.map((c) => c.pid) ?? [];
  }

  private forkGeneration(): Generation {
    const epoch = this.epoch++;
    let settle!: (o: 'ready' | 'exited') => void;
    const settled = new Promise<'ready' | 'exited'>((r) => (settle = r));
    const gen: Generation = { epoch, children: [], latest: new Map(), settled, settle };
    for (let index = 0; index < this.concurrency; index++) {
      const worker = cluster.fork({ [RESTART_EPOCH_ENV]: String(epoch), [WORKER_INDEX_ENV]: String(index), [CONCURRENCY_ENV]: String(this.concurrency) });
      const child: Child = { worker, gen, index, pid: worker.process.pid ?? 0, ready: false, hello: false };
      gen.children.push(child);
      this.live.add(child);
      worker.on('message', (m: unknown) => {
        if (isChildMessage(m)) this.onMessage(child, m);
      });
      worker.on('exit', (code: number | null, sig: NodeJS.Signals | null) => this.onExit(child, code, sig));
    }
    return gen;
  }

  private onMessage(child: Child, m: ChildMessage): void {
    const gen = child.gen;
    switch (m.clew) {
      case 'ready':
        child.ready = true;
        if (gen.children.every((c) => c.ready)) {
          gen.settle('ready');
          if (this.concurrency > 1) send(gen.children[0], { clew: 'all-ready' });
        }
        break;
      case 'config':
        if (child.index !== 0) return;
        gen.latest.set(m.typeUrl, m);
        for (const c of gen.children) if (c.hello) send(c, m);
        break;
      case 'hello':
        child.hello = true;
        for (const u of gen.latest.values()) send(child, u);
        break;
      case 'stats': {
        const leader = gen.children[0];
        if (child.index !== 0 && leader && this.live.has(leader)) send(leader, { clew: 'stats', worker: child.index, series: m.series });
        break;
      }
      case 'apply-failed':
        this.o.log(`proxy epoch ${gen.epoch} worker ${child.index} (pid ${child.pid}) could not apply ${m.typeUrl} version ${m.version} that worker 0 accepted: ${m.error}`);
        break;
    }
  }

  private name(c: Child): string {
    return this.concurrency > 1 ? `proxy epoch ${c.gen.epoch} worker ${c.index} (pid ${c.pid})` : `proxy epoch ${c.gen.epoch} (pid ${c.pid})`;
  }

  private onExit(child: Child, code: number | null, sig: NodeJS.Signals | null): void {
    this.live.delete(child);
    const c = code ?? (sig ? 128 + (constants.signals[sig] ?? 0) : 1);
    const gen = child.gen;
    gen.settle('exited'); // no-op once the generation was ready
    if (gen === this.active) {
      if (!this.stopping) {
        this.o.log(`${this.name(child)} exited with code ${c}; stopping`);
        this.exitCode = c;
        this.exitCodeFixed = true;
        this.stop('quit');
      } else if (!this.exitCodeFixed && c !== 0 && this.exitCode === 0) this.exitCode = c;
    } else if (gen !== this.pending) this.o.log(`${this.name(child)} exited (code ${c})`);
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
    const next = this.forkGeneration();
    this.pending = next;
    this.o.log(`hot restart: starting epoch ${next.epoch} (${describe(next)})`);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([next.settled, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.o.readyTimeoutMs)))]);
    clearTimeout(timer);
    this.pending = undefined;
    if (outcome !== 'ready') {
      this.o.log(`hot restart: epoch ${next.epoch} ${outcome === 'exited' ? 'exited' : 'was not ready in time'}; epoch ${old?.epoch ?? '-'} keeps serving`);
      for (const c of next.children) {
        if (!this.live.has(c)) continue;
        send(c, { clew: 'quit' });
        setTimeout(() => c.worker.process.kill('SIGKILL'), 5000).unref();
      }
      if (this.stopping && this.live.size === 0) this.resolveDone(this.exitCode);
      return false;
    }
    if (this.stopping) {
      for (const c of next.children) signal(c, this.stopping);
      return false;
    }
    this.active = next;
    if (old) for (const c of old.children) if (this.live.has(c)) send(c, { clew: 'drain', mode: 'handover' });
    this.o.log(`hot restart: epoch ${next.epoch} (${describe(next)}) serving${old ? `; epoch ${old.epoch} (${describe(old)}) draining` : ''}`);
    return true;
  }

  /**
   * Drain (`graceful`: SIGTERM) or close (`quit`: SIGINT) every worker; `done` resolves once all
   * have exited. Signals rather than messages: a supervisor signalling the whole process group
   * sends the workers the same signal, and a worker drains once however often it is told.
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

/** `pid 12` for one worker, `pids 12,13` for several (the hot-restart log lines keep their shape) */
function describe(g: Generation): string {
  const pids = g.children.map((c) => c.pid);
  return pids.length === 1 ? `pid ${pids[0]}` : `pids ${pids.join(',')}`;
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
    /* the worker is going away; its exit is handled */
  }
}
