/**
 * Issue 22's targets, each judged against the floor measured beside it in the same run: gRPC and
 * HTTP/2 against the sidecar's own HTTP/1.1 cost and against direct, memory against idle and bare
 * node, HTTP/1.1 against the raw TCP relays, the sidecar on each Node.js runtime. A figure that was
 * not measured is "not run", never a pass.
 */
import { DEFAULT_RUNTIMES } from './bench-runtimes.js';
import { FLOOR_MESH, FLOOR_ONE_HOP, h2Via, type H2Target, type H2Via, type Results, type TargetSummary, type Verdict, type VerdictResult } from './bench-results.js';
import { mean, round } from './bench-util.js';

export type VerdictInput = Pick<Results, 'summary' | 'targets' | 'h2' | 'bareNode' | 'soak' | 'runtimes'>;

/** the sidecar target the issue's figures are about (telemetry on) */
export const SIDECAR = 'clew-sidecar';
export const MESH = 'clew-mesh';
/** what issue 22 allows */
export const LIMITS = {
  h2CpuOverHttp1: 1.5,
  h2ThroughputOverDirect: 0.5,
  recoveryMb: 20,
  recoverySeconds: 60,
  peakOverIdle: 2,
  idleOverBareMb: 15,
  soakGrowthMb: 5,
  soakMinutes: 30,
  soakSettleMinutes: 5,
  http1CpuOverRelay: 1.5,
  p99OverRelay: 1.3,
  meshP90OverRelays: 1.2,
} as const;

const fin = (v: number | undefined): number | undefined => (v !== undefined && Number.isFinite(v) ? v : undefined);
const us = (v: number) => `${round(v, 1)} µs`;
const mb = (v: number) => `${round(v, 1)} MB`;
const x = (v: number) => `${round(v, 2)} ×`;

function judge(ok: boolean | undefined): VerdictResult {
  return ok === undefined ? 'not run' : ok ? 'pass' : 'FAIL';
}

export interface H2Figures {
  rps?: number;
  cpuUsPerRequest?: number;
  failed: number;
  rssPeakMb?: number;
}

/** Means over an h2load target's rounds (failed runs, NaN, left out). */
export function h2Figures(h2: H2Target[], protocol: 'h2' | 'grpc', via: H2Via): H2Figures | undefined {
  const t = h2.find((h) => h.protocol === protocol && h2Via(h) === via);
  if (!t) return undefined;
  const ok = (v: number) => Number.isFinite(v);
  const rps = t.runs.map((r) => r.rps).filter(ok);
  const cpu = t.runs.map((r) => r.cpuUsPerRequest).filter(ok);
  const peaks = t.runs.map((r) => r.rssPeakMb ?? NaN).filter(ok);
  return {
    rps: rps.length ? mean(rps) : undefined,
    cpuUsPerRequest: cpu.length ? mean(cpu) : undefined,
    failed: t.runs.reduce((a, r) => a + Math.max(0, r.failed), 0),
    rssPeakMb: peaks.length ? Math.max(...peaks) : undefined,
  };
}

function h2Verdicts(r: VerdictInput, sc: TargetSummary | undefined): Verdict[] {
  const out: Verdict[] = [];
  const http1 = fin(sc?.cpuUsPerRequest);
  for (const [protocol, what] of [['grpc', 'unary gRPC'], ['h2', 'HTTP/2 GET']] as const) {
    const side = h2Figures(r.h2, protocol, 'sidecar');
    const direct = h2Figures(r.h2, protocol, 'direct');
    const relay = h2Figures(r.h2, protocol, 'tcp-relay');
    const proxy = h2Figures(r.h2, protocol, 'h2-proxy');
    const cpu = fin(side?.cpuUsPerRequest);
    const floors = [
      relay?.cpuUsPerRequest !== undefined ? `TCP relay (h2 bytes) ${us(relay.cpuUsPerRequest)}` : undefined,
      proxy?.cpuUsPerRequest !== undefined ? `node:http2 proxy ${us(proxy.cpuUsPerRequest)}${cpu !== undefined && proxy.cpuUsPerRequest > 0 ? ` (sidecar ${x(cpu / proxy.cpuUsPerRequest)} that)` : ''}` : undefined,
    ].filter(Boolean);
    const limitCpu = http1 !== undefined ? LIMITS.h2CpuOverHttp1 * http1 : undefined;
    out.push({
      id: `${protocol}-cpu`,
      target: `${what} through one sidecar: CPU per request ≤ ${LIMITS.h2CpuOverHttp1} × the sidecar's HTTP/1.1 CPU per request (h2load vs wrk, same run)`,
      measured: cpu === undefined ? 'not measured' : `${us(cpu)}${http1 !== undefined ? ` (${x(cpu / http1)} HTTP/1.1)` : ''}`,
      limit: limitCpu === undefined ? `${LIMITS.h2CpuOverHttp1} × HTTP/1.1 (not measured)` : `≤ ${us(limitCpu)} (${LIMITS.h2CpuOverHttp1} × ${us(http1!)})`,
      verdict: judge(cpu === undefined || limitCpu === undefined ? undefined : cpu <= limitCpu),
      note: floors.length ? `Node's h2 floor, same run: ${floors.join(', ')}` : undefined,
    });
    const rps = fin(side?.rps);
    const drps = fin(direct?.rps);
    const ratio = rps !== undefined && drps !== undefined && drps > 0 ? rps / drps : undefined;
    const floorRatios = [
      relay?.rps !== undefined && drps ? `TCP relay ${x(relay.rps / drps)}` : undefined,
      proxy?.rps !== undefined && drps ? `node:http2 proxy ${x(proxy.rps / drps)}` : undefined,
    ].filter(Boolean);
    const failed = (side?.failed ?? 0) > 0 ? `; ${side!.failed} requests failed through the sidecar` : '';
    out.push({
      id: `${protocol}-throughput`,
      target: `${what} through one sidecar: throughput ≥ ${LIMITS.h2ThroughputOverDirect} × direct (h2load -c16 -m10)`,
      measured: ratio === undefined ? 'not measured' : `${x(ratio)} direct (${round(rps!, 0)} vs ${round(drps!, 0)} req/s)`,
      limit: drps === undefined ? `≥ ${LIMITS.h2ThroughputOverDirect} × direct (not measured)` : `≥ ${LIMITS.h2ThroughputOverDirect} × direct (${round(LIMITS.h2ThroughputOverDirect * drps, 0)} req/s)`,
      verdict: judge(ratio === undefined ? undefined : ratio >= LIMITS.h2ThroughputOverDirect),
      note: `${floorRatios.length ? `Node's h2 floor, same run: ${floorRatios.join(', ')}` : ''}${failed}` || undefined,
    });
  }
  return out;
}

/** The RSS curve after the load: the first sample within the limit at or before 60 s passes; a curve shorter than 60 s that never got there is not a verdict. */
export function recoveryVerdict(idle: number | undefined, curve: { samples: Array<{ t: number; rssMb: number }>; seconds: number } | undefined): Verdict {
  const base = {
    id: 'rss-recovery',
    target: `one sidecar: RSS back within ${LIMITS.recoveryMb} MB of idle within ${LIMITS.recoverySeconds} s after the load runs (HTTP/1.1 and HTTP/2)`,
  };
  const limitMb = idle !== undefined ? idle + LIMITS.recoveryMb : undefined;
  const limit = limitMb !== undefined ? `≤ ${mb(limitMb)} (idle ${mb(idle!)} + ${LIMITS.recoveryMb}) by ${LIMITS.recoverySeconds} s` : `idle + ${LIMITS.recoveryMb} MB (idle not measured)`;
  if (!curve || !curve.samples.length || limitMb === undefined) return { ...base, measured: 'not measured', limit, verdict: 'not run' };
  const first = curve.samples[0];
  const end = curve.samples[curve.samples.length - 1];
  const back = curve.samples.find((s) => s.t <= LIMITS.recoverySeconds && s.rssMb <= limitMb);
  const measured = `${mb(end.rssMb)} after ${round(end.t, 0)} s idle (${end.rssMb - idle! >= 0 ? '+' : ''}${mb(end.rssMb - idle!)} over idle); right after the load ${mb(first.rssMb)}${back ? `; within the limit from ${round(back.t, 0)} s` : ''}`;
  let verdict: VerdictResult;
  let note: string | undefined;
  if (back) verdict = 'pass';
  else if (curve.seconds >= LIMITS.recoverySeconds) verdict = 'FAIL';
  else {
    verdict = 'not run';
    note = `sampled for ${round(curve.seconds, 0)} s only (--recovery-seconds): not back yet, too short to fail`;
  }
  return { ...base, measured, limit, verdict, note };
}

export function soakVerdict(soak: Results['soak']): Verdict {
  const base = {
    id: 'soak-growth',
    target: `${LIMITS.soakMinutes}-minute soak at 1000 rps, telemetry on: RSS grows < ${LIMITS.soakGrowthMb} MB after its first ${LIMITS.soakSettleMinutes} minutes`,
    limit: `< ${LIMITS.soakGrowthMb} MB`,
  };
  if (!soak || soak.source === 'absent') return { ...base, measured: `not run (no ${soak?.file ?? 'bench/results-soak.json'})`, verdict: 'not run', note: 'run `node dist/bench/run.js --soak-minutes 30` or `node dist/bench/soak-memory.js --minutes 30 --write`' };
  if (!soak.result) return { ...base, measured: `not run: ${soak.error ?? 'no result'}`, verdict: 'not run' };
  const s = soak.result;
  const growth = fin(s.growthAfter5MinMb);
  const from = `${soak.source === 'run' ? 'this run' : `${soak.file} of an earlier run`}: ${s.generatedAt}, commit ${s.commit}, ${s.node}; ${s.minutes} min at ${s.rps} rps, ${s.requests} requests, ${s.failed} failed; idle ${mb(s.idleRssMb)}, at 5 min ${mb(s.rssAt5MinMb)}, end ${mb(s.rssEndMb)}, peak ${mb(s.peakRssMb)}${s.png ? `; curve: ${s.png}` : ''}`;
  if (growth === undefined) return { ...base, measured: 'not measured (no growthAfter5MinMb)', verdict: 'not run', note: from };
  const measured = `${growth >= 0 ? '+' : ''}${mb(growth)}`;
  if (s.minutes < LIMITS.soakMinutes) return { ...base, measured, verdict: 'not run', note: `a ${s.minutes}-minute soak, the target needs ${LIMITS.soakMinutes}. ${from}` };
  return { ...base, measured, verdict: judge(growth < LIMITS.soakGrowthMb), note: from };
}

function memoryVerdicts(r: VerdictInput, sc: TargetSummary | undefined): Verdict[] {
  const idle = fin(sc?.rssIdleMb);
  const out: Verdict[] = [recoveryVerdict(idle, r.targets.find((t) => t.id === SIDECAR)?.recovery)];
  const h2Peak = Math.max(0, ...(['h2', 'grpc'] as const).map((p) => h2Figures(r.h2, p, 'sidecar')?.rssPeakMb ?? 0));
  // the first reading after the last load run counts too (RSS still rising as the load ends)
  const afterLoad = r.targets.find((t) => t.id === SIDECAR)?.recovery?.samples[0]?.rssMb ?? 0;
  const peak = fin(sc?.rssPeakMb) !== undefined || h2Peak > 0 ? Math.max(fin(sc?.rssPeakMb) ?? 0, h2Peak, afterLoad) : undefined;
  out.push({
    id: 'rss-peak',
    target: `one sidecar: peak RSS under load < ${LIMITS.peakOverIdle} × idle (250 ms samples during wrk, 1000 rps and h2load, and right after the last load)`,
    measured: peak === undefined || !peak ? 'not measured' : `${mb(peak)}${idle ? ` (${x(peak / idle)} idle)` : ''}`,
    limit: idle === undefined ? `${LIMITS.peakOverIdle} × idle (not measured)` : `< ${mb(LIMITS.peakOverIdle * idle)} (${LIMITS.peakOverIdle} × ${mb(idle)})`,
    verdict: judge(peak === undefined || !peak || idle === undefined ? undefined : peak < LIMITS.peakOverIdle * idle),
  });
  const side = fin(sc?.memIdle?.rssMb);
  const bare = fin(r.bareNode?.idle?.rssMb);
  out.push({
    id: 'rss-idle-vs-bare-node',
    target: `one sidecar: idle RSS ≤ bare node + ${LIMITS.idleOverBareMb} MB (same node flags, same run)`,
    measured: side === undefined ? 'not measured' : `${mb(side)}${bare !== undefined ? ` (+${mb(side - bare)} over bare node)` : ''}`,
    limit: bare === undefined ? `bare node + ${LIMITS.idleOverBareMb} MB (bare node not measured)` : `≤ ${mb(bare + LIMITS.idleOverBareMb)} (bare node ${mb(bare)} + ${LIMITS.idleOverBareMb})`,
    verdict: judge(side === undefined || bare === undefined ? undefined : side <= bare + LIMITS.idleOverBareMb),
    note: 'RSS from /proc/<pid>/smaps_rollup of both',
  });
  out.push(soakVerdict(r.soak));
  return out;
}

/** `clew ≤ factor × floor`; a floor below zero (noise: the floor faster than direct) counts as 0. */
function ratioVerdict(id: string, target: string, clew: number | undefined, floor: number | undefined, factor: number, floorName: string): Verdict {
  const limit = floor !== undefined ? factor * Math.max(0, floor) : undefined;
  return {
    id,
    target,
    measured: clew === undefined ? 'not measured' : `${us(clew)}${floor !== undefined && floor > 0 ? ` (${x(clew / floor)} ${floorName})` : ''}`,
    limit: limit === undefined ? `${factor} × ${floorName} (not measured)` : `≤ ${us(limit)} (${factor} × ${floorName} ${us(floor!)})`,
    verdict: judge(clew === undefined || limit === undefined ? undefined : clew <= limit),
  };
}

function http1Verdicts(r: VerdictInput, sc: TargetSummary | undefined): Verdict[] {
  const by = (id: string) => r.summary.find((s) => s.id === id);
  const relay = by(FLOOR_ONE_HOP);
  const relays = by(FLOOR_MESH);
  return [
    ratioVerdict('http1-cpu-vs-relay', `HTTP/1.1, one sidecar: CPU per request ≤ ${LIMITS.http1CpuOverRelay} × the raw TCP relay's (wrk -c64)`, fin(sc?.cpuUsPerRequest), fin(relay?.cpuUsPerRequest), LIMITS.http1CpuOverRelay, 'relay'),
    ratioVerdict('http1-p99-vs-relay', `HTTP/1.1, one sidecar: p99 added at 1000 rps ≤ ${LIMITS.p99OverRelay} × the relay's added p99`, fin(sc?.addedLatency.p99), fin(relay?.addedLatency.p99), LIMITS.p99OverRelay, 'relay'),
    ratioVerdict('mesh-p90-vs-relays', `HTTP/1.1, mesh path (2 sidecars): p90 added at 1000 rps ≤ ${LIMITS.meshP90OverRelays} × two chained relays' added p90`, fin(by(MESH)?.addedLatency.p90), fin(relays?.addedLatency.p90), LIMITS.meshP90OverRelays, 'two relays'),
  ];
}

export interface RuntimeFigures {
  major: number;
  version?: string;
  cpuUsPerRequest?: number;
  rssIdleMb?: number;
  p90?: number;
  p99?: number;
  addedP90?: number;
  addedP99?: number;
  notRun?: string;
}

/** The one-sidecar figures per runtime (from the target measured on it). */
export function runtimeFigures(r: Pick<Results, 'summary' | 'runtimes'>): RuntimeFigures[] {
  return (r.runtimes ?? []).map((e) => {
    const s = e.targetId ? r.summary.find((t) => t.id === e.targetId) : undefined;
    if (!s) return { major: e.major, version: e.version, notRun: e.notRun ?? 'not measured' };
    return {
      major: e.major, version: e.version, cpuUsPerRequest: fin(s.cpuUsPerRequest), rssIdleMb: fin(s.memIdle?.rssMb ?? s.rssIdleMb),
      p90: fin(s.latency.p90), p99: fin(s.latency.p99), addedP90: fin(s.addedLatency.p90), addedP99: fin(s.addedLatency.p99),
    };
  });
}

function runtimeVerdict(r: VerdictInput): Verdict {
  const figs = runtimeFigures(r);
  const want = DEFAULT_RUNTIMES;
  const measured = figs.filter((f) => f.cpuUsPerRequest !== undefined);
  const missing = want.filter((m) => !measured.some((f) => f.major === m));
  const base = figs.find((f) => f.major === 20 && f.cpuUsPerRequest !== undefined);
  const cell = (f: RuntimeFigures) => f.cpuUsPerRequest === undefined
    ? `${f.major}: not run${f.notRun ? ` (${f.notRun})` : ''}`
    : `${f.major}${f.version ? ` (${f.version})` : ''}: ${us(f.cpuUsPerRequest)}${base && f !== base ? ` = ${x(f.cpuUsPerRequest / base.cpuUsPerRequest!)} Node 20` : ''}, idle ${f.rssIdleMb !== undefined ? mb(f.rssIdleMb) : '–'}, p90/p99 ${f.p90 !== undefined ? round(f.p90, 0) : '–'}/${f.p99 !== undefined ? round(f.p99, 0) : '–'} µs`;
  return {
    id: 'node-runtimes',
    target: `one sidecar (telemetry on) measured on Node ${want.join(', ')} in the same run: CPU per request (wrk -c64), idle RSS, p90/p99 at 1000 rps`,
    measured: figs.length ? figs.map(cell).join('; ') : 'not run (no runtime asked for: --runtimes none, or results from before)',
    limit: `all of Node ${want.join(', ')} measured`,
    verdict: missing.length ? 'not run' : 'pass',
    note: missing.length ? `not run on Node ${missing.join(', ')}` : 'a comparison, not a limit: see "The sidecar on each Node.js runtime"',
  };
}

/** Every issue-22 target, in the issue's order. */
export function evaluateIssue22(r: VerdictInput): Verdict[] {
  const sc = r.summary.find((s) => s.id === SIDECAR);
  return [...h2Verdicts(r, sc), ...memoryVerdicts(r, sc), ...http1Verdicts(r, sc), runtimeVerdict(r)];
}
