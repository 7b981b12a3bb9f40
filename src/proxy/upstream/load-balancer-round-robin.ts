/** ROUND_ROBIN; smooth weighted round robin when weights differ. */
import type { Host } from './host.js';
import type { LoadBalancer } from './load-balancer.js';
import { effectiveWeights } from './load-balancer-weights.js';

export class RoundRobinLb implements LoadBalancer {
  private next = 0;
  private readonly weights: number[] | undefined;
  private readonly current: number[];
  private readonly total: number;

  constructor(private readonly hosts: Host[]) {
    this.next = hosts.length > 0 ? Math.floor(Math.random() * hosts.length) : 0;
    this.weights = effectiveWeights(hosts);
    this.current = new Array(hosts.length).fill(0);
    this.total = this.weights ? this.weights.reduce((a, b) => a + b, 0) : hosts.length;
  }

  pick(): Host | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (!this.weights) {
      const h = this.hosts[this.next % n];
      this.next = (this.next + 1) % n;
      return h;
    }
    let best = 0;
    for (let i = 0; i < n; i++) {
      this.current[i] += this.weights[i];
      if (this.current[i] > this.current[best]) best = i;
    }
    this.current[best] -= this.total;
    return this.hosts[best];
  }
}
