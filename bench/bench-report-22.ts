/**
 * The report's issue-22 sections: the verdict table (each target with its figure, its limit from
 * the floor of the same run, pass / FAIL / not run), HTTP/2 and gRPC beside Node's h2 floors, the
 * RSS curve after the load, and the sidecar on each Node.js runtime.
 */
import { h2Via, type H2Target, type Results } from './bench-results.js';
import { runtimeFigures } from './bench-verdicts.js';
import { f, signed, table } from './bench-md.js';

const VERDICT_CELL = { pass: '**pass**', FAIL: '**FAIL**', 'not run': 'not run' } as const;

export function verdictTable(r: Results): string[] {
  if (!r.verdicts?.length) return [];
  const n = (v: string) => r.verdicts!.filter((x) => x.verdict === v).length;
  return [
    '## Issue 22 targets (each against the floor measured beside it)', '',
    `${n('pass')} pass, ${n('FAIL')} FAIL, ${n('not run')} not run. A figure not measured in this run is "not run", never a pass; every limit is computed from figures of this run (the soak's from its own results file, dated in its row).`, '',
    ...table(['target', 'measured', 'limit', 'verdict', 'note'], r.verdicts.map((v) => [v.target, v.measured, v.limit, VERDICT_CELL[v.verdict], v.note ?? ''])), '',
  ];
}

function h2Means(t: H2Target): { rps: number; lat: number; cpu: number; failed: number; peak: number } {
  const ok = t.runs.filter((x) => Number.isFinite(x.rps));
  const avg = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
  return {
    rps: avg(ok.map((x) => x.rps)),
    lat: avg(ok.map((x) => x.meanMs)),
    cpu: avg(ok.map((x) => x.cpuUsPerRequest).filter(Number.isFinite)),
    failed: t.runs.reduce((a, x) => a + x.failed, 0),
    peak: Math.max(...t.runs.map((x) => x.rssPeakMb ?? NaN).filter(Number.isFinite), -Infinity),
  };
}

/** h2load: direct, the sidecar and Node's h2 floors, with throughput ÷ direct and CPU per request. */
export function h2Section(r: Results): string[] {
  if (!r.h2.length) return [];
  const direct = (p: string) => r.h2.find((t) => t.protocol === p && h2Via(t) === 'direct');
  const sideCpu = (p: string) => {
    const s = r.h2.find((t) => t.protocol === p && h2Via(t) === 'sidecar');
    return s ? h2Means(s).cpu : NaN;
  };
  return [
    '## HTTP/2 and gRPC (h2load)', '',
    `h2load ${r.settings['h2load'] ?? ''}; 1 KiB GET over h2c for HTTP/2, unary gRPC POST (5-byte message) for gRPC; direct, through the client sidecar (h2c both sides), and through Node's h2 floors: the raw TCP relay (h2c bytes, no framing: the least a hop costs) and a minimal node:http2 proxy (bench/h2-proxy.ts). CPU per request: the path's processes' CPU during the run ÷ requests (h2load's 1 s warm-up counted at the measured rate).`, '',
    ...table(['target', 'req/s', '× direct', 'mean latency ms', 'CPU µs / request', '× sidecar', 'peak RSS MB', 'failed'], r.h2.map((t) => {
      const m = h2Means(t);
      const d = direct(t.protocol);
      const dr = d ? h2Means(d).rps : NaN;
      const via = h2Via(t);
      const sc = sideCpu(t.protocol);
      return [t.label, f(m.rps, 0), via === 'direct' ? '' : f(m.rps / dr, 2), f(m.lat, 2), via === 'direct' ? '' : f(m.cpu, 1), via === 'direct' || via === 'sidecar' ? '' : f(m.cpu / sc, 2), via === 'direct' ? '' : f(m.peak, 1), String(m.failed)];
    })), '',
  ];
}

/** The RSS curve of each Clew setup after the last load (idle), against its idle RSS before the load. */
export function recoverySection(r: Results): string[] {
  const rows = r.targets.filter((t) => t.recovery?.samples.length);
  if (!rows.length) return [];
  // the sample nearest to `sec` seconds, when one was taken within 2.5 s of it
  const at = (s: Array<{ t: number; rssMb: number }>, sec: number) => s.filter((x) => Math.abs(x.t - sec) <= 2.5).sort((p, q) => Math.abs(p.t - sec) - Math.abs(q.t - sec))[0]?.rssMb;
  return [
    '## Memory after the load (RSS, idle, sampled)', '',
    'RSS (VmRSS) of each Clew setup right after the last load run (h2load), then idle; "idle" is before any load. The issue\'s target: back within 20 MB of idle within 60 s.', '',
    ...table(['target', 'idle MB', 'right after MB', '5 s', '10 s', '30 s', 'end MB', 'end − idle MB', 'curve (s: MB)'], rows.map((t) => {
      const s = t.recovery!.samples;
      const end = s[s.length - 1];
      return [t.label, f(t.rssIdleMb, 1), f(s[0].rssMb, 1), f(at(s, 5), 1), f(at(s, 10), 1), f(at(s, 30), 1), `${f(end.rssMb, 1)} (${f(end.t, 0)} s)`, signed(end.rssMb - t.rssIdleMb, 1), s.map((x) => `${f(x.t, 0)}: ${f(x.rssMb, 0)}`).join(', ')];
    })), '',
  ];
}

/** The one-sidecar setup on each runtime, side by side (its figures come from the targets above). */
export function runtimeSection(r: Results): string[] {
  const figs = runtimeFigures(r);
  if (!figs.length) return [];
  const base = figs.find((x) => x.major === 20 && x.cpuUsPerRequest !== undefined);
  const head = ['figure', ...figs.map((x) => `Node ${x.version ?? x.major}`)];
  const cells = (pick: (x: (typeof figs)[number]) => string) => figs.map((x) => (x.cpuUsPerRequest === undefined ? `not run${x.notRun ? `: ${x.notRun}` : ''}` : pick(x)));
  return [
    '## The sidecar on each Node.js runtime', '',
    'One sidecar, telemetry on (Istio\'s default: standard metrics, tracing at 1 %), the same checkout on each runtime, measured in the same rounds as the other targets: CPU per request under `wrk -c64`, idle RSS (smaps_rollup), latency at 1000 rps (fixed-rate-load) and what it adds over direct.', '',
    ...table(head, [
      ['CPU µs / request (wrk -c64)', ...cells((x) => f(x.cpuUsPerRequest, 1))],
      ['÷ Node 20', ...cells((x) => (base ? f(x.cpuUsPerRequest! / base.cpuUsPerRequest!, 3) : '–'))],
      ['idle RSS MB', ...cells((x) => f(x.rssIdleMb, 1))],
      ['p90 / p99 µs at 1000 rps', ...cells((x) => `${f(x.p90, 0)} / ${f(x.p99, 0)}`)],
      ['adds p90 / p99 µs', ...cells((x) => `${signed(x.addedP90)} / ${signed(x.addedP99)}`)],
    ]), '',
  ];
}
