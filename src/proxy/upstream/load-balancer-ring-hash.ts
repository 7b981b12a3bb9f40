/**
 * RING_HASH: each host gets replicas on a 32-bit ring in proportion to its weight (at least
 * minimum_ring_size entries in total); a request's hash picks the first entry clockwise.
 */
import { murmur3 } from './hash.js';
import type { Host } from './host.js';
import type { LbContext, LoadBalancer } from './load-balancer.js';

export class RingHashLb implements LoadBalancer {
  private readonly ringHashes: Uint32Array;
  private readonly ringHosts: Host[];

  constructor(private readonly hosts: Host[], minSize = 1024, maxSize = 8 * 1024 * 1024) {
    const entries: Array<[number, Host]> = [];
    if (hosts.length > 0) {
      const total = hosts.reduce((s, h) => s + h.weight, 0);
      const size = Math.min(maxSize, Math.max(minSize, hosts.length));
      for (const h of hosts) {
        const replicas = Math.max(1, Math.ceil((size * h.weight) / total));
        for (let i = 0; i < replicas; i++) entries.push([murmur3(`${h.key}_${i}`), h]);
      }
      entries.sort((a, b) => a[0] - b[0]);
    }
    this.ringHashes = Uint32Array.from(entries.map((e) => e[0]));
    this.ringHosts = entries.map((e) => e[1]);
  }

  get ringSize(): number {
    return this.ringHosts.length;
  }

  pick(ctx: LbContext | undefined): Host | undefined {
    const n = this.ringHosts.length;
    if (n === 0) return undefined;
    const hash = ctx?.hash ?? Math.floor(Math.random() * 0xffffffff);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ringHashes[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.ringHosts[lo === n ? 0 : lo];
  }
}
