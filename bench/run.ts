/**
 * The benchmark suite (`npm run bench`, `npm run bench -- --quick`): Clew's sidecar against
 * direct, HAProxy, nginx, the Node proxies and Node's own floor (raw TCP relays, a bare node
 * process: bench-floor.ts), on one machine in one run. Every proxy is pinned to
 * CPU 0, the load generators, the upstream and the control plane to CPU 1; targets are
 * interleaved, each measured `rounds` times. Then HTTP/2 and gRPC through the sidecar, then the
 * control-plane benchmark (bench/control-plane.ts). Writes bench/RESULTS.md and
 * bench/results.json (quick: bench/out/RESULTS-quick.md and results-quick.json).
 *
 *   node dist/bench/run.js [--quick] [--rounds N] [--wrk-seconds S] [--rate-seconds S] [--hey-seconds S]
 *     [--h2-seconds S] [--only direct,clew-sidecar,clew-mesh,haproxy,nginx,http-proxy,node-tcp-relay,...]
 *     [--no-install] [--no-control-plane] [--no-hey] [--retries N] [--wait-quiet-minutes M]
 *     [--deadline-minutes M] [--runtimes 20,22,24|none] [--recovery-seconds 60] [--soak-minutes N]
 *   node dist/bench/run.js --render bench/results.json   (RESULTS.md again from the JSON)
 * On a machine shared with other jobs, runs disturbed by them (over 5 % of the CPU) are repeated.
 * Issue 22's targets get their own verdict table (bench-verdicts.ts): gRPC and HTTP/2 against the
 * sidecar's HTTP/1.1 cost and Node's h2 floors (h2load through the TCP relay and bench/h2-proxy.ts),
 * the RSS curve after the load, peak and idle RSS against idle and bare node, the memory soak
 * (--soak-minutes N runs bench/soak-memory.ts; otherwise an existing bench/results-soak.json, dated),
 * HTTP/1.1 against the TCP relays, and the one-sidecar setup on each Node.js runtime (--runtimes).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { clewTelemetryState, collectorCounts, startClew, type BenchTelemetry, type ClewSetup } from './bench-clew.js';
import { runFixedRate, runH2load, runHey, runWrk, type Endpoint } from './bench-load.js';
import { cpuMeter } from './bench-cpu.js';
import { bareNodeCommand, startBareNode, startH2Proxy, startRelayChain } from './bench-floor.js';
import { memBreakdown, roundMem } from './bench-mem.js';
import { startHaproxy, startNginx, startNodeProxy, startUpstream, type NodeProxyKind, type Upstream } from './bench-peers.js';
import { foreignCpuWatch, killActiveTools, processTree, rssMb, rssSampler, runTool, type Pinned } from './bench-proc.js';
import { renderResults } from './bench-report.js';
import { cpuAccounting, evaluate, FLOOR_MESH, FLOOR_ONE_HOP, summarize, type BareNode, type ControlPlaneResult, type H2Target, type H2Via, type RateRun, type Results, type RuntimeEntry, type TargetKind, type TargetRuns } from './bench-results.js';
import { findRuntime, parseRuntimes } from './bench-runtimes.js';
import { readSoak, runSoak } from './bench-soak.js';
import { evaluateIssue22 } from './bench-verdicts.js';
import { foreignSummary, measureClean, settle, waitQuiet, type QuietPolicy } from './bench-quiet.js';
import { ensureTools, toolVersions, type ToolStatus } from './bench-tools.js';
import { repoRoot, round, sleep } from './bench-util.js';

interface Options {
  quick: boolean;
  rounds: number;
  wrkSeconds: number;
  rateSeconds: number;
  heySeconds: number;
  h2Seconds: number;
  warmupSeconds: number;
  rps: number;
  only?: Set<string>;
  install: boolean;
  controlPlane: boolean;
  hey: boolean;
  deadlineMinutes: number;
  waitQuietMinutes: number;
  retries: number;
  /** Node.js majors the one-sidecar setup is measured on (issue 22) */
  runtimes: number[];
  /** how long the sidecars' RSS is sampled, idle, after the last load run */
  recoverySeconds: number;
  /** run bench/soak-memory.ts for this many minutes (0: read an existing results-soak.json) */
  soakMinutes: number;
}

const PROXY_CPU = 0;
const LOAD_CPU = 1;

function parseOptions(argv: string[]): Options {
  const has = (f: string) => argv.includes(f);
  const val = (f: string) => {
    const i = argv.indexOf(f);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (f: string, d: number) => (val(f) !== undefined ? Number(val(f)) : d);
  const quick = has('--quick');
  return {
    quick,
    rounds: num('--rounds', quick ? 1 : 2),
    wrkSeconds: num('--wrk-seconds', quick ? 3 : 10),
    rateSeconds: num('--rate-seconds', quick ? 3 : 10),
    // hey's vCPU figure needs a few thousand requests, not ten seconds (5 s: 5000 at 1000 rps);
    // the time goes to the issue-22 targets (runtimes, h2 floors, the RSS curve) within 25 minutes
    heySeconds: num('--hey-seconds', quick ? 3 : 5),
    h2Seconds: num('--h2-seconds', quick ? 3 : 6),
    warmupSeconds: num('--warmup-seconds', quick ? 1 : 3),
    rps: num('--rps', 1000),
    only: val('--only') ? new Set(val('--only')!.split(',')) : undefined,
    install: !has('--no-install'),
    controlPlane: !has('--no-control-plane'),
    hey: !has('--no-hey'),
    deadlineMinutes: num('--deadline-minutes', quick ? 8 : 40),
    waitQuietMinutes: num('--wait-quiet-minutes', quick ? 0 : 10),
    retries: num('--retries', quick ? 0 : 3),
    runtimes: parseRuntimes(val('--runtimes')),
    recoverySeconds: num('--recovery-seconds', quick ? 15 : 60),
    soakMinutes: num('--soak-minutes', 0),
  };
}

interface Live {
  id: string;
  label: string;
  kind: TargetKind;
  proxies: number;
  ep: Endpoint;
  pids: () => number[];
  /** false: no hey run (the runtime comparison needs wrk and the fixed rate only) */
  hey?: boolean;
}

const started: Pinned[] = [];
let clew: ClewSetup | undefined;
/** more setups (telemetry off, access log on) for the telemetry comparison */
const clewVariants: ClewSetup[] = [];
const t0 = Date.now();

function log(line: string): void {
  process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
}

async function stopAll(): Promise<void> {
  killActiveTools();
  if (clew) await clew.stop();
  clew = undefined;
  for (const c of clewVariants.splice(0)) await c.stop();
  for (const p of started.splice(0).reverse()) await p.stop();
}

function quiet(opts: Options): QuietPolicy {
  return { retries: opts.retries, retryUntil: t0 + opts.deadlineMinutes * 60_000 * 0.7, log };
}

function pinSelf(tools: ToolStatus, notes: string[]): boolean {
  if (!tools.found.taskset || os.cpus().length < 2) {
    notes.push(`no CPU pinning (${tools.found.taskset ? `${os.cpus().length} CPU` : 'taskset missing'}): figures are not comparable with pinned runs`);
    return false;
  }
  // the orchestrator (and what it spawns unpinned) stays off the proxies' CPU
  execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CPU), String(process.pid)], { stdio: 'ignore' });
  return true;
}

async function warmRequests(t: Live, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await request(t.ep.url, { headers: t.ep.host ? { host: t.ep.host } : {} });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`${t.id}: HTTP ${r.statusCode}`);
  }
}

async function startTargets(opts: Options, tools: ToolStatus, workDir: string, notes: string[], pinned: boolean, runtimes: RuntimeEntry[]): Promise<{ live: Live[]; upstream: Upstream; bareNode: Pinned }> {
  const pcpu = pinned ? PROXY_CPU : undefined;
  const lcpu = pinned ? LOAD_CPU : undefined;
  const want = (id: string) => !opts.only || opts.only.has(id);
  const up = await startUpstream(workDir, lcpu);
  started.push(up.proc);
  // idles from now on, like the targets; its RSS is read with theirs
  const bareNode = startBareNode(workDir, pcpu);
  started.push(bareNode);
  const live: Live[] = [{ id: 'direct', label: 'direct', kind: 'baseline', proxies: 0, ep: { url: `http://127.0.0.1:${up.http}/` }, pids: () => [] }];
  if (want('clew-sidecar') || want('clew-mesh')) {
    log('starting the Clew control plane and sidecars');
    try {
      clew = await startClew({ workDir, upstreams: up, proxyCpu: pcpu, cpCpu: lcpu });
      const c = clew;
      if (want('clew-sidecar')) live.push({ id: 'clew-sidecar', label: 'Clew, one sidecar (telemetry on)', kind: 'clew', proxies: 1, ep: { url: c.outboundUrl, host: c.hosts.sidecar }, pids: () => [c.client.pid] });
      if (want('clew-mesh')) live.push({ id: 'clew-mesh', label: 'Clew, mesh path (2 sidecars)', kind: 'clew', proxies: 2, ep: { url: c.outboundUrl, host: c.hosts.mesh }, pids: () => [c.client.pid, c.server.pid] });
    } catch (err) {
      notes.push(`Clew not measured: ${(err as Error).message}`);
      log(`Clew failed to start: ${(err as Error).message}`);
    }
  }
  const variants: Array<{ id: string; label: string; telemetry: BenchTelemetry }> = [
    { id: 'clew-sidecar-notel', label: 'Clew, one sidecar, telemetry off', telemetry: 'off' },
    { id: 'clew-sidecar-log', label: 'Clew, one sidecar, telemetry on + access log', telemetry: 'log' },
  ];
  for (const v of variants) {
    if (!want(v.id)) continue;
    log(`starting another Clew setup: ${v.label}`);
    try {
      const dir = path.join(workDir, v.id);
      fs.mkdirSync(dir, { recursive: true });
      const c = await startClew({ workDir: dir, upstreams: up, proxyCpu: pcpu, cpCpu: lcpu, telemetry: v.telemetry });
      clewVariants.push(c);
      live.push({ id: v.id, label: v.label, kind: 'clew', proxies: 1, ep: { url: c.outboundUrl, host: c.hosts.sidecar }, pids: () => [c.client.pid] });
    } catch (err) {
      notes.push(`${v.label} not measured: ${(err as Error).message}`);
    }
  }
  // the one-sidecar setup on each other Node.js runtime (the suite's own runtime is clew-sidecar)
  for (const major of opts.runtimes) {
    const own = Number(process.versions.node.split('.')[0]) === major;
    const id = own ? 'clew-sidecar' : `clew-sidecar-node${major}`;
    if (own) {
      runtimes.push(live.some((t) => t.id === id) ? { major, version: process.version, node: process.execPath, targetId: id } : { major, version: process.version, notRun: clew ? 'clew-sidecar not in --only' : 'Clew not measured' });
      continue;
    }
    if (!want(id) && !opts.only?.has('runtimes')) {
      runtimes.push({ major, notRun: `${id} not in --only` });
      continue;
    }
    const bin = findRuntime(major, opts.install);
    if (!bin.node) {
      runtimes.push({ major, notRun: bin.missing });
      notes.push(`Node.js ${major} not measured: ${bin.missing}`);
      continue;
    }
    log(`starting the one-sidecar setup on ${bin.version} (${bin.node})`);
    try {
      const dir = path.join(workDir, id);
      fs.mkdirSync(dir, { recursive: true });
      const c = await startClew({ workDir: dir, upstreams: up, proxyCpu: pcpu, cpCpu: lcpu, telemetry: 'on', node: bin.node });
      clewVariants.push(c);
      live.push({ id, label: `Clew, one sidecar (telemetry on), Node ${bin.version}`, kind: 'clew', proxies: 1, ep: { url: c.outboundUrl, host: c.hosts.sidecar }, pids: () => [c.client.pid], hey: false });
      runtimes.push({ major, version: bin.version, node: bin.node, targetId: id });
    } catch (err) {
      runtimes.push({ major, version: bin.version, node: bin.node, notRun: `did not start: ${(err as Error).message}` });
      notes.push(`Clew on Node ${bin.version} not measured: ${(err as Error).message}`);
    }
  }
  const peer = async (id: string, label: string, kind: TargetKind, start: () => Promise<{ proc: Pinned; url: string }>, tree: boolean) => {
    if (!want(id)) return;
    try {
      const p = await start();
      started.push(p.proc);
      live.push({ id, label, kind, proxies: 1, ep: { url: p.url }, pids: () => (tree ? processTree(p.proc.pid) : [p.proc.pid]) });
    } catch (err) {
      notes.push(`${label} not measured: ${(err as Error).message}`);
    }
  };
  if (tools.found.haproxy) await peer('haproxy', 'HAProxy (nbthread 1)', 'peer', () => startHaproxy(tools.found.haproxy!, workDir, up.http, pcpu), false);
  else if (want('haproxy')) notes.push('HAProxy not measured: haproxy missing');
  if (tools.found.nginx) await peer('nginx', 'nginx (1 worker)', 'peer', () => startNginx(tools.found.nginx!, workDir, up.http, pcpu), true);
  else if (want('nginx')) notes.push('nginx not measured: nginx missing');
  const nodeKinds: Array<[NodeProxyKind, string, TargetKind]> = [
    ['http-proxy', 'http-proxy', 'peer'],
    ['fastify-http-proxy', '@fastify/http-proxy', 'peer'],
    ['node-minimal', 'node:http + undici.Pool (reference)', 'reference'],
  ];
  for (const [k, label, kind] of nodeKinds) await peer(k, label, kind, () => startNodeProxy(k, workDir, up.http, pcpu), false);
  const floors: Array<[string, string, number]> = [[FLOOR_ONE_HOP, 'Node TCP relay (floor)', 1], [FLOOR_MESH, 'Node TCP relay ×2 (mesh floor)', 2]];
  for (const [id, label, hops] of floors) {
    if (!want(id)) continue;
    try {
      const chain = await startRelayChain(hops, workDir, up.http, pcpu);
      started.push(...chain.procs);
      const pids = chain.procs.map((p) => p.pid);
      live.push({ id, label, kind: 'floor', proxies: hops, ep: { url: chain.url }, pids: () => pids });
    } catch (err) {
      notes.push(`${label} not measured: ${(err as Error).message}`);
    }
  }
  return { live, upstream: up, bareNode };
}

/** How long the measurements take from the targets' start on (about 2 s of overhead per tool run). */
function estimateMinutes(opts: Options, live: Live[]): number {
  const ov = 2;
  const heyTargets = opts.hey ? live.filter((t) => t.hey !== false).length : 0;
  const perRound = live.length * (opts.wrkSeconds + ov) + live.length * (opts.rateSeconds + ov) + heyTargets * (opts.heySeconds + ov);
  const h2 = clew ? 8 * opts.rounds * (opts.h2Seconds + 1 + ov) + 5 : 0;
  const cp = opts.controlPlane ? (opts.quick ? 30 : 120) : 0;
  return Math.round((live.length * (opts.warmupSeconds + ov) + opts.rounds * perRound + h2 + opts.recoverySeconds + cp) / 6) / 10;
}

function emptyRuns(t: Live): TargetRuns {
  return { id: t.id, label: t.label, kind: t.kind, proxies: t.proxies, rssIdleMb: NaN, wrk: [], fixedRate: [], hey: [] };
}

async function runProxyBench(opts: Options, tools: ToolStatus, workDir: string, notes: string[], pinned: boolean): Promise<{ runs: TargetRuns[]; h2: H2Target[]; bareNode: BareNode; runtimes: RuntimeEntry[] }> {
  const lcpu = pinned ? LOAD_CPU : undefined;
  const runtimes: RuntimeEntry[] = [];
  const { live, upstream, bareNode: bareProc } = await startTargets(opts, tools, workDir, notes, pinned, runtimes);
  const runs = new Map(live.map((t) => [t.id, emptyRuns(t)]));
  log(`${live.length} targets; the measurements take about ${estimateMinutes(opts, live)} min from here (with the control-plane benchmark, on a quiet machine: runs disturbed by other processes are repeated)`);
  // idle RSS: started, configured, a few requests served, settled
  for (const t of live) await warmRequests(t, 20);
  await sleep(2000);
  for (const t of live) {
    const tr = runs.get(t.id)!;
    tr.rssIdleMb = t.proxies ? round(rssMb(t.pids()), 1) : NaN;
    if (t.proxies) tr.memIdle = roundMem(memBreakdown(t.pids()));
  }
  const bareNode: BareNode = { command: bareNodeCommand(), idle: roundMem(memBreakdown([bareProc.pid])) };
  if (!bareNode.idle) notes.push(`bare node not measured: no /proc/${bareProc.pid}/smaps_rollup (exited: ${bareProc.child.exitCode ?? bareProc.child.signalCode ?? 'no'})`);
  if (!tools.found.wrk) notes.push('wrk missing: no throughput figures');
  else {
    log(`warm-up: wrk ${opts.warmupSeconds}s per target`);
    for (const t of live) await runWrk(tools.found.wrk, t.ep, { cpu: lcpu, seconds: opts.warmupSeconds, connections: 64 });
  }
  for (let r = 0; r < opts.rounds; r++) {
    const order = r % 2 === 0 ? live : [...live].reverse();
    if (tools.found.wrk) {
      for (const t of order) {
        const w = await measureClean(quiet(opts), `round ${r + 1} wrk ${t.id}`, async () => {
          const pids = t.pids();
          const meter = cpuMeter(pids);
          const sampler = rssSampler(() => pids);
          const foreign = foreignCpuWatch();
          const res = await runWrk(tools.found.wrk!, t.ep, { cpu: lcpu, seconds: opts.wrkSeconds, connections: 64 });
          const cpu = meter.stop();
          const peak = sampler.stop();
          return { ...res, round: r, foreignCpuPct: round(foreign.stop(), 1), cpuSeconds: cpu.seconds, cpuTickSeconds: cpu.tickSeconds, cpuSource: cpu.source, cpuUsPerRequest: t.proxies ? (cpu.seconds * 1e6) / res.requests : NaN, rssPeakMb: round(peak, 1) };
        });
        runs.get(t.id)!.wrk.push(w);
        log(`round ${r + 1} wrk ${t.id}: ${round(w.rps, 0)} rps${t.proxies ? `, ${round(w.cpuUsPerRequest, 1)} µs CPU/request` : ''}${w.non2xx + w.socketErrors ? `, ${w.non2xx + w.socketErrors} errors` : ''}${w.foreignCpuPct > 5 ? ` [other processes: ${w.foreignCpuPct} % CPU]` : ''}`);
      }
    }
    for (const t of order) {
      const rate = async (tool: 'fixed' | 'hey'): Promise<RateRun> => {
        const pids = t.pids();
        const meter = cpuMeter(pids);
        const sampler = rssSampler(() => pids);
        const foreign = foreignCpuWatch();
        const seconds = tool === 'hey' ? opts.heySeconds : opts.rateSeconds;
        const res = tool === 'hey'
          ? await runHey(tools.found.hey!, t.ep, { cpu: lcpu, seconds, rps: opts.rps, connections: 16 })
          : await runFixedRate(t.ep, { cpu: lcpu, seconds, rps: opts.rps, connections: 16 });
        const cpu = meter.stop();
        const peak = sampler.stop();
        return { ...res, round: r, foreignCpuPct: round(foreign.stop(), 1), seconds, cpuSeconds: cpu.seconds, cpuTickSeconds: cpu.tickSeconds, cpuSource: cpu.source, vcpuPer1000Rps: t.proxies ? cpu.seconds / seconds / (res.rps / 1000) : NaN, rssPeakMb: round(peak, 1) };
      };
      const fr = await measureClean(quiet(opts), `round ${r + 1} ${opts.rps} rps ${t.id}`, () => rate('fixed'));
      runs.get(t.id)!.fixedRate.push(fr);
      log(`round ${r + 1} ${opts.rps} rps ${t.id}: p50 ${fr.p50} µs, p90 ${fr.p90} µs, p99 ${fr.p99} µs${t.proxies ? `, ${round(fr.vcpuPer1000Rps, 3)} vCPU/1000 rps` : ''}${fr.foreignCpuPct > 5 ? ` [other processes: ${fr.foreignCpuPct} % CPU]` : ''}`);
      if (opts.hey && tools.found.hey && t.hey !== false) {
        const h = await measureClean(quiet(opts), `round ${r + 1} hey ${t.id}`, () => rate('hey'));
        runs.get(t.id)!.hey.push(h);
        log(`round ${r + 1} hey ${t.id}: p50 ${round(h.p50, 0)} µs, p90 ${round(h.p90, 0)} µs, p99 ${round(h.p99, 0)} µs${t.proxies ? `, ${round(h.vcpuPer1000Rps, 3)} vCPU/1000 rps` : ''}${h.foreignCpuPct > 5 ? ` [other processes: ${h.foreignCpuPct} % CPU]` : ''}`);
      }
    }
  }
  const h2 = clew && tools.found.h2load ? await runH2Bench(opts, tools.found.h2load, workDir, upstream, pinned, notes) : [];
  if (!tools.found.h2load) notes.push('h2load missing: no HTTP/2 / gRPC figures');
  // the memory after the last load: the Clew setups' RSS from now on, idle, every 5 s (1 s apart at first)
  const clews = live.filter((t) => t.kind === 'clew');
  const curves = new Map(clews.map((t) => [t.id, [] as Array<{ t: number; rssMb: number }>]));
  const c0 = Date.now();
  const sample = () => {
    const at = round((Date.now() - c0) / 1000, 1);
    for (const t of clews) curves.get(t.id)!.push({ t: at, rssMb: round(rssMb(t.pids()), 1) });
  };
  // a second after the load: the suite's "after runs" figures, as before
  const readAfter = () => {
    for (const t of live) {
      const tr = runs.get(t.id)!;
      tr.rssAfterMb = t.proxies ? round(rssMb(t.pids()), 1) : undefined;
      if (t.proxies) tr.memAfter = roundMem(memBreakdown(t.pids()));
    }
    bareNode.after = roundMem(memBreakdown([bareProc.pid]));
  };
  sample();
  log(`RSS after the load, idle: sampling the Clew setups for ${opts.recoverySeconds} s`);
  let k = 1;
  for (; (Date.now() - c0) / 1000 < opts.recoverySeconds; k++) {
    await sleep(Math.max(0, c0 + (k <= 5 ? k * 1000 : (k - 4) * 5000) - Date.now()));
    sample();
    if (k === 1) readAfter();
  }
  if (k === 1) {
    await sleep(1000);
    readAfter();
  }
  for (const t of clews) {
    const samples = curves.get(t.id)!;
    runs.get(t.id)!.recovery = { samples, seconds: samples[samples.length - 1].t };
    const first = samples[0];
    const last = samples[samples.length - 1];
    log(`RSS after the load ${t.id}: ${first.rssMb} MB → ${last.rssMb} MB after ${last.t} s (idle before: ${runs.get(t.id)!.rssIdleMb} MB)`);
  }
  if (clew) {
    const tel = await clewTelemetryState(clew.statsUrls.client);
    const telServer = await clewTelemetryState(clew.statsUrls.server);
    const spans = await collectorCounts(upstream.collector);
    const handled = tel.istioRequests + telServer.istioRequests;
    const tracing = spans && spans.spans > 0
      ? `on: the collector stand-in received ${spans.spans} spans in ${spans.posts} posts${handled ? ` for ${handled} requests counted in both sidecars' istio_requests_total (${round((spans.spans * 100) / handled, 2)} %)` : ''}`
      : 'off: no span reached the collector stand-in registered as zipkin.istio-system:9411 (this build does not trace with the default mesh config)';
    notes.push(`Clew sidecar features in the path: routing (RDS); stats (${tel.statLines} series in /stats/prometheus); Istio standard metrics (istio_requests_total) ${tel.istioMetrics ? 'on' : 'not exposed by this build'}; tracing ${tracing}`);
  }
  return { runs: live.map((t) => runs.get(t.id)!), h2, bareNode, runtimes };
}

interface H2Live extends H2Target {
  ep: Endpoint;
  grpc: boolean;
  pids: number[];
}

/**
 * h2load, HTTP/2 GET and unary gRPC: direct, through the client sidecar, and through Node's own
 * HTTP/2 floors beside it (the raw TCP relay passing h2c bytes, and a minimal node:http2 proxy),
 * interleaved like the HTTP/1.1 targets. The floors are started here and stopped at the end.
 */
async function runH2Bench(opts: Options, h2load: string, workDir: string, up: { h2: number; grpc: number }, pinned: boolean, notes: string[]): Promise<H2Target[]> {
  const c = clew!;
  const lcpu = pinned ? LOAD_CPU : undefined;
  const pcpu = pinned ? PROXY_CPU : undefined;
  const body = path.join(workDir, 'grpc-request.bin');
  fs.writeFileSync(body, Buffer.from([0, 0, 0, 0, 5, 0x0a, 0x03, 0x61, 0x62, 0x63]));
  const grpcPath = '/bench.Echo/Echo';
  const floorProcs: Pinned[] = [];
  // both upstream h2c ports answer HTTP/2 GETs and gRPC alike: one floor of each kind serves both protocols
  const floors: Array<{ via: H2Via; id: string; label: string; url: string; pids: number[] }> = [];
  {
    try {
      const chain = await startRelayChain(1, workDir, up.h2, pcpu);
      floorProcs.push(...chain.procs);
      floors.push({ via: 'tcp-relay', id: 'tcp-relay', label: 'Node TCP relay (h2 byte floor)', url: chain.url, pids: chain.procs.map((p) => p.pid) });
    } catch (err) {
      notes.push(`h2 TCP relay floor not measured: ${(err as Error).message}`);
    }
  }
  {
    try {
      const p = await startH2Proxy(workDir, up.h2, pcpu);
      floorProcs.push(p.proc);
      floors.push({ via: 'h2-proxy', id: 'node-proxy', label: 'node:http2 proxy (Node h2 floor)', url: p.url, pids: [p.proc.pid] });
    } catch (err) {
      notes.push(`node:http2 proxy floor not measured: ${(err as Error).message}`);
    }
  }
  const targets: H2Live[] = [];
  for (const [protocol, name, grpc] of [['h2', 'HTTP/2', false], ['grpc', 'gRPC', true]] as const) {
    const directPort = grpc ? up.grpc : up.h2;
    targets.push({ id: `${protocol}-direct`, label: `${name} direct`, protocol, viaSidecar: false, via: 'direct', runs: [], ep: { url: `http://127.0.0.1:${directPort}/` }, grpc, pids: [] });
    targets.push({ id: `${protocol}-sidecar`, label: `${name} via Clew sidecar`, protocol, viaSidecar: true, via: 'sidecar', runs: [], ep: { url: c.outboundUrl, host: grpc ? c.hosts.grpc : c.hosts.h2 }, grpc, pids: [c.client.pid] });
    for (const fl of floors) targets.push({ id: `${protocol}-${fl.id}`, label: `${name} via ${fl.label}`, protocol, viaSidecar: false, via: fl.via, runs: [], ep: { url: fl.url }, grpc, pids: fl.pids });
  }
  try {
    for (let r = 0; r < opts.rounds; r++) {
      for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
        const proxied = t.pids.length > 0;
        try {
          const run = await measureClean(quiet(opts), `round ${r + 1} h2load ${t.id}`, async () => {
            const meter = cpuMeter(t.pids);
            const sampler = rssSampler(() => t.pids);
            const foreign = foreignCpuWatch();
            const res = await runH2load(h2load, t.ep, { cpu: lcpu, seconds: opts.h2Seconds, connections: 16, streams: 10, grpcBodyFile: t.grpc ? body : undefined, path: t.grpc ? grpcPath : undefined });
            const cpu = meter.stop().seconds;
            const peak = sampler.stop();
            // the CPU delta includes h2load's 1 s warm-up; count its requests at the measured rate
            const reqs = res.requests + res.rps;
            return { ...res, round: r, foreignCpuPct: round(foreign.stop(), 1), cpuSeconds: cpu, cpuUsPerRequest: proxied ? (cpu * 1e6) / reqs : NaN, rssPeakMb: proxied ? round(peak, 1) : undefined };
          });
          t.runs.push(run);
          log(`round ${r + 1} h2load ${t.id}: ${round(run.rps, 0)} req/s, mean ${round(run.meanMs, 2)} ms${run.failed ? `, ${run.failed} failed` : ''}${proxied ? `, ${round(run.cpuUsPerRequest, 1)} µs CPU/request` : ''}${run.foreignCpuPct > 5 ? ` [other processes: ${run.foreignCpuPct} % CPU]` : ''}`);
        } catch (err) {
          log(`h2load ${t.id} failed: ${(err as Error).message}`);
          t.runs.push({ requests: 0, succeeded: 0, failed: -1, rps: NaN, meanMs: NaN, round: r, foreignCpuPct: NaN, cpuSeconds: NaN, cpuUsPerRequest: NaN });
        }
      }
    }
  } finally {
    for (const p of floorProcs) await p.stop();
  }
  return targets.map(({ ep: _ep, grpc: _g, pids: _p, ...t }) => t);
}

async function runControlPlaneBench(opts: Options): Promise<ControlPlaneResult | { error: string }> {
  const script = path.join(repoRoot(), 'dist', 'bench', 'control-plane.js');
  const args = opts.quick ? ['--services', '100', '--endpoints-per-service', '10', '--clients', '10', '--applies', '5'] : [];
  // it writes bench/out/control-plane.json itself: a quick run puts the previous file back
  const saved = path.join(repoRoot(), 'bench', 'out', 'control-plane.json');
  const before = opts.quick && fs.existsSync(saved) ? fs.readFileSync(saved) : undefined;
  log(`control-plane benchmark${opts.quick ? ' (quick sizes)' : ''}`);
  const cpus = os.cpus().length > 1 ? `0-${os.cpus().length - 1}` : '0';
  await settle(quiet(opts));
  const foreign = foreignCpuWatch();
  const r = await runTool('taskset', ['-c', cpus, process.execPath, script, ...args], { timeoutMs: (opts.quick ? 3 : 10) * 60_000 });
  const busy = round(foreign.stop(), 1);
  log(`control-plane benchmark done${busy > 5 ? ` [other processes: ${busy} % CPU]` : ''}`);
  if (before) fs.writeFileSync(saved, before);
  if (r.timedOut) return { error: 'exceeded its time bound' };
  if (r.code !== 0) return { error: `exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}` };
  try {
    return { ...(JSON.parse(r.stdout) as ControlPlaneResult), foreignCpuPct: busy };
  } catch {
    return { error: `unparsable output: ${r.stdout.slice(0, 200)}` };
  }
}

function machineInfo(): Record<string, string | number> {
  const cpus = os.cpus();
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: repoRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const commit = git(['rev-parse', '--short', 'HEAD']) || process.env.CLEW_BENCH_COMMIT || '';
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) ? ' (with uncommitted changes)' : '';
  return {
    cpu: `${cpus[0]?.model ?? 'unknown'}, ${cpus.length} CPUs`,
    memory: `${round(os.totalmem() / 2 ** 30, 1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    commit: commit ? `${commit}${dirty}` : 'unknown',
  };
}

/** `--render FILE`: renders RESULTS.md again from a results JSON (after a change of the report's format). */
function renderOnly(file: string): void {
  const results = JSON.parse(fs.readFileSync(file, 'utf8'), (_k, v) => (v === null ? NaN : v)) as Results;
  // results from before the issue-22 table get it from their own figures (the soak: not run)
  if (!results.verdicts) results.verdicts = evaluateIssue22(results);
  const md = renderResults(results);
  const out = results.quick ? path.join(repoRoot(), 'bench', 'out', 'RESULTS-quick.md') : path.join(repoRoot(), 'bench', 'RESULTS.md');
  fs.writeFileSync(out, md);
  log(`wrote ${path.relative(repoRoot(), out)} from ${file}`);
}

async function main(): Promise<void> {
  const render = process.argv.indexOf('--render');
  if (render >= 0) {
    renderOnly(process.argv[render + 1]);
    return;
  }
  const opts = parseOptions(process.argv.slice(2));
  // the soak has its own time bound (its minutes + 10)
  const bound = opts.deadlineMinutes + (opts.soakMinutes > 0 ? opts.soakMinutes + 10 : 0);
  const deadline = setTimeout(() => {
    log(`time bound of ${bound} min reached: stopping`);
    void stopAll().finally(() => process.exit(2));
  }, bound * 60_000);
  deadline.unref();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopAll().finally(() => process.exit(130)));
  const notes: string[] = [];
  const tools = ensureTools(log, opts.install);
  const pinned = pinSelf(tools, notes);
  const busyBefore = await waitQuiet(opts.waitQuietMinutes, quiet(opts), notes);
  log(`other processes use ${busyBefore} % of the CPU`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-bench-'));
  log(`work dir ${workDir}${opts.quick ? ' (quick run)' : ''}`);
  let proxy: { runs: TargetRuns[]; h2: H2Target[]; bareNode: BareNode; runtimes: RuntimeEntry[] };
  try {
    proxy = await runProxyBench(opts, tools, workDir, notes, pinned);
  } finally {
    await stopAll();
  }
  const controlPlane = opts.controlPlane ? await runControlPlaneBench(opts) : undefined;
  const soakStart = Date.now();
  const soak = opts.soakMinutes > 0 ? await runSoak(opts.soakMinutes, log) : readSoak(repoRoot(), 'file');
  const soakMs = Date.now() - soakStart;
  if (soak.error) notes.push(`memory soak: ${soak.error}`);
  const summary = summarize(proxy.runs);
  const foreignCpu = foreignSummary(proxy.runs, proxy.h2);
  if (foreignCpu.runsOver5Pct) notes.push(`other processes used over 5 % of the machine's CPU during ${foreignCpu.runsOver5Pct} of ${foreignCpu.runs} measurements (max ${foreignCpu.maxPct} %): those figures are disturbed (per run: foreignCpuPct in the JSON)`);
  const results: Results = {
    date: new Date().toISOString(),
    quick: opts.quick,
    machine: machineInfo(),
    tools: toolVersions(tools),
    settings: {
      pinning: pinned ? `proxies on CPU ${PROXY_CPU} (taskset -c ${PROXY_CPU}); load generators, upstream and control plane on CPU ${LOAD_CPU}` : 'none',
      upstream: 'Node http server answering a fixed 1 KiB body (bench/bench-upstream.ts), HTTP/1.1 keep-alive; h2c for HTTP/2 and gRPC',
      rounds: `${opts.rounds}, targets interleaved (order reversed every other round); warm-up ${opts.warmupSeconds} s of wrk per target first`,
      throughput: `wrk -t1 -c64 -d${opts.wrkSeconds}s --latency`,
      latency: `${opts.rps} rps over 16 connections for ${opts.rateSeconds} s (bench/fixed-rate-load.ts)${opts.hey && tools.found.hey ? `; hey -c 16 -q ${opts.rps / 16} -z ${opts.heySeconds}s` : ''}`,
      h2load: `-t1 -c16 -m10 -D ${opts.h2Seconds} --warm-up-time 1`,
      'Clew sidecar': 'clew proxy, INTERCEPTION_MODE=NONE, configured over ADS by clew control-plane; wrk sends origin-form requests to the client sidecar\'s virtualOutbound listener with Host: bench-direct:8000 (one sidecar) or bench-mesh:8000 (client sidecar → server sidecar → upstream)',
      peers: 'HAProxy nbthread 1 and nginx 1 worker with upstream keep-alive and no access log; http-proxy with a keep-alive Agent; @fastify/http-proxy (undici); all pinned like the sidecar',
      'memory after the load': `each Clew setup's RSS (VmRSS) right after the last load run (h2load), then idle every second for 5 s and every 5 s after, for ${opts.recoverySeconds} s; peak under load = the highest 250 ms sample during any wrk, fixed-rate, hey or h2load run`,
      'Node.js runtimes': `the one-sidecar setup (telemetry on) on Node ${opts.runtimes.join(', ') || '(none)'}: the suite's own runtime is the clew-sidecar target, each other one a setup of its own (control plane and sidecars on that runtime), measured in the same rounds (wrk and the fixed rate; no hey)`,
      'HTTP/2 floor': 'h2load through the raw TCP relay (h2c bytes passed through: the least any h2 hop costs) and through bench/h2-proxy.ts (node:http2 server stream → one client session upstream, trailers passed: Node\'s own h2 proxy floor); both with the sidecar\'s node flags, pinned like the sidecar, interleaved with the sidecar and direct',
      'Node floor': `Node TCP relay: a raw byte relay (bench/tcp-relay.ts: no HTTP parsing, one upstream connection per downstream connection, TCP_NODELAY); ×2: two relays chained, both on the proxy CPU; bare node: \`${proxy.bareNode.command}\`, idle; all with the sidecar's node flags and pinned like the sidecar`,
    },
    foreignCpu,
    notes,
    targets: proxy.runs,
    summary,
    h2: proxy.h2,
    controlPlane,
    bareNode: proxy.bareNode,
    cpuAccounting: cpuAccounting(proxy.runs),
    checks: evaluate(summary, controlPlane, proxy.bareNode),
    soak,
    runtimes: proxy.runtimes,
  };
  results.settings.duration = `${round((Date.now() - t0) / 60_000, 1)} min (without the soak: ${round((Date.now() - t0 - soakMs) / 60_000, 1)} min)`;
  results.verdicts = evaluateIssue22(results);
  const outDir = path.join(repoRoot(), 'bench', 'out');
  fs.mkdirSync(outDir, { recursive: true });
  // a full run's results sit next to RESULTS.md (committed); quick runs' in bench/out (ignored)
  const jsonFile = opts.quick ? path.join(outDir, 'results-quick.json') : path.join(repoRoot(), 'bench', 'results.json');
  const mdFile = opts.quick ? path.join(outDir, 'RESULTS-quick.md') : path.join(repoRoot(), 'bench', 'RESULTS.md');
  fs.writeFileSync(jsonFile, JSON.stringify(results, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  const md = renderResults(results);
  fs.writeFileSync(mdFile, md);
  log(`wrote ${path.relative(repoRoot(), mdFile)} and ${path.relative(repoRoot(), jsonFile)}`);
  process.stdout.write(md);
  if (notes.some((n) => n.includes('not measured'))) log(`kept ${workDir} (generated configs and logs) for the failures above`);
  else fs.rmSync(workDir, { recursive: true, force: true });
}

main().catch(async (err) => {
  log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
  await stopAll();
  process.exit(1);
});
