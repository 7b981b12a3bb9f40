/** fortio-like text report and the `-json` result object of a load run. */
import type { LoadResult } from './load-runner.js';

const fmt = (ms: number): string => ms.toFixed(3);

function plan(r: LoadResult): string {
  const o = r.options;
  if (o.requests !== undefined) return `for ${o.requests} calls`;
  return o.durationMs ? `for ${o.durationMs / 1000}s` : 'until interrupted';
}

export function formatLoadText(r: LoadResult): string {
  const o = r.options;
  const s = r.stats.summary();
  const lines: string[] = [];
  lines.push(`Clew load running at ${o.qps} queries per second, ${o.connections} connections, ${plan(r)}: ${o.url}`);
  const qpsText = o.qps > 0 ? `${o.qps} qps` : 'max qps';
  lines.push(`Starting at ${qpsText} with ${o.connections} thread(s) ${plan(r)}${o.proxy ? ` via proxy ${o.proxy}` : ''}`);
  lines.push(`Ended after ${(r.actualDurationMs / 1000).toFixed(4)}s : ${s.count} calls. qps=${r.actualQps.toFixed(4)}`);
  lines.push(`Aggregated Function Time : count ${s.count} avg ${fmt(s.avgMs)} ms +/- ${fmt(s.stdDevMs)} min ${fmt(s.minMs)} max ${fmt(s.maxMs)} sum ${fmt(s.sumMs)}`);
  const pct = s.percentiles.map((p) => `p${p.percentile} ${fmt(p.valueMs)}`).join(' ');
  lines.push(`Latency (ms) : min ${fmt(s.minMs)} avg ${fmt(s.avgMs)} ${pct} max ${fmt(s.maxMs)}`);
  // fortio prints its targets in seconds.
  for (const p of s.percentiles) lines.push(`# target ${p.percentile}% ${(p.valueMs / 1000).toFixed(6)}`);
  lines.push(`Sockets used: ${r.sockets} (for perfect keepalive, would be ${o.connections})`);
  for (const [code, count] of r.stats.sortedCodes()) {
    lines.push(`Code ${code} : ${count} (${((count * 100) / Math.max(1, s.count)).toFixed(1)} %)`);
  }
  lines.push(`All done ${s.count} calls (plus 0 warmup) ${fmt(s.avgMs)} ms avg, ${r.actualQps.toFixed(1)} qps`);
  return `${lines.join('\n')}\n`;
}

export interface LoadJson {
  url: string;
  startTime: string;
  requestedQps: number | 'max';
  requestedDurationMs: number | null;
  requestedCalls: number | null;
  connections: number;
  proxy: string | null;
  actualDurationMs: number;
  actualQps: number;
  count: number;
  /** Status code (as a string key, "-1" for connection errors) -> count. */
  retCodes: Record<string, number>;
  latencyMs: {
    min: number; avg: number; stdDev: number; max: number;
    p50: number; p75: number; p90: number; p99: number; 'p99.9': number;
  };
  percentiles: Array<{ percentile: number; valueMs: number }>;
  sockets: number;
}

export function loadResultJson(r: LoadResult): LoadJson {
  const o = r.options;
  const s = r.stats.summary();
  const at = (p: number): number => s.percentiles.find((x) => x.percentile === p)?.valueMs ?? 0;
  return {
    url: o.url,
    startTime: r.startTime.toISOString(),
    requestedQps: o.qps > 0 ? o.qps : 'max',
    requestedDurationMs: o.requests === undefined ? o.durationMs ?? null : null,
    requestedCalls: o.requests ?? null,
    connections: o.connections,
    proxy: o.proxy ?? null,
    actualDurationMs: r.actualDurationMs,
    actualQps: r.actualQps,
    count: s.count,
    retCodes: Object.fromEntries(r.stats.sortedCodes().map(([c, n]) => [String(c), n])),
    latencyMs: {
      min: s.minMs, avg: s.avgMs, stdDev: s.stdDevMs, max: s.maxMs,
      p50: at(50), p75: at(75), p90: at(90), p99: at(99), 'p99.9': at(99.9),
    },
    percentiles: s.percentiles,
    sockets: r.sockets,
  };
}
