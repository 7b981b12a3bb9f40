/** Host weights with locality weights folded in; undefined when all are equal (fast path). */
import type { Host } from './host.js';

export function effectiveWeights(hosts: Host[]): number[] | undefined {
  const perLocality = new Map<string, number>();
  for (const h of hosts) perLocality.set(h.locality, (perLocality.get(h.locality) ?? 0) + h.weight);
  const w = hosts.map((h) => (h.localityWeight > 0 ? (h.weight * h.localityWeight * 1000) / perLocality.get(h.locality)! : h.weight));
  return w.every((x) => x === w[0]) ? undefined : w;
}
