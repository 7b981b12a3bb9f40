/**
 * Objects HTTP and network filters keep across listener and route updates, by key (Envoy keeps
 * such things in singletons and the cluster manager): a JWKS cache with its refresh timer, a gRPC
 * channel to an authorization or rate-limit service, a listener-wide token bucket. A filter config
 * asks for one while it is parsed; the same key gives the same object on the next update.
 * The number of keys is bounded: config that names more is refused (NACK) rather than growing
 * the proxy's memory without end.
 */
import { fail } from '../core/errors.js';
import type { SharedFilterResources } from './http-filter.js';

const MAX_KEYS = 10_000;

export class SharedResources implements SharedFilterResources {
  private readonly byKey = new Map<string, unknown>();

  get<T>(key: string, make: () => T): T {
    if (this.byKey.has(key)) return this.byKey.get(key) as T;
    if (this.byKey.size >= MAX_KEYS) fail(`too many shared filter resources (${MAX_KEYS}): ${key}`);
    const v = make();
    this.byKey.set(key, v);
    return v;
  }

  get size(): number {
    return this.byKey.size;
  }

  /** the proxy stops: timers and channels of every shared object end */
  close(): void {
    for (const v of this.byKey.values()) (v as { close?: () => void }).close?.();
    this.byKey.clear();
  }
}
