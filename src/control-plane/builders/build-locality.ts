/**
 * Locality-aware load balancing as Istio applies it to endpoints: `distribute` sets locality
 * weights, otherwise (failover, needs outlier detection) localities get priorities by proximity.
 */
import type { LoadBalancerSettings } from '../../config/types.js';
import type { EnvoyResource } from '../../xds/codec.js';

type LocalitySetting = NonNullable<LoadBalancerSettings['localityLbSetting']>;

/** `region/zone/*`-style pattern against a `region/zone/subzone` locality. */
export function localityMatches(pattern: string, locality: string): boolean {
  const p = pattern.split('/');
  const l = locality.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '*') return true;
    if (p[i] !== (l[i] ?? '')) return false;
  }
  return true;
}

export interface LocalityGroup {
  locality: string;
  entry: EnvoyResource;
}

/** Applies `distribute` weights; returns the groups that keep traffic. */
export function applyDistribute(groups: LocalityGroup[], proxyLocality: string, setting: LocalitySetting): LocalityGroup[] {
  const rule = setting.distribute?.find((d) => localityMatches(d.from, proxyLocality));
  if (!rule) return groups;
  const weights = new Map<LocalityGroup, number>();
  for (const [pattern, weight] of Object.entries(rule.to)) {
    const matching = groups.filter((g) => localityMatches(pattern, g.locality));
    for (const g of matching) weights.set(g, (weights.get(g) ?? 0) + weight / matching.length);
  }
  const kept = groups.filter((g) => (weights.get(g) ?? 0) > 0);
  for (const g of kept) g.entry.load_balancing_weight = { value: Math.max(1, Math.round(weights.get(g) ?? 0)) };
  return kept;
}

/** Priorities by proximity to the proxy (0 = same subzone), made contiguous as Envoy requires. */
export function applyFailover(groups: LocalityGroup[], proxyLocality: string, setting: LocalitySetting | undefined): void {
  const [pr, pz, ps] = proxyLocality.split('/');
  const failoverTo = setting?.failover?.filter((f) => f.from === pr).map((f) => f.to) ?? [];
  const raw = groups.map((g) => {
    const [r, z, s] = g.locality.split('/');
    if (r === pr && z === pz && s === ps) return 0;
    if (r === pr && z === pz) return 1;
    if (r === pr) return 2;
    if (failoverTo.includes(r)) return 3;
    return 4;
  });
  const distinct = [...new Set(raw)].sort((a, b) => a - b);
  groups.forEach((g, i) => {
    const p = distinct.indexOf(raw[i]);
    if (p > 0) g.entry.priority = p;
  });
}
