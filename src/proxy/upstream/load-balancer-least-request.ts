/** LEAST_REQUEST: power of N (default 2) random choices, fewest active requests wins. */
import type { Host } from './host.js';
import type { LoadBalancer } from './load-balancer.js';

export class LeastRequestLb implements LoadBalancer {
  constructor(private readonly hosts: Host[], private readonly choices = 2) {}

  pick(): Host | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (n === 1) return this.hosts[0];
    let best = this.hosts[Math.floor(Math.random() * n)];
    for (let i = 1; i < this.choices; i++) {
      const h = this.hosts[Math.floor(Math.random() * n)];
      if (h.rqActive < best.rqActive) best = h;
    }
    return best;
  }
}
