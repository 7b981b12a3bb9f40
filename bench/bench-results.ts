/**
 * The suite's results: per-target raw runs, the summary (means over rounds, ratios, latency
 * added over direct) and the pass/fail checks against the benchmarks issue's targets.
 */
import type { CpuSource } from './bench-cpu.js';
import type { H2Result, RateResult, WrkResult } from './bench-load.js';
import type { MemBreakdown } from './bench-mem.js';
import { mean, round } from './bench-util.js';

/** floor: Node's own floor (raw TCP relays, bench-floor.ts), not a proxy anyone would deploy */
export type TargetKind = 'baseline' | 'clew' | 'peer' | 'reference' | 'floor';

/** ids of the floor targets */
export const FLOOR_ONE_HOP = 'node-tcp-relay';
export const FLOOR_MESH = 'node-tcp-relay-x2';

export interface WrkRun extends WrkResult {
  round: number;
  /** CPU used by processes outside the benchmark during the run, % of all CPUs */
  foreignCpuPct: number;
  /** proxy CPU seconds during the run (all of the target's processes) */
  cpuSeconds: number;
  /** the same from utime+stime ticks (when cpuSeconds is from schedstat) */
  cpuTickSeconds?: number;
  cpuSource?: CpuSource;
  cpuUsPerRequest: number;
  rssPeakMb: number;
}

export interface RateRun extends RateResult {
  round: number;
  foreignCpuPct: number;
  seconds: number;
  cpuSeconds: number;
  cpuTickSeconds?: number;
  cpuSource?: CpuSource;
  /** proxy vCPU per 1000 rps at this rate */
  vcpuPer1000Rps: number;
  /** the proxies' highest RSS sample during the run (runs from before this field: none) */
  rssPeakMb?: number;
}

/** RSS after the last load run, sampled while idle: t = seconds after the first reading. */
export interface RssCurve {
  samples: Array<{ t: number; rssMb: number }>;
  /** how long the curve was sampled */
  seconds: number;
}

export interface TargetRuns {
  id: string;
  label: string;
  kind: TargetKind;
  /** proxy processes in the path (sidecars count one each) */
  proxies: number;
  rssIdleMb: number;
  /** RSS after all runs, idle again */
  rssAfterMb?: number;
  /** smaps_rollup: anonymous and file-backed pages, idle and after all runs */
  memIdle?: MemBreakdown;
  memAfter?: MemBreakdown;
  /** RSS from right after the last load run (HTTP/2 included), sampled while idle (Clew targets) */
  recovery?: RssCurve;
  wrk: WrkRun[];
  fixedRate: RateRun[];
  hey: RateRun[];
}

export interface H2Run extends H2Result {
  round: number;
  foreignCpuPct: number;
  cpuSeconds: number;
  cpuUsPerRequest: number;
  /** the path's processes' highest RSS sample during the run */
  rssPeakMb?: number;
}

/** what an h2load target goes through: nothing, Clew's sidecar, or one of Node's HTTP/2 floors */
export type H2Via = 'direct' | 'sidecar' | 'tcp-relay' | 'h2-proxy';

export interface H2Target {
  id: string;
  label: string;
  protocol: 'h2' | 'grpc';
  viaSidecar: boolean;
  /** results from before the HTTP/2 floors have only viaSidecar */
  via?: H2Via;
  runs: H2Run[];
}

export function h2Via(t: H2Target): H2Via {
  return t.via ?? (t.viaSidecar ? 'sidecar' : 'direct');
}

export interface Latency { p50: number; p90: number; p99: number }

export interface TargetSummary {
  id: string;
  label: string;
  kind: TargetKind;
  proxies: number;
  rps: number;
  /** wrk's p99 latency, ms (mean of the rounds) */
  wrkP99Ms: number;
  rpsVsDirect: number;
  rpsVsHaproxy: number;
  cpuUsPerRequest: number;
  /** per proxy process (mesh: the two sidecars' average) */
  cpuUsPerRequestPerProxy: number;
  /** hey's run (the issue's method; hey's workers fire together, so requests come in bursts of 16) */
  vcpuPer1000Rps: number;
  vcpuPer1000RpsPerProxy: number;
  /** fixed-rate-load's run (requests evenly spaced: no batching, a stricter figure) */
  vcpuPer1000RpsEven: number;
  rssIdleMb: number;
  rssPeakMb: number;
  rssAfterMb?: number;
  memIdle?: MemBreakdown;
  memAfter?: MemBreakdown;
  /** fixed-rate-load, µs */
  latency: Latency;
  addedLatency: Latency;
  /** hey, µs (0.1 ms resolution) */
  heyLatency?: Latency;
  heyAddedLatency?: Latency;
  errors: number;
}

export interface Check {
  id: string;
  target: string;
  measured: string;
  pass: boolean | undefined;
  note?: string;
}

export interface ControlPlaneResult {
  services: number;
  endpoints: number;
  clients: number;
  config_load_ms: number;
  first_full_push_ms: number;
  apply_to_all_acked_ms: { p50: number; p99: number; max: number };
  rss_mb: { idle_loaded: number; clients_connected: number; after_applies: number };
  targets?: { p99_ms: number; rss_mb: number };
  /** added by the suite: CPU used by other processes during the run, % of all CPUs */
  foreignCpuPct?: number;
}

export interface Results {
  date: string;
  quick: boolean;
  machine: Record<string, string | number>;
  tools: Record<string, string>;
  settings: Record<string, string | number>;
  /** CPU used by other processes on the machine during the measurements, % of all CPUs */
  foreignCpu: { meanPct: number; maxPct: number; runsOver5Pct: number; runs: number };
  notes: string[];
  targets: TargetRuns[];
  summary: TargetSummary[];
  h2: H2Target[];
  controlPlane?: ControlPlaneResult | { error: string };
  /** a node process that only idles, with the sidecar's node flags (bench-floor.ts) */
  bareNode?: BareNode;
  /** how the proxies' CPU time was read */
  cpuAccounting?: CpuAccounting;
  checks: Check[];
  /** issue 22's targets, each against the floor measured beside it (bench-verdicts.ts) */
  verdicts?: Verdict[];
  /** the memory soak (bench/soak-memory.ts, cost of a separate 30-minute run) */
  soak?: SoakEntry;
  /** the one-sidecar setup on each Node.js runtime asked for */
  runtimes?: RuntimeEntry[];
}

export type VerdictResult = 'pass' | 'FAIL' | 'not run';

export interface Verdict {
  id: string;
  /** the target, in words */
  target: string;
  /** the figure measured (or why none was) */
  measured: string;
  /** the limit, computed from the floor of the same run */
  limit: string;
  verdict: VerdictResult;
  note?: string;
}

/** bench/results-soak.json as bench/soak-memory.ts writes it (the contract between the two) */
export interface SoakResult {
  generatedAt: string;
  commit: string;
  node: string;
  minutes: number;
  rps: number;
  idleRssMb: number;
  peakRssMb: number;
  rssAt5MinMb: number;
  rssEndMb: number;
  growthAfter5MinMb: number;
  requests: number;
  failed: number;
  samples: Array<{ t: number; rssMb: number; heapUsedMb?: number }>;
  png?: string;
}

export interface SoakEntry {
  /** run: by this suite run (--soak-minutes); file: an earlier run's results-soak.json; absent: neither */
  source: 'run' | 'file' | 'absent';
  file: string;
  result?: SoakResult;
  /** why there is no result (script missing, run failed, unreadable file) */
  error?: string;
}

export interface RuntimeEntry {
  major: number;
  version?: string;
  node?: string;
  /** the target measured on this runtime (clew-sidecar for the suite's own runtime) */
  targetId?: string;
  /** why it is not measured */
  notRun?: string;
}

export interface BareNode {
  command: string;
  idle?: MemBreakdown;
  after?: MemBreakdown;
}

export interface CpuAccounting {
  /** runs whose CPU came from schedstat, and from ticks */
  schedstatRuns: number;
  tickRuns: number;
  /** over the schedstat runs: sum of the tick figures ÷ sum of the schedstat figures */
  ticksOverSchedstat: number;
  /** the largest difference of one run's tick figure from its schedstat figure, CPU seconds */
  maxDiffSeconds: number;
}

/** How the runs' proxy CPU was measured, and how the tick figures compare with schedstat's. */
export function cpuAccounting(targets: TargetRuns[]): CpuAccounting {
  const runs = targets.filter((t) => t.proxies > 0).flatMap((t) => [...t.wrk, ...t.fixedRate, ...t.hey]);
  const sched = runs.filter((r) => r.cpuSource === 'schedstat' && r.cpuTickSeconds !== undefined && Number.isFinite(r.cpuSeconds));
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
  return {
    schedstatRuns: sched.length,
    tickRuns: runs.length - sched.length,
    ticksOverSchedstat: sum(sched.map((r) => r.cpuTickSeconds!)) / sum(sched.map((r) => r.cpuSeconds)),
    maxDiffSeconds: Math.max(0, ...sched.map((r) => Math.abs(r.cpuTickSeconds! - r.cpuSeconds))),
  };
}

function latencyOf(runs: RateRun[]): Latency {
  return { p50: mean(runs.map((r) => r.p50)), p90: mean(runs.map((r) => r.p90)), p99: mean(runs.map((r) => r.p99)) };
}

/** Per-round difference to the direct run of the same round, averaged. */
function addedOver(runs: RateRun[], direct: RateRun[]): Latency {
  const diff = (k: keyof Latency) => mean(runs.map((r) => {
    const d = direct.find((x) => x.round === r.round);
    return d ? r[k] - d[k] : NaN;
  }));
  return { p50: diff('p50'), p90: diff('p90'), p99: diff('p99') };
}

export function summarize(targets: TargetRuns[]): TargetSummary[] {
  const direct = targets.find((t) => t.id === 'direct');
  const haproxy = targets.find((t) => t.id === 'haproxy');
  const rpsOf = (t: TargetRuns | undefined) => (t ? mean(t.wrk.map((r) => r.rps)) : NaN);
  return targets.map((t) => {
    const rps = rpsOf(t);
    const cpu = mean(t.wrk.map((r) => r.cpuUsPerRequest));
    const vcpuEven = mean(t.fixedRate.map((r) => r.vcpuPer1000Rps));
    const vcpu = t.hey.length ? mean(t.hey.map((r) => r.vcpuPer1000Rps)) : vcpuEven;
    const per = Math.max(1, t.proxies);
    const s: TargetSummary = {
      id: t.id,
      label: t.label,
      kind: t.kind,
      proxies: t.proxies,
      rps,
      wrkP99Ms: mean(t.wrk.map((r) => r.latencyMs.p99)),
      rpsVsDirect: rps / rpsOf(direct),
      rpsVsHaproxy: rps / rpsOf(haproxy),
      cpuUsPerRequest: t.proxies ? cpu : NaN,
      cpuUsPerRequestPerProxy: t.proxies ? cpu / per : NaN,
      vcpuPer1000Rps: t.proxies ? vcpu : NaN,
      vcpuPer1000RpsPerProxy: t.proxies ? vcpu / per : NaN,
      vcpuPer1000RpsEven: t.proxies ? vcpuEven : NaN,
      rssIdleMb: t.rssIdleMb,
      rssPeakMb: Math.max(...t.wrk.map((r) => r.rssPeakMb), ...[...t.fixedRate, ...t.hey].map((r) => r.rssPeakMb ?? 0), 0),
      rssAfterMb: t.rssAfterMb,
      memIdle: t.memIdle,
      memAfter: t.memAfter,
      latency: latencyOf(t.fixedRate),
      addedLatency: direct ? addedOver(t.fixedRate, direct.fixedRate) : { p50: NaN, p90: NaN, p99: NaN },
      errors: [...t.wrk.map((r) => r.non2xx + r.socketErrors), ...t.fixedRate.map((r) => r.errors), ...t.hey.map((r) => r.errors)].reduce((a, b) => a + b, 0),
    };
    if (t.hey.length) {
      s.heyLatency = latencyOf(t.hey);
      if (direct?.hey.length) s.heyAddedLatency = addedOver(t.hey, direct.hey);
    }
    return s;
  });
}

const us = (v: number) => `${round(v, 1)} µs`;
const mb = (v: number) => `${round(v, 1)} MB`;

/** What two chained Node TCP relays add at p90 in the same run, and Clew's mesh addition in multiples of it. */
export function meshFloorText(meshP90: number, floor: TargetSummary | undefined, limit: number): string | undefined {
  const f = floor?.addedLatency.p90;
  if (f === undefined || !Number.isFinite(f)) return undefined;
  const share = limit > 0 ? ` (${round((f * 100) / limit, 0)} % of the limit)` : '';
  const ratio = f > 0 ? `Clew's mesh path adds ${round(meshP90 / f, 2)} × that` : 'too little to compare Clew with';
  return `Node's floor in this run: two chained TCP relays add ${us(f)} at p90${share}; ${ratio}`;
}

/** What Clew's sidecar adds, idle, over a bare node process with the same flags (smaps_rollup figures of both). */
export function bareNodeText(sidecar: TargetSummary | undefined, bare: BareNode | undefined): string | undefined {
  const b = bare?.idle;
  if (!b) return undefined;
  const base = `bare node (\`${bare!.command}\`) idles at ${mb(b.rssMb)} RSS (${mb(b.anonMb)} anonymous, ${mb(b.fileMb)} file-backed)`;
  const s = sidecar?.memIdle;
  if (!s) return base;
  return `${base}; Clew's sidecar adds ${mb(s.rssMb - b.rssMb)} RSS over it, ${mb(s.anonMb - b.anonMb)} of it anonymous (sidecar: ${mb(s.anonMb)} anonymous, ${mb(s.fileMb)} file-backed)`;
}

export function evaluate(summary: TargetSummary[], cp: Results['controlPlane'], bareNode?: BareNode): Check[] {
  const by = (id: string) => summary.find((s) => s.id === id);
  const sc = by('clew-sidecar');
  const mesh = by('clew-mesh');
  const ha = by('haproxy');
  const checks: Check[] = [];
  const num = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : undefined);
  const add = (id: string, target: string, measured: string, v: number | undefined, ok: (v: number) => boolean, note?: string) => {
    checks.push({ id, target, measured: v === undefined ? 'not measured' : measured, pass: v === undefined ? undefined : ok(v), note });
  };
  const cpu = num(sc?.cpuUsPerRequest);
  add('sidecar-cpu-per-request', 'one sidecar ≤ 50 µs CPU per request (wrk)', cpu !== undefined ? us(cpu) : '', cpu, (v) => v <= 50);
  const vsHa = num(sc && ha ? sc.rps / ha.rps : undefined);
  add('sidecar-vs-haproxy', 'one sidecar ≥ 0.7 × HAProxy wrk throughput', vsHa !== undefined ? `${round(vsHa, 2)} ×` : '', vsHa, (v) => v >= 0.7);
  for (const peer of ['http-proxy', 'fastify-http-proxy']) {
    const p = by(peer);
    const r = num(sc && p ? sc.rps / p.rps : undefined);
    add(`sidecar-vs-${peer}`, `one sidecar ≥ 1.4 × ${peer} wrk throughput`, r !== undefined ? `${round(r, 2)} ×` : '', r, (v) => v >= 1.4);
  }
  const meshP90 = num(mesh?.addedLatency.p90);
  const haP90 = num(ha?.addedLatency.p90);
  if (meshP90 !== undefined && haP90 !== undefined) {
    const limit = 2 * Math.max(haP90, 0);
    const floor = meshFloorText(meshP90, by(FLOOR_MESH), limit);
    add('mesh-added-p90', 'mesh path (2 sidecars) adds ≤ 2 × one HAProxy hop at p90, 1000 rps',
      `${us(meshP90)} vs limit ${us(limit)} (HAProxy adds ${us(haP90)}); p99 adds ${us(mesh!.addedLatency.p99)}${floor ? `. ${floor}` : ''}`, meshP90, (v) => v <= limit,
      'Istio 1.20 publishes 228 µs p90 / 298 µs p99 for its two Envoys');
  } else add('mesh-added-p90', 'mesh path (2 sidecars) adds ≤ 2 × one HAProxy hop at p90, 1000 rps', '', undefined, () => false);
  const vcpu = num(sc?.vcpuPer1000Rps);
  const even = num(sc?.vcpuPer1000RpsEven);
  add('sidecar-vcpu', 'one sidecar ≤ 0.12 vCPU per 1000 rps (hey, 16 connections)', vcpu !== undefined ? `${round(vcpu, 3)} vCPU${even !== undefined ? ` (evenly paced: ${round(even, 3)})` : ''}` : '', vcpu, (v) => v <= 0.12, 'Istio 1.24 publishes 0.20');
  const rss = num(sc?.rssIdleMb);
  const bare = bareNodeText(sc, bareNode);
  add('sidecar-rss-idle', 'sidecar ≤ 40 MB RSS idle, xDS client loaded', rss !== undefined ? `${round(rss, 1)} MB` : '', rss, (v) => v <= 40, `Istio 60 MB, Linkerd about 20 MB${bare ? `; ${bare}` : ''}`);
  if (cp && !('error' in cp)) {
    const t = cp.targets ?? { p99_ms: 500, rss_mb: 500 };
    add('control-plane-p99', `control plane: apply → all ${cp.clients} clients ACKed p99 ≤ ${t.p99_ms} ms (${cp.services} services, ${cp.endpoints} endpoints)`, `${round(cp.apply_to_all_acked_ms.p99, 1)} ms`, cp.apply_to_all_acked_ms.p99, (v) => v <= t.p99_ms);
    const peak = Math.max(cp.rss_mb.idle_loaded, cp.rss_mb.clients_connected, cp.rss_mb.after_applies);
    add('control-plane-rss', `control plane RSS ≤ ${t.rss_mb} MB`, `${peak} MB peak`, peak, (v) => v <= t.rss_mb);
  }
  return checks;
}
