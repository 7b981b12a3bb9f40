/** RANDOM (weighted when weights differ). */
import type { Host } from './host.js';
import type { LoadBalancer } from './load-balancer.js';
import { effectiveWeights } from './load-balancer-weights.js';

export class RandomLb implements LoadBalancer {
  private readonly cumulative: number[] | undefined;

  constructor(private readonly hosts: Host[]) {
    const w = effectiveWeights(hosts);
    if (w) {
      let acc = 0;
      this.cumulative = w.map((x) => (acc += x));
    }
  }

  pick(): Host | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (!this.cumulative) return this.hosts[Math.floor(Math.random() * n)];
    const r = Math.random() * this.cumulative[n - 1];
    for (let i = 0; i < n; i++) if (r < this.cumulative[i]) return this.hosts[i];
    return this.hosts[n - 1];
  }
}
