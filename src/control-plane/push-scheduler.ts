/**
 * Debounces configuration and registry changes into pushes, like istiod's debounce: changes
 * arriving within `debounceMs` of each other merge into one push; a push never waits longer than
 * `maxDelayMs` after the first change. Endpoint-only changes merge into EDS-only pushes.
 */
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../xds/type-urls.js';

export interface PushRequest {
  /** undefined = every type */
  typeUrls: string[] | undefined;
  /** why: config keys changed, registry events */
  reasons: string[];
  /** performance.now() of the earliest change merged into this push */
  firstChangeAt: number;
}

/** Which xDS types a change of the given config kinds can affect. */
export function typesForKinds(kinds: Iterable<string>): string[] | undefined {
  const types = new Set<string>();
  for (const kind of kinds) {
    switch (kind) {
      case 'VirtualService':
        types.add(LISTENER_TYPE); // tcp routes and gateway-bound hosts live in listeners
        types.add(ROUTE_TYPE);
        break;
      case 'DestinationRule':
        types.add(CLUSTER_TYPE);
        types.add(ENDPOINT_TYPE);
        types.add(ROUTE_TYPE); // hash policies
        break;
      case 'Gateway':
        types.add(LISTENER_TYPE);
        types.add(ROUTE_TYPE);
        break;
      case 'Telemetry':
        types.add(LISTENER_TYPE); // access_log, tracing, istio.stats live in listeners
        types.add(CLUSTER_TYPE); // tracing collectors outside the registry get a cluster
        break;
      default:
        return undefined; // Services, ServiceEntries, Sidecars...: everything
    }
  }
  return [...types];
}

export class PushScheduler {
  private timer: NodeJS.Timeout | undefined;
  private pending: PushRequest | undefined;
  private lastChangeAt = 0;

  constructor(
    private readonly onPush: (req: PushRequest) => void,
    private readonly debounceMs = 100,
    private readonly maxDelayMs = 1000,
  ) {}

  /** typeUrls undefined = full push */
  enqueue(typeUrls: string[] | undefined, reason: string): void {
    const now = performance.now();
    if (!this.pending) {
      this.pending = { typeUrls: typeUrls ? [...typeUrls] : undefined, reasons: [reason], firstChangeAt: now };
    } else {
      this.pending.reasons.push(reason);
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
