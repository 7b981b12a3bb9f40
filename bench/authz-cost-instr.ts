/**
 * What authorization costs the proxy in instructions per request (issue 18, "Must show" 6): the
 * figure that does not move with the host's load, beside bench/authz-cost.ts's CPU time.
 *
 *   node dist/bench/authz-cost-instr.js [--variants A,B] [--warmup 8000] [--requests 3000]
 *     [--connections 16] [--windows 2] [--idle-seconds 10] [--alg RS256|ES256] [--telemetry off|on] [--keep DIR] [--perf-map]
 *
 * The same two meshes as bench/authz-cost.ts (A: no policy; B: the 50 AuthorizationPolicies and
 * the RequestAuthentication of authz-cost-config.ts), one after the other, with the SERVER sidecar
 * (the one whose inbound chain runs jwt_authn, istio_authn and RBAC) under `valgrind
 * --tool=callgrind`. Every request of both carries the same token and tenant header. After
 * --warmup requests (the JIT tiers up) the counters are zeroed (callgrind_control -z), exactly
 * --requests requests go through on keep-alive connections, and the dump's Ir ÷ requests is the
 * figure (user space only: kernel socket work is not counted; all threads are: V8's background
 * compiles and GC count). --windows such windows run back to back and each is printed: V8 still
 * compiling late-hot functions shows as a falling count; the last window is the figure. After
 * them an idle window (--idle-seconds, no requests) gives the sidecar's instructions per second
 * without traffic; each window is also shown less that rate × its duration ("net"): under
 * valgrind B serves fewer requests a second than A, so per request it carries more of that
 * time-driven work, and more so on a loaded machine. The net figure is a diagnostic only: the
 * idle window can catch V8's memory reducer (a full GC a few seconds after traffic stops; B's heap
 * is bigger): one quiet-machine run counted A 0.6 M, B 19 M instructions/s idle. The raw figure
 * of the last window is the one to compare. JSON on stdout. --keep DIR saves
 * the dumps as DIR/authz-A.cg and DIR/authz-B.cg (for callgrind_annotate: where B's extra
 * instructions go). --perf-map: the server sidecar runs with --perf-basic-prof and its
 * /tmp/perf-<pid>.map is kept beside the dump (DIR/authz-B.map), to name the JIT code's addresses
 * (callgrind only sees them as hex); the extra bookkeeping makes the counts a little higher.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AUTHZ_HEADERS, AUTHZ_PATH, authzConfigYaml, makeAuthzMaterial, type AuthzMaterial, type JwtAlg } from './authz-cost-config.js';
import { BENCH_NAMESPACE, startClew, type BenchTelemetry } from './bench-clew.js';
import { startUpstream } from './bench-peers.js';
import { which } from './bench-tools.js';
import { argOr, round, runIfMain, sleep } from './bench-util.js';
import { callgrindTotal, closedLoopRaw } from './instructions.js';

export interface InstrResult {
  variant: 'A' | 'B';
  requests: number;
  failed: number;
  /** the figure of the last window */
  instructionsPerRequest: number;
  /** each window's figure, in order */
  perWindow: number[];
  /** the same less the idle rate × the window's duration */
  netPerWindow: number[];
  /** instructions a second the sidecar runs without requests */
  idlePerSecond: number;
  underValgrindRps: number;
}

/** Waits until a request without a token is refused (B's policies reached the server sidecar). */
async function waitEnforced(port: number, hostname: string, host: string, timeoutMs: number): Promise<void> {
  const req = Buffer.from(`GET ${AUTHZ_PATH} HTTP/1.1\r\nHost: ${host}\r\nx-tenant: ${AUTHZ_HEADERS['x-tenant']}\r\n\r\n`);
  const end = Date.now() + timeoutMs;
  let last: Record<string, number> = {};
  while (Date.now() < end) {
    const r = await closedLoopRaw(port, hostname, req, 1, 1);
    last = r.statuses;
    if (r.statuses['403'] === 1) return;
    await sleep(500);
  }
  throw new Error(`authz-cost-instr: B's policies are not in force (a request without a token answered ${JSON.stringify(last)})`);
}

export async function measureInstructions(o: {
  variant: 'A' | 'B'; m: AuthzMaterial; warmup: number; requests: number; conns: number; telemetry: BenchTelemetry; keep?: string; perfMap?: boolean; windows: number; idleMs: number; log: (s: string) => void;
}): Promise<InstrResult> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `clew-authz-instr-${o.variant}-`));
  const pin = which('taskset') !== undefined && os.cpus().length > 1;
  const up = await startUpstream(workDir, pin ? 1 : undefined);
  const out = path.join(workDir, 'cg.out');
  const headers = { authorization: `Bearer ${o.m.token}`, ...AUTHZ_HEADERS };
  const setup = await startClew({
    workDir, upstreams: up, proxyCpu: pin ? 0 : undefined, cpCpu: pin ? 1 : undefined, telemetry: o.telemetry,
    extraConfig: o.variant === 'B' ? authzConfigYaml(o.m, BENCH_NAMESPACE, 'bench-mesh') : undefined,
    routeCheck: { path: AUTHZ_PATH, headers },
    wrapServer: ['valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no', '--compress-strings=no', '--compress-pos=no'],
    readyTimeoutMs: 600_000,
    nodeArgs: o.perfMap ? { server: ['--perf-basic-prof'] } : undefined,
  });
  try {
    const u = new URL(setup.outboundUrl);
    const host = setup.hosts.mesh;
    if (o.variant === 'B') await waitEnforced(Number(u.port), u.hostname, host, 120_000);
    const req = Buffer.from(`GET ${AUTHZ_PATH} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: clew-bench\r\nAccept: */*\r\nauthorization: ${headers.authorization}\r\nx-tenant: ${headers['x-tenant']}\r\n\r\n`);
    const w = await closedLoopRaw(Number(u.port), u.hostname, req, o.warmup, o.conns);
    if (w.failed > 0) throw new Error(`${o.variant}: ${w.failed} warm-up requests failed (${JSON.stringify(w.statuses)})`);
    // several windows one after the other: the JIT's late compiles show as a falling count; the last one is the figure
    let last = '';
    let ir = 0;
    let ok = 0;
    let failed = 0;
    let secs = 0;
    const perWindow: number[] = [];
    const windowRuns: Array<{ ir: number; secs: number; ok: number }> = [];
    for (let wi = 0; wi < o.windows; wi++) {
      await sleep(500);
      const before = new Set(fs.readdirSync(workDir));
      execFileSync('callgrind_control', ['-z', String(setup.server.pid)], { stdio: 'ignore' });
      const t0 = Date.now();
      const r = await closedLoopRaw(Number(u.port), u.hostname, req, o.requests, o.conns);
      secs = (Date.now() - t0) / 1000;
      execFileSync('callgrind_control', ['-d', String(setup.server.pid)], { stdio: 'ignore' });
      await sleep(500);
      const dumps = fs.readdirSync(workDir).filter((f) => f.startsWith('cg.out') && !before.has(f));
      if (dumps.length !== 1) throw new Error(`${o.variant}: ${dumps.length} new callgrind dumps after window ${wi + 1}, 1 expected`);
      last = path.join(workDir, dumps[0]);
      ir = callgrindTotal(last);
      ok = r.ok;
      failed += r.failed;
      perWindow.push(Math.round(ir / Math.max(1, r.ok)));
      windowRuns.push({ ir, secs, ok: r.ok });
      o.log(`${o.variant} window ${wi + 1}: ${perWindow.at(-1)} instructions/request (${round(r.ok / secs, 0)} rps)`);
    }
    // the sidecar's work that goes with time, not requests (timers, V8's idle tasks): counted in an
    // idle window after the measured ones (right after the warm-up V8 is still compiling) and taken out of each window's count by its duration (under valgrind B serves
    // fewer requests a second than A, so per request it would carry more of it)
    await sleep(500);
    const idleBefore = new Set(fs.readdirSync(workDir));
    execFileSync('callgrind_control', ['-z', String(setup.server.pid)], { stdio: 'ignore' });
    const i0 = Date.now();
    await sleep(o.idleMs);
    execFileSync('callgrind_control', ['-d', String(setup.server.pid)], { stdio: 'ignore' });
    const idleSecs = (Date.now() - i0) / 1000;
    await sleep(500);
    const idleDump = fs.readdirSync(workDir).filter((f) => f.startsWith('cg.out') && !idleBefore.has(f));
    if (idleDump.length !== 1) throw new Error(`${o.variant}: ${idleDump.length} new callgrind dumps after the idle window, 1 expected`);
    const idlePerSec = callgrindTotal(path.join(workDir, idleDump[0])) / idleSecs;
    o.log(`${o.variant} idle: ${Math.round(idlePerSec)} instructions/s`);
    const netPerWindow = windowRuns.map((w) => Math.round((w.ir - idlePerSec * w.secs) / Math.max(1, w.ok)));
    o.log(`${o.variant}: ${netPerWindow.join(', ')} instructions/request without the idle rate`);
    if (o.keep) {
      fs.mkdirSync(o.keep, { recursive: true });
      fs.copyFileSync(last, path.join(o.keep, `authz-${o.variant}.cg`));
      const map = `/tmp/perf-${setup.server.pid}.map`;
      if (o.perfMap && fs.existsSync(map)) fs.copyFileSync(map, path.join(o.keep, `authz-${o.variant}.map`));
    }
    const r = { ok, failed };
    const res = { variant: o.variant, requests: r.ok, failed: r.failed, instructionsPerRequest: Math.round(ir / Math.max(1, r.ok)), perWindow, netPerWindow, idlePerSecond: Math.round(idlePerSec), underValgrindRps: round(r.ok / secs, 0) };
    o.log(`${o.variant}: ${res.instructionsPerRequest} instructions/request (${r.ok} requests, ${r.failed} failed, ${res.underValgrindRps} rps under valgrind)`);
    return res;
  } finally {
    await setup.stop();
    await up.proc.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
    if (o.perfMap) fs.rmSync(`/tmp/perf-${setup.server.pid}.map`, { force: true });
  }
}

export async function runInstructions(o: { alg: JwtAlg; variants: Array<'A' | 'B'>; warmup: number; requests: number; conns: number; telemetry: BenchTelemetry; keep?: string; perfMap?: boolean; windows: number; idleMs: number; log: (s: string) => void }): Promise<{ A?: InstrResult; B?: InstrResult; bMinusA?: number }> {
  if (!which('valgrind') || !which('callgrind_control')) throw new Error('valgrind missing (apt-get install valgrind)');
  const m = await makeAuthzMaterial(o.alg);
  const out: { A?: InstrResult; B?: InstrResult; bMinusA?: number } = {};
  for (const v of o.variants) out[v] = await measureInstructions({ ...o, variant: v, m });
  if (out.A && out.B) out.bMinusA = out.B.instructionsPerRequest - out.A.instructionsPerRequest;
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const variants = argOr(argv, '--variants', 'A,B').split(',').map((s) => s.trim()) as Array<'A' | 'B'>;
  for (const v of variants) if (v !== 'A' && v !== 'B') throw new Error(`--variants: A, B or A,B (got ${v})`);
  const i = argv.indexOf('--keep');
  const res = await runInstructions({
    alg: argOr(argv, '--alg', 'RS256') as JwtAlg,
    variants,
    warmup: Number(argOr(argv, '--warmup', '8000')),
    requests: Number(argOr(argv, '--requests', '3000')),
    conns: Number(argOr(argv, '--connections', '16')),
    telemetry: argOr(argv, '--telemetry', 'off') as BenchTelemetry,
    keep: i >= 0 ? argv[i + 1] : undefined,
    perfMap: argv.includes('--perf-map'),
    windows: Number(argOr(argv, '--windows', '2')),
    idleMs: Number(argOr(argv, '--idle-seconds', '10')) * 1000,
    log: (s) => process.stderr.write(s + '\n'),
  });
  process.stdout.write(JSON.stringify(res) + '\n');
  if ((res.A?.failed ?? 0) + (res.B?.failed ?? 0) > 0) process.exitCode = 1;
}

runIfMain(import.meta.url, main);
