/** Renders the suite's results as bench/RESULTS.md. */
import type { Results, TargetSummary } from './bench-results.js';
import { floorSection, memoryTable } from './bench-report-floor.js';
import { h2Section, recoverySection, runtimeSection, verdictTable } from './bench-report-22.js';
import { f, signed, table } from './bench-md.js';

function throughputTable(r: Results): string[] {
  const perRound = (id: string, pick: (w: Results['targets'][number]['wrk'][number]) => number, digits: number) =>
    (r.targets.find((t) => t.id === id)?.wrk ?? []).map((w) => f(pick(w), digits)).join(' / ');
  return table(
    ['target', 'wrk rps', '× direct', '× HAProxy', 'CPU µs / request', 'per proxy', 'errors', 'rps per round', 'CPU µs per round'],
    r.summary.map((t) => [
      t.label, f(t.rps, 0), f(t.rpsVsDirect, 2), f(t.rpsVsHaproxy, 2), f(t.cpuUsPerRequest, 1), t.proxies > 1 ? f(t.cpuUsPerRequestPerProxy, 1) : '', String(t.errors),
      perRound(t.id, (w) => w.rps, 0), t.proxies ? perRound(t.id, (w) => w.cpuUsPerRequest, 1) : '',
    ]),
  );
}

function latencyTable(s: TargetSummary[]): string[] {
  return table(
    ['target', 'p50 µs', 'p90 µs', 'p99 µs', 'adds p50', 'adds p90', 'adds p99', 'hey p50/p90/p99 µs', 'hey adds p90'],
    s.map((t) => [
      t.label, f(t.latency.p50, 0), f(t.latency.p90, 0), f(t.latency.p99, 0),
      t.id === 'direct' ? '' : signed(t.addedLatency.p50), t.id === 'direct' ? '' : signed(t.addedLatency.p90), t.id === 'direct' ? '' : signed(t.addedLatency.p99),
      t.heyLatency ? `${f(t.heyLatency.p50, 0)} / ${f(t.heyLatency.p90, 0)} / ${f(t.heyLatency.p99, 0)}` : '–',
      t.id === 'direct' ? '' : signed(t.heyAddedLatency?.p90),
    ]),
  );
}

function resourceTable(s: TargetSummary[]): string[] {
  return table(
    ['target', 'RSS idle MB', 'RSS peak under load MB', 'RSS after runs MB', 'vCPU per 1000 rps (hey)', 'per proxy', 'vCPU per 1000 rps (evenly paced)'],
    s.filter((t) => t.proxies > 0).map((t) => [t.label, f(t.rssIdleMb, 1), f(t.rssPeakMb, 1), f(t.rssAfterMb, 1), f(t.vcpuPer1000Rps, 3), t.proxies > 1 ? f(t.vcpuPer1000RpsPerProxy, 3) : '', f(t.vcpuPer1000RpsEven, 3)]),
  );
}

/** The same sidecar with telemetry on (metrics, tracing at 1 %), on + access log, and off, side by side. */
function telemetryTable(s: TargetSummary[]): string[] {
  const on = s.find((t) => t.id === 'clew-sidecar');
  const off = s.find((t) => t.id === 'clew-sidecar-notel');
  const log = s.find((t) => t.id === 'clew-sidecar-log');
  if (!on || !off) return [];
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? f(a / b, 2) : '–');
  const rows: Array<[string, TargetSummary]> = [['on', on], ...(log ? [['on + access log', log] as [string, TargetSummary]] : []), ['off', off]];
  return [
    '## Telemetry on versus off (one sidecar)', '',
    'On (Istio\'s default profile, the issue\'s "full features on"): Istio standard metrics (istio.stats) and Zipkin tracing at 1 % to the collector stand-in, configured by `--mesh-config`. On + access log: the same plus an access log to a file (Envoy\'s default format; Istio\'s demo profile logs to stdout). Off: a mesh-wide Telemetry disables every metric (no istio.stats filter), no access log, no tracing. Same proxy build, same run, interleaved.', '',
    ...table(
      ['telemetry', 'wrk rps', 'wrk p99 ms', 'CPU µs / request', 'p50 µs at 1000 rps', 'p99 µs at 1000 rps', 'vCPU per 1000 rps (hey)'],
      rows.map(([name, t]) => [name, f(t.rps, 0), f(t.wrkP99Ms, 2), f(t.cpuUsPerRequest, 1), f(t.latency.p50, 0), f(t.latency.p99, 0), f(t.vcpuPer1000Rps, 3)]),
    ),
    '', `on ÷ off: throughput ${ratio(on.rps, off.rps)} ×, CPU per request ${ratio(on.cpuUsPerRequest, off.cpuUsPerRequest)} ×, p99 at 1000 rps ${ratio(on.latency.p99, off.latency.p99)} ×.${log ? ` The access log adds ${f(log.cpuUsPerRequest - on.cpuUsPerRequest, 1)} µs of CPU per request.` : ''}`, '',
  ];
}

/** How the proxies' CPU time was read (results from before schedstat have no cpuAccounting: ticks). */
export function cpuSourceText(r: Results): string {
  const a = r.cpuAccounting;
  if (!a || a.schedstatRuns === 0) return 'utime+stime (/proc/<pid>/stat, in clock ticks)';
  const ticks = a.tickRuns ? `; ${a.tickRuns} runs without it fell back to utime+stime ticks` : '';
  return `run time of all threads (/proc/<pid>/task/*/schedstat, ns)${ticks}`;
}

/** The method's line on CPU accounting: schedstat, with the tick figures read alongside as a check. */
export function cpuAccountingLine(r: Results): string | undefined {
  const a = r.cpuAccounting;
  if (!a) return undefined;
  if (a.schedstatRuns === 0) return `- CPU accounting: utime+stime from /proc/<pid>/stat in clock ticks (no schedstat on this kernel), ${a.tickRuns} runs`;
  return `- CPU accounting: proxy CPU is the run time of all of a target's threads from /proc/<pid>/task/*/schedstat (ns), read before and after each run; the kernel scales utime+stime to the same run time, so /proc/<pid>/stat gives the same figure in 10 ms ticks. Over the ${a.schedstatRuns} runs here the tick figures sum to ${f(a.ticksOverSchedstat, 4)} × the schedstat ones (largest difference in one run ${f(a.maxDiffSeconds * 1000, 1)} ms)${a.tickRuns ? `; ${a.tickRuns} runs fell back to ticks (schedstat unreadable, or a thread exited)` : ''}`;
}

export function renderResults(r: Results): string {
  const L: string[] = [];
  L.push('# Clew benchmarks', '');
  L.push(`Generated by \`npm run bench${r.quick ? ' -- --quick' : ''}\` (bench/run.ts) on ${r.date}.${r.quick ? ' **Quick run: short durations, one round; not for comparison.**' : ''}`, '');
  L.push('## Machine', '');
  for (const [k, v] of Object.entries(r.machine)) L.push(`- ${k}: ${v}`);
  L.push(`- tools: ${Object.entries(r.tools).map(([k, v]) => `${k} (${v})`).join(', ')}`);
  L.push(`- CPU used by other processes during the measurements: mean ${r.foreignCpu.meanPct} %, max ${r.foreignCpu.maxPct} % of the machine (${r.foreignCpu.runsOver5Pct} of ${r.foreignCpu.runs} runs over 5 %)`, '');
  L.push('## Method', '');
  for (const [k, v] of Object.entries(r.settings)) L.push(`- ${k}: ${v}`);
  const cpuLine = cpuAccountingLine(r);
  if (cpuLine) L.push(cpuLine);
  L.push('');
  L.push('## Targets (pass/fail)', '');
  L.push(...table(['check', 'measured', 'result', 'note'], r.checks.map((c) => [c.target, c.measured, c.pass === undefined ? 'not measured' : c.pass ? '**pass**' : '**FAIL**', c.note ?? ''])));
  L.push('');
  L.push(...verdictTable(r));
  L.push('## Throughput and CPU (wrk -t1 -c64, HTTP/1.1 keep-alive)', '');
  L.push(`CPU per request: the proxy processes' ${cpuSourceText(r)} during the wrk run ÷ requests; mean of the rounds. Peers\' figures in the issue (same method): HAProxy ~35 µs, nginx 31, minimal http+undici.Pool proxy 63, http-proxy 90, @fastify/http-proxy 92.`, '');
  L.push(...throughputTable(r), '');
  L.push(...telemetryTable(r.summary));
  L.push('## Latency at a fixed rate (1000 rps over 16 connections)', '');
  L.push('p50/p90/p99 from bench/fixed-rate-load.ts (raw keep-alive sockets, µs resolution, evenly paced); "adds" = the target minus direct in the same round, mean of the rounds. hey (`-c 16 -q 62.5`) columns for reference: hey prints latencies in 0.1 ms steps and its 16 workers fire in bursts, so its figures are coarser. Istio 1.20 publishes 228 µs p90 / 298 µs p99 added by its two Envoys.', '');
  L.push(...latencyTable(r.summary), '');
  L.push('## Resources', '');
  L.push('RSS: idle = after start-up (xDS config applied for the sidecars) and a few requests, before any load; peak = highest sample (every 250 ms) during the wrk and 1000 rps runs (results from before this change: the wrk runs only). vCPU per 1000 rps = proxy CPU seconds ÷ run seconds ÷ (achieved rps / 1000) during a 1000 rps run: with hey (its 16 workers tick together, so requests arrive in bursts that a proxy handles in one wake-up) and with fixed-rate-load (one request every millisecond, no batching: a stricter figure).', '');
  L.push(...resourceTable(r.summary), '');
  L.push(...memoryTable(r));
  L.push(...floorSection(r));
  L.push(...recoverySection(r));
  L.push(...runtimeSection(r));
  L.push(...h2Section(r));
  L.push('## Control plane', '');
  const cp = r.controlPlane;
  if (!cp) L.push('Not run.', '');
  else if ('error' in cp) L.push(`Failed: ${cp.error}`, '');
  else {
    L.push(`bench/control-plane.ts: ${cp.services} services, ${cp.endpoints} endpoints, ${cp.clients} ADS clients; convergence = \`apply\` of one VirtualService until every client has it and ACKed.${cp.foreignCpuPct !== undefined && cp.foreignCpuPct > 5 ? ` Other processes used ${cp.foreignCpuPct} % of the machine's CPU during this run: the figures are disturbed.` : ''}`, '');
    L.push(...table(['config load ms', 'first full push ms', 'apply → all ACKed p50 ms', 'p99 ms', 'max ms', 'RSS loaded MB', 'RSS clients connected MB', 'RSS after applies MB'], [[
      f(cp.config_load_ms, 0), f(cp.first_full_push_ms, 0), f(cp.apply_to_all_acked_ms.p50, 1), f(cp.apply_to_all_acked_ms.p99, 1), f(cp.apply_to_all_acked_ms.max, 1),
      String(cp.rss_mb.idle_loaded), String(cp.rss_mb.clients_connected), String(cp.rss_mb.after_applies),
    ]]), '');
  }
  if (r.notes.length) {
    L.push('## Notes', '');
    for (const n of r.notes) L.push(`- ${n}`);
    L.push('');
  }
  L.push(`Raw per-round figures: \`${r.quick ? 'bench/out/results-quick.json' : 'bench/results.json'}\`.`, '');
  return L.join('\n');
}
