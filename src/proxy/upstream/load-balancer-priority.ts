/**
 * Envoy's priority levels and panic mode (LoadBalancerBase): each priority's health is
 * min(100, 1.4 × healthy / total); load goes to the highest priorities first and spills over when
 * their health is below 100 %. A priority whose healthy share is below healthy_panic_threshold is
 * in panic: its balancer uses all its hosts, healthy or not. When no host is healthy anywhere,
 * panic (threshold > 0) spreads load by host count; with the threshold at 0 nothing is picked.
 */
import type { Host } from './host.js';
import { createLoadBalancer, type LbContext, type LbOptions, type LoadBalancer } from './load-balancer.js';

/** Envoy's default overprovisioning factor (140 %). */
const OVERPROVISIONING = 140;

export interface PriorityLevel {
  priority: number;
  hosts: Host[];
  healthy: number;
  /** 0..100 */
  health: number;
  panic: boolean;
  /** percent of traffic this level gets */
  load: number;
  lb: LoadBalancer;
}

export interface PanicCounter {
  inc(): void;
}

export class PrioritySet {
  /** the only level with load, or undefined when load is split (or there is none) */
  private readonly single: PriorityLevel | undefined;
  private readonly cumulative: number[] = [];

  constructor(readonly levels: PriorityLevel[], private readonly panicStat: PanicCounter | undefined) {
    const loaded = levels.filter((l) => l.load > 0);
    this.single = loaded.length === 1 ? loaded[0] : undefined;
    let acc = 0;
    for (const l of levels) this.cumulative.push((acc += l.load));
  }

  /** hosts the balancers choose from, over all levels with load */
  get healthyCount(): number {
    return this.levels.reduce((n, l) => n + l.healthy, 0);
  }

  pick(ctx: LbContext | undefined): Host | undefined {
    let level = this.single;
    if (!level) {
      const c = this.cumulative;
      if (c.length === 0 || c[c.length - 1] === 0) return undefined;
      const r = ctx?.hash !== undefined ? ctx.hash % 100 : Math.random() * 100;
      let i = 0;
      while (i < c.length - 1 && r >= c[i]) i++;
      level = this.levels[i];
    }
    if (level.panic) this.panicStat?.inc();
    return level.lb.pick(ctx);
  }
}

export function buildPrioritySet(all: readonly Host[], opts: LbOptions, panicThresholdPct: number, panicStat?: PanicCounter): PrioritySet {
  const byPriority = new Map<number, Host[]>();
  for (const h of all) {
    let list = byPriority.get(h.priority);
    if (!list) byPriority.set(h.priority, (list = []));
    list.push(h);
  }
  const priorities = [...byPriority.keys()].sort((a, b) => a - b);
  const levels = priorities.map((p) => {
    const hosts = byPriority.get(p)!;
    const healthy = hosts.reduce((n, h) => n + (h.available ? 1 : 0), 0);
    return { priority: p, hosts, healthy, health: Math.min(100, Math.floor((OVERPROVISIONING * healthy) / hosts.length)), panic: false, load: 0 };
  });
  const normalizedTotal = Math.min(100, levels.reduce((n, l) => n + l.health, 0));
  if (normalizedTotal === 0) {
    // Nothing healthy. With panic disabled nothing is picked; else everything is in panic.
    if (panicThresholdPct > 0) for (const l of levels) l.panic = true;
  } else {
    for (const l of levels) l.panic = (100 * l.healthy) / l.hosts.length < panicThresholdPct;
    let remaining = 100;
    for (const l of levels) {
      l.load = Math.min(remaining, Math.floor((l.health * 100) / normalizedTotal));
      remaining -= l.load;
    }
    const first = levels.find((l) => l.health > 0);
    if (first) first.load += remaining;
  }
  if (levels.length > 0 && levels.every((l) => l.panic)) {
    // Total panic: load by host count (Envoy's recalculateLoadInTotalPanic).
    const total = all.length;
    let remaining = 100;
    for (const l of levels) {
      l.load = Math.floor((100 * l.hosts.length) / total);
      remaining -= l.load;
    }
    levels[0].load += remaining;
  }
  const out: PriorityLevel[] = levels.map((l) => ({
    ...l,
    lb: createLoadBalancer(opts, l.panic ? l.hosts : l.hosts.filter((h) => h.available)),
  }));
  return new PrioritySet(out, panicStat);
}
