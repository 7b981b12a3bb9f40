/**
 * Memory soak (issue 22): one Clew sidecar with telemetry on (Istio's standard metrics, tracing
 * at 1 % to the collector stand-in, a file access log) carries a fixed rate for a long run; its
 * RSS and V8 heap are sampled throughout, then for a minute after the load stops (does memory
 * come back?).
 *
 *   load (soak-normal-load.ts: undici Pool, 16 keep-alive connections)
 *     → client sidecar (outbound, Host bench-direct:8000) → upstream
 * The setup is the benchmark's (bench-clew.ts): a control plane and two sidecars; the server
 * sidecar idles, the client sidecar is the one measured. RSS from /proc/<pid>/status, the heap
 * from the sidecar's admin /memory.
 *
 *   node dist/bench/soak-memory.js [--minutes 30] [--rps 1000] [--sample-seconds 10] [--write]
 *     [--out DIR] [--node PATH] [--after-seconds 60] [--idle-seconds 30] [--sidecar-flags '--trace-gc']
 *     [--keep]
 * `--write` saves results-soak.json, RESULTS-soak.md and soak-rss.png in DIR (default bench/;
 * the contract with bench/run.ts). `--keep` leaves the work directory (sidecar logs, access log) and
 * prints the sidecar's admin /memory and smaps_rollup at idle, at the end of the load and after it.
 * Exit status 1 when a process died or the load could not run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { startClew, type ClewSetup } from './bench-clew.js';
import { startUpstream } from './bench-peers.js';
import { memBreakdown, roundMem } from './bench-mem.js';
import { cpuSeconds, rssMb, type Pinned } from './bench-proc.js';
import { repoRoot, runIfMain, sleep } from './bench-util.js';
import type { NormalReport } from './soak-normal-load.js';
import { soakSvg, writePng } from './soak-plot.js';
import { soakFigures, type SoakFigures, type SoakSample } from './soak-summary.js';

interface Options { minutes: number; rps: number; sampleSeconds: number; write: boolean; out: string; node: string; afterSeconds: number; idleSeconds: number; sidecarFlags: string[]; keep: boolean }

function options(argv: string[]): Options {
  const get = (n: string): string | undefined => {
    const i = argv.indexOf(n);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (n: string, d: number): number => {
    const v = Number(get(n) ?? d);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${n}: a positive number expected, got ${get(n)}`);
    return v;
  };
  return {
    minutes: num('--minutes', 30),
    rps: num('--rps', 1000),
    sampleSeconds: num('--sample-seconds', 10),
    write: argv.includes('--write'),
    out: path.resolve(get('--out') ?? path.join(repoRoot(), 'bench')),
    node: get('--node') ?? process.execPath,
    afterSeconds: num('--after-seconds', 60),
    idleSeconds: num('--idle-seconds', 30),
    sidecarFlags: (get('--sidecar-flags') ?? '').split(' ').filter(Boolean),
    keep: argv.includes('--keep'),
  };
}

/** The JSON the suite reads (contract between cost-mem and cost-suite), plus a few extra figures. */
export interface SoakResults extends SoakFigures {
  generatedAt: string;
  commit: string;
  node: string;
  minutes: number;
  rps: number;
  requests: number;
  /** requests not answered with a 2xx: failures, plus any still unanswered when the run ended */
  failed: number;
  ok: number;
  samples: SoakSample[];
  png: string;
  /** RSS 60 s (--after-seconds) after the load stopped, and its distance from idle */
  afterLoadRssMb: number;
  afterLoadAboveIdleMb: number;
  /** the sidecar's CPU per request over the whole load, µs (a shared machine: see loadAverage) */
  cpuUsPerRequest: number;
  latencyMs: NormalReport['overall'];
  failureReasons: Record<string, number>;
  /** `uptime`'s load averages at the start and the end */
  loadAverage: { start: number[]; end: number[] };
  accessLogMb: number;
}

async function heapUsedMb(adminUrl: string): Promise<number> {
  try {
    const r = await request(`${adminUrl}/memory`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
    const m = (await r.body.json()) as { allocated: string };
    return Math.round((Number(m.allocated) / 1048576) * 10) / 10;
  } catch {
    return NaN;
  }
}

function commitOf(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot(), encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bench', 'bin'], { cwd: repoRoot(), encoding: 'utf8' }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

const alive = (p: Pinned): boolean => p.child.exitCode === null && p.child.signalCode === null;
const r1 = (v: number): number => Math.round(v * 10) / 10;

export async function soakMemory(o: Options): Promise<SoakResults> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-soak-memory-'));
  const log = (m: string) => process.stderr.write(`[soak-memory ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  let clew: ClewSetup | undefined;
  let upstream: Pinned | undefined;
  let loadProc: ReturnType<typeof spawn> | undefined;
  const loadStart = os.loadavg().map(r1);
  // the code under test is the checkout's at the start (a commit made during a long run is not in it)
  const commit = commitOf();
  try {
    const up = await startUpstream(workDir);
    upstream = up.proc;
    log(`starting the control plane and the sidecars (node ${o.node})`);
    clew = await startClew({ workDir, upstreams: up, telemetry: 'log', node: o.node, nodeArgs: { client: o.sidecarFlags } });
    const c = clew;
    const sample = async (t: number): Promise<SoakSample> => ({ t: Math.round(t), rssMb: r1(rssMb([c.client.pid])), heapUsedMb: await heapUsedMb(c.adminUrls.client) });
    const samples: SoakSample[] = [];
    // idle: after start-up and the route checks, before any load
    const idleStart = performance.now();
    while (performance.now() - idleStart < o.idleSeconds * 1000) {
      await sleep(Math.min(o.sampleSeconds, 5) * 1000);
      samples.push(await sample((performance.now() - idleStart) / 1000 - o.idleSeconds));
    }
    const idle = samples.slice(-3);
    const detail = async (when: string): Promise<void> => {
      if (!o.keep) return;
      const r = await request(`${c.adminUrls.client}/memory`);
      log(`${when}: smaps ${JSON.stringify(roundMem(memBreakdown([c.client.pid])))} /memory ${JSON.stringify(await r.body.json())}`);
    };
    await detail('idle');
    log(`idle RSS ${idle.map((s) => s.rssMb).join(', ')} MB; ${o.rps} rps for ${o.minutes} min`);
    const loadSeconds = o.minutes * 60;
    let last: NormalReport | undefined;
    loadProc = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'bench', 'soak-normal-load.js'),
      '--url', c.outboundUrl, '--host', c.hosts.sidecar, '--rps', String(o.rps), '--connections', '16',
      '--duration-ms', String(loadSeconds * 1000), '--report-ms', String(o.sampleSeconds * 1000)], { stdio: ['ignore', 'pipe', fs.openSync(path.join(workDir, 'load.log'), 'a')] });
    createInterface({ input: loadProc.stdout! }).on('line', (l) => {
      try {
        last = JSON.parse(l) as NormalReport;
      } catch {
        // not a report line
      }
    });
    const loadExit = new Promise<void>((r) => loadProc!.once('exit', () => setTimeout(r, 50)));
    let exited = false;
    void loadExit.then(() => { exited = true; });
    const cpu0 = cpuSeconds([c.client.pid]);
    const t0 = performance.now();
    const underLoad: SoakSample[] = [];
    let died = '';
    while (!exited) {
      const nextAt = (underLoad.length + 1) * o.sampleSeconds * 1000;
      await Promise.race([sleep(Math.max(0, t0 + nextAt - performance.now())), loadExit]);
      if (exited) break;
      const s = await sample((performance.now() - t0) / 1000);
      underLoad.push(s);
      samples.push(s);
      log(`t=${s.t}s rss ${s.rssMb} MB heap ${s.heapUsedMb} MB; sent ${last?.sent ?? 0} failed ${last?.failed ?? 0} p99 ${last?.interval.p99 ?? '-'} ms`);
      for (const p of [c.client, c.server, c.controlPlane]) if (!alive(p)) died += `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}); `;
      if (died) {
        loadProc.kill('SIGTERM');
        throw new Error(died);
      }
    }
    const loadEnd = performance.now();
    const cpu = cpuSeconds([c.client.pid]) - cpu0;
    await detail('load end');
    const actualLoadSeconds = (loadEnd - t0) / 1000;
    // after the load: does the memory come back?
    while (performance.now() - loadEnd < o.afterSeconds * 1000) {
      await sleep(Math.min(o.sampleSeconds, 5) * 1000);
      samples.push(await sample((performance.now() - t0) / 1000));
    }
    const after = samples[samples.length - 1];
    await detail('after');
    if (!last?.final) throw new Error('the load generator ended without its final report');
    const figures = soakFigures(idle, underLoad.filter((s) => s.t <= actualLoadSeconds), Math.min(loadSeconds, actualLoadSeconds));
    const accessLog = path.join(workDir, 'access.log');
    const res: SoakResults = {
      generatedAt: new Date().toISOString(),
      commit,
      node: execFileSync(o.node, ['--version'], { encoding: 'utf8' }).trim(),
      minutes: o.minutes,
      rps: o.rps,
      ...figures,
      requests: last.sent,
      failed: last.sent - last.ok,
      ok: last.ok,
      samples,
      png: '',
      afterLoadRssMb: after.rssMb,
      afterLoadAboveIdleMb: r1(after.rssMb - figures.idleRssMb),
      cpuUsPerRequest: r1((cpu * 1e6) / Math.max(1, last.sent)),
      latencyMs: last.overall,
      failureReasons: last.sent - last.ok > last.failed ? { ...last.reasons, unanswered: last.sent - last.ok - last.failed } : last.reasons,
      loadAverage: { start: loadStart, end: os.loadavg().map(r1) },
      accessLogMb: fs.existsSync(accessLog) ? r1(fs.statSync(accessLog).size / 1048576) : 0,
    };
    return res;
  } finally {
    if (loadProc && loadProc.exitCode === null) loadProc.kill('SIGKILL');
    await clew?.stop();
    await upstream?.stop();
    if (o.keep) log(`kept ${workDir}`);
    else fs.rmSync(workDir, { recursive: true, force: true });
  }
}

function render(r: SoakResults, o: Options): string {
  const L: string[] = [];
  L.push('# Memory soak (issue 22)', '');
  L.push(`Run ${r.generatedAt.slice(0, 16).replace('T', ' ')} UTC at ${r.commit}, Node ${r.node}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ` +
    `load average ${r.loadAverage.start.join(' ')} at the start and ${r.loadAverage.end.join(' ')} at the end (a machine shared with other jobs). ` +
    `Command: \`node dist/bench/soak-memory.js --minutes ${o.minutes} --rps ${o.rps} --sample-seconds ${o.sampleSeconds} --write\`.`, '');
  L.push(`One Clew sidecar (\`${['--max-semi-space-size=32'].join(' ')}\`, the sidecar's node flags) with telemetry on: Istio's standard metrics, tracing at 1 % (Zipkin, to a collector stand-in), ` +
    `an access log to a file (${r.accessLogMb} MB written). GET / at ${r.rps} rps over 16 keep-alive connections (undici Pool), client → sidecar outbound → upstream (1 KiB body). ` +
    `RSS from /proc every ${o.sampleSeconds} s, V8's heap used from the sidecar's admin /memory.`, '');
  L.push('![RSS over the soak](soak-rss.png)', '');
  L.push('| figure | value | target |', '|---|---|---|');
  L.push(`| idle RSS (before the load) | ${r.idleRssMb} MB | |`);
  L.push(`| peak RSS under load | ${r.peakRssMb} MB (${r1(r.peakRssMb / r.idleRssMb)} × idle) | below 2 × idle: ${r.peakRssMb < 2 * r.idleRssMb ? 'yes' : '**no**'} |`);
  L.push(`| RSS at ${r.warmupSeconds >= 300 ? '5 min' : `${r.warmupSeconds} s`} (median of the minute around it) | ${r.rssAt5MinMb} MB (heap used ${r.heapAt5MinMb} MB) | |`);
  L.push(`| RSS at the end (median of the last minute) | ${r.rssEndMb} MB (heap used ${r.heapEndMb} MB) | |`);
  L.push(`| growth after the warm-up | ${r.growthAfter5MinMb >= 0 ? '+' : ''}${r.growthAfter5MinMb} MB | below 5 MB: ${r.growthAfter5MinMb < 5 ? 'yes' : '**no**'} |`);
  L.push(`| RSS ${o.afterSeconds} s after the load | ${r.afterLoadRssMb} MB (idle ${r.afterLoadAboveIdleMb >= 0 ? '+' : ''}${r.afterLoadAboveIdleMb} MB) | within 20 MB of idle: ${r.afterLoadAboveIdleMb <= 20 ? 'yes' : '**no**'} |`);
  L.push(`| requests sent / answered 2xx / failed | ${r.requests} / ${r.ok} / ${r.failed}${r.failed ? ` ${JSON.stringify(r.failureReasons)}` : ''} | no failure |`);
  L.push(`| latency over the run (client side) | p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, p99.9 ${r.latencyMs.p999} ms, max ${r.latencyMs.max} ms | |`);
  L.push(`| sidecar CPU per request | ${r.cpuUsPerRequest} µs (load-dependent) | |`, '');
  L.push('Samples (t in seconds since the load started; negative: idle before it):', '');
  L.push('| t (s) | RSS (MB) | heap used (MB) |', '|---|---|---|');
  const every = Math.max(1, Math.round(60 / o.sampleSeconds));
  r.samples.forEach((s, i) => { if (s.t <= 0 || i % every === 0 || i === r.samples.length - 1 || s.t > o.minutes * 60) L.push(`| ${s.t} | ${s.rssMb} | ${s.heapUsedMb} |`); });
  return L.join('\n') + '\n';
}

runIfMain(import.meta.url, async () => {
  const o = options(process.argv.slice(2));
  const r = await soakMemory(o);
  fs.mkdirSync(o.out, { recursive: true });
  const png = path.join(o.out, 'soak-rss.png');
  r.png = path.relative(repoRoot(), png).startsWith('..') ? png : path.relative(repoRoot(), png);
  const md = render(r, o);
  process.stdout.write(md);
  if (o.write) {
    await writePng(soakSvg({ title: `Clew sidecar RSS, ${r.rps} rps for ${r.minutes} min, telemetry on (Node ${r.node}, ${r.commit})`, samples: r.samples, idleRssMb: r.idleRssMb, warmupSeconds: r.warmupSeconds, loadSeconds: r.minutes * 60 }), png);
    fs.writeFileSync(path.join(o.out, 'results-soak.json'), JSON.stringify(r, null, 2) + '\n');
    fs.writeFileSync(path.join(o.out, 'RESULTS-soak.md'), md);
    process.stderr.write(`wrote ${path.join(o.out, 'results-soak.json')}, RESULTS-soak.md, soak-rss.png\n`);
  }
  process.exit(0);
});
