/** Load balancer interface and the factory per lb_policy. */
import type { Host } from './host.js';
import { LeastRequestLb } from './load-balancer-least-request.js';
import { RandomLb } from './load-balancer-random.js';
import { RingHashLb } from './load-balancer-ring-hash.js';
import { RoundRobinLb } from './load-balancer-round-robin.js';

export interface LbContext {
  /** request hash from the route's hash_policy (ring hash); undefined = none */
  hash?: number;
}

export interface LoadBalancer {
  pick(ctx: LbContext | undefined): Host | undefined;
}

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV' | 'CLUSTER_PROVIDED';

export interface LbOptions {
  policy: LbPolicy;
  minimumRingSize: number;
  maximumRingSize: number;
  choiceCount: number;
}

/** Builds the balancer over one priority's hosts (available ones, or all of them in panic). */
export function createLoadBalancer(opts: LbOptions, hosts: Host[]): LoadBalancer {
  switch (opts.policy) {
    case 'LEAST_REQUEST':
      return new LeastRequestLb(hosts, opts.choiceCount);
    case 'RANDOM':
      return new RandomLb(hosts);
    case 'RING_HASH':
    case 'MAGLEV':
      return new RingHashLb(hosts, opts.minimumRingSize, opts.maximumRingSize);
    default:
      return new RoundRobinLb(hosts);
  }
}
