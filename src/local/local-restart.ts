/**
 * Restarts a supervised child that dies, as a kubelet restarts a container (issue 23 items 1 and
 * 9): exponential backoff (0.5 s doubling to 30 s, back to 0.5 s after a child stayed up for
 * 30 s), one log line per death saying why (exit code or signal) and when it comes back. A child
 * is not restarted while the supervisor stops, or before `arm()` (start-up failures are reported
 * as failures, not retried).
 */
import { EventEmitter } from 'node:events';
import type { ChildExit, ChildSpec, ManagedChild, Supervisor } from './local-supervisor.js';

export interface RestartPolicy {
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** a child that ran this long starts the backoff over */
  resetAfterMs?: number;
}

export function describeExit(e: ChildExit): string {
  return e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
}

export class RestartingChild extends EventEmitter {
  current: ManagedChild;
  restarts = 0;
  private armed = false;
  private delayMs: number;
  private startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly resetMs: number;

  constructor(
    private readonly sup: Supervisor,
    private readonly spec: ChildSpec,
    private readonly what: string,
    policy: RestartPolicy = {},
    first?: ManagedChild,
  ) {
    super();
    this.initialMs = policy.initialDelayMs ?? 500;
    this.maxMs = policy.maxDelayMs ?? 30_000;
    this.resetMs = policy.resetAfterMs ?? 30_000;
    this.delayMs = this.initialMs;
    this.current = first ?? sup.spawn(spec);
    this.watch(this.current);
  }

  /** From now on a death means a restart. */
  arm(): this {
    this.armed = true;
    if (this.current.exit) this.onExit(this.current, this.current.exit);
    return this;
  }

  private watch(child: ManagedChild): void {
    this.startedAt = Date.now();
    void child.exited.then((e) => this.onExit(child, e));
  }

  private onExit(child: ManagedChild, e: ChildExit): void {
    if (!this.armed || child !== this.current || this.timer || this.sup.isStopping) return;
    if (Date.now() - this.startedAt >= this.resetMs) this.delayMs = this.initialMs;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.maxMs, this.delayMs * 2);
    this.sup.console.info(`clew: ${this.what} ${describeExit(e)}; restarting it in ${(delay / 1000).toFixed(1)} s (restart ${this.restarts + 1})`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.sup.isStopping) return;
      this.restarts++;
      this.current = this.sup.spawn(this.spec);
      this.watch(this.current);
      this.emit('restart', this.current);
    }, delay);
  }

  /** No more restarts (the supervisor's stop ends the child itself). */
  disarm(): void {
    this.armed = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
