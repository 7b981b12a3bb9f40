/**
 * Debounces configuration and registry changes into pushes, like istiod's debounce: changes
 * arriving within `debounceMs` of each other merge into one push; a push never waits longer than
 * `maxDelayMs` after the first change. Endpoint-only changes merge into EDS-only pushes.
 */
import { typesForKinds } from '../config/kinds.js';
import { mergeChangeScopes, type ChangeScope } from './push-affected.js';

export interface PushRequest {
  /** undefined = every type */
  typeUrls: string[] | undefined;
  /** why: config keys changed, registry events */
  reasons: string[];
  /** performance.now() of the earliest change merged into this push */
  firstChangeAt: number;
  /** what changed, for leaving out the proxies it does not reach; undefined = every proxy */
  scope: ChangeScope | undefined;
}

/** Which xDS types a change of the given config kinds can affect: the kinds table's `pushes`. */
export { typesForKinds };

export class PushScheduler {
  private timer: NodeJS.Timeout | undefined;
  private pending: PushRequest | undefined;
  private lastChangeAt = 0;

  constructor(
    private readonly onPush: (req: PushRequest) => void,
    private readonly debounceMs = 100,
    private readonly maxDelayMs = 1000,
  ) {}

  /** typeUrls undefined = full push; scope undefined = the change may reach every proxy */
  enqueue(typeUrls: string[] | undefined, reason: string, scope?: ChangeScope): void {
    const now = performance.now();
    if (!this.pending) {
      this.pending = { typeUrls: typeUrls ? [...typeUrls] : undefined, reasons: [reason], firstChangeAt: now, scope };
    } else {
      this.pending.reasons.push(reason);
      this.pending.scope = mergeChangeScopes(this.pending.scope, scope);
      if (!typeUrls || !this.pending.typeUrls) this.pending.typeUrls = undefined;
      else this.pending.typeUrls = [...new Set([...this.pending.typeUrls, ...typeUrls])];
    }
    this.lastChangeAt = now;
    this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    const p = this.pending!;
    const sinceFirst = performance.now() - p.firstChangeAt;
    const wait = Math.max(0, Math.min(this.debounceMs, this.maxDelayMs - sinceFirst));
    this.timer = setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    this.timer = undefined;
    const p = this.pending;
    if (!p) return;
    const quiet = performance.now() - this.lastChangeAt;
    const waited = performance.now() - p.firstChangeAt;
    if (quiet < this.debounceMs && waited < this.maxDelayMs) {
      this.arm();
      return;
    }
    this.pending = undefined;
    this.onPush(p);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
}
