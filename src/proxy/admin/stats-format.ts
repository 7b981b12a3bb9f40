/** Text renderings of the stats store: Envoy's /stats and /stats/prometheus. */
import type { StatsStore } from '../stats.js';

export function statsText(store: StatsStore): string {
  let out = '';
  for (const [name, value] of store.entries()) out += `${name}: ${value}\n`;
  return out;
}

function sanitize(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_');
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Envoy's tag extraction for the names we produce: cluster.<name>.<stat> -> envoy_cluster_<stat>{envoy_cluster_name}. */
export function statsPrometheus(store: StatsStore): string {
  const families = new Map<string, { gauge: boolean; lines: string[] }>();
  const add = (metric: string, labels: string, value: number, gauge: boolean): void => {
    let f = families.get(metric);
    if (!f) families.set(metric, (f = { gauge, lines: [] }));
    f.lines.push(`${metric}${labels} ${value}`);
  };
  for (const [name, value, gauge] of store.entries()) {
    if (name.startsWith('cluster.')) {
      let matched = false;
      for (const [cluster] of store.clusters) {
        const prefix = `cluster.${cluster}.`;
        if (name.startsWith(prefix)) {
          add(`envoy_cluster_${sanitize(name.slice(prefix.length))}`, `{envoy_cluster_name="${escapeLabel(cluster)}"}`, value, gauge);
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    add(`envoy_${sanitize(name)}`, '', value, gauge);
  }
  let out = '';
  for (const [metric, f] of families) {
    out += `# TYPE ${metric} ${f.gauge ? 'gauge' : 'counter'}\n`;
    for (const l of f.lines) out += `${l}\n`;
  }
  return out;
}
