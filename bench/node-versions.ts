/**
 * Clew on several Node.js versions in one run: the same checkout (or several) with each runtime,
 * side by side, interleaved, so host drift hits every variant alike.
 *
 *   node dist/bench/node-versions.js [--variant NAME=NODE[@DIR]]... [--rounds 4] [--seconds 5]
 *     [--rate 1000] [--instructions] [--write]
 *
 * Default variants: this checkout on Node 20, 22 and 24, the runtimes from scripts/node-runtime.sh
 * (the npm registry's official binaries). NODE is a node binary or a major version; DIR a checkout
 * with a built dist/ (default: this one). Per variant: a control plane and two sidecars
 * (bench-clew.ts, telemetry on) on that runtime, one upstream for all. Figures:
 * - RSS idle: the client sidecar's resident set (smaps_rollup) after it is ready and 3 s idle;
 * - CPU per request: `wrk -t1 -c64` through the client sidecar, its CPU from /proc schedstat;
 * - mesh p90: fixed-rate load (--rate rps, 16 connections) through both sidecars (client → server
 *   sidecar → upstream), p90 latency in µs;
 * - with --instructions: user-space instructions per request of the client sidecar under
 *   callgrind (bench/instructions.ts, run with that variant's node), the figure that does not
 *   move with the host.
 * Medians over the rounds. --write saves bench/RESULTS-node-versions.md and
 * bench/results-node-versions.json.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { schedstatSeconds } from './bench-cpu.js';
import { runFixedRate, runWrk } from './bench-load.js';
import { memBreakdown } from './bench-mem.js';
import { startUpstream } from './bench-peers.js';
import type { ClewSetup } from './bench-clew.js';
import { pinBenchCpus, which } from './bench-tools.js';
import { median, repoRoot, round, runIfMain, sleep } from './bench-util.js';

interface Variant {
  name: string;
  node: string;
  nodeVersion: string;
  root: string;
  setup?: ClewSetup;
  rssIdleMb?: number;
  cpu: number[];
  rps: number[];
  meshP90: number[];
  meshCpu: number[];
  instructions?: number;
}

function args(argv: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length - 1; i++) if (argv[i] === name) out.push(argv[i + 1]);
  return out;
}

/** A node binary: a path, or a major version installed by scripts/node-runtime.sh. */
function nodeBinary(spec: string): string {
  if (/^\d+$/.test(spec)) {
    const dir = execFileSync(path.join(repoRoot(), 'scripts', 'node-runtime.sh'), [spec], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    return path.join(dir, 'bin', 'node');
  }
  return path.resolve(spec);
}

function parseVariant(spec: string): Pick<Variant, 'name' | 'node' | 'root'> {
  const m = /^([^=]+)=([^@]+)(?:@(.+))?$/.exec(spec);
  if (!m) throw new Error(`--variant ${spec}: expected NAME=NODE[@DIR]`);
  return { name: m[1], node: nodeBinary(m[2]), root: path.resolve(m[3] ?? repoRoot()) };
}

/** The client sidecar's instructions per request under callgrind, with the variant's node. */
function instructions(v: Variant): number {
  const out = execFileSync(v.node, [path.join(repoRoot(), 'dist', 'bench', 'instructions.js'), '--dir', v.root], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000,
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { instructionsPerRequest: number; failed: number };
  if (r.failed > 0) throw new Error(`${v.name}: ${r.failed} requests failed under callgrind`);
  return r.instructionsPerRequest;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const rounds = Number(args(argv, '--rounds')[0] ?? 4);
  const seconds = Number(args(argv, '--seconds')[0] ?? 5);
  const rate = Number(args(argv, '--rate')[0] ?? 1000);
  const wrk = which('wrk');
  if (!wrk) throw new Error('wrk missing (apt-get install wrk)');
  const specs = args(argv, '--variant');
  const variants: Variant[] = (specs.length > 0 ? specs : ['node20=20', 'node22=22', 'node24=24']).map((s) => {
    const v = parseVariant(s);
    const nodeVersion = execFileSync(v.node, ['--version'], { encoding: 'utf8' }).trim();
    return { ...v, nodeVersion, cpu: [], rps: [], meshP90: [], meshCpu: [] };
  });
  const { proxyCpu, toolCpu: cpu } = pinBenchCpus();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-node-versions-'));
  const up = await startUpstream(workDir, cpu);
  try {
    for (const v of variants) {
      const mod = (await import(path.join(v.root, 'dist', 'bench', 'bench-clew.js'))) as typeof import('./bench-clew.js');
      const dir = path.join(workDir, v.name);
      fs.mkdirSync(dir);
      v.setup = await mod.startClew({ workDir: dir, upstreams: up, proxyCpu, cpCpu: cpu, telemetry: 'on', node: v.node });
      process.stderr.write(`${v.name}: ${v.nodeVersion} ${v.root} (client sidecar pid ${v.setup.client.pid})\n`);
    }
    await sleep(3000);
    for (const v of variants) v.rssIdleMb = round(memBreakdown([v.setup!.client.pid])?.rssMb ?? NaN, 1);
    const runtime = (pids: number[]) =>
      pids.reduce((sum, p) => {
        const sec = schedstatSeconds(p);
        if (sec === undefined) throw new Error(`no schedstat for pid ${p} (exited, or a kernel without CONFIG_SCHED_INFO)`);
        return sum + sec * 1e6;
      }, 0);
    const sidecar = (v: Variant) => ({ url: v.setup!.outboundUrl, host: v.setup!.hosts.sidecar });
    const mesh = (v: Variant) => ({ url: v.setup!.outboundUrl, host: v.setup!.hosts.mesh });
    // warm-up: JIT and pools on every variant before anything is counted
    for (const v of variants) {
      await runWrk(wrk, sidecar(v), { cpu, seconds: 3, connections: 64 });
      await runFixedRate(mesh(v), { cpu, seconds: 2, rps: rate, connections: 16 });
    }
    for (let r = 0; r < rounds; r++) {
      // a different order each round
      const order = variants.map((_, i) => variants[(i + r) % variants.length]);
      for (const v of order) {
        await sleep(300);
        const pids = [v.setup!.client.pid];
        const t0 = runtime(pids);
        const w = await runWrk(wrk, sidecar(v), { cpu, seconds, connections: 64 });
        v.cpu.push(round((runtime(pids) - t0) / Math.max(1, w.rps * seconds), 1));
        v.rps.push(Math.round(w.rps));
        await sleep(300);
        const both = [v.setup!.client.pid, v.setup!.server.pid];
        const t1 = runtime(both);
        const f = await runFixedRate(mesh(v), { cpu, seconds, rps: rate, connections: 16 });
        v.meshCpu.push(round((runtime(both) - t1) / Math.max(1, f.requests), 1));
        v.meshP90.push(f.p90);
        process.stderr.write(`round ${r + 1} ${v.name}: wrk ${Math.round(w.rps)} rps, ${v.cpu.at(-1)} µs CPU/request; mesh ${rate} rps p90 ${f.p90} µs, ${v.meshCpu.at(-1)} µs CPU/request (both sidecars)\n`);
      }
    }
  } finally {
    for (const v of variants) await v.setup?.stop();
    await up.proc.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  if (argv.includes('--instructions')) {
    for (const v of variants) {
      v.instructions = instructions(v);
      process.stderr.write(`${v.name}: ${v.instructions} instructions/request\n`);
    }
  }
  const base = variants[0];
  const col = (f: (v: Variant) => number | undefined, digits = 1) => variants.map((v) => {
    const x = f(v);
    return x === undefined || Number.isNaN(x) ? '–' : String(round(x, digits));
  });
  const head = `| figure | ${variants.map((v) => `${v.name} (${v.nodeVersion})`).join(' | ')} |`;
  const rows = [
    head,
    `| --- | ${variants.map(() => '---').join(' | ')} |`,
    `| sidecar CPU µs / request (wrk -c64) | ${col((v) => median(v.cpu)).join(' | ')} |`,
    `| ÷ ${base.name} | ${col((v) => median(v.cpu) / median(base.cpu), 3).join(' | ')} |`,
    `| sidecar rps (wrk -c64, one core) | ${col((v) => median(v.rps), 0).join(' | ')} |`,
    `| mesh p90 µs (${rate} rps, 2 sidecars) | ${col((v) => median(v.meshP90), 0).join(' | ')} |`,
    `| mesh CPU µs / request (both sidecars, ${rate} rps) | ${col((v) => median(v.meshCpu)).join(' | ')} |`,
    `| RSS idle MB (client sidecar) | ${col((v) => v.rssIdleMb).join(' | ')} |`,
  ];
  if (variants.some((v) => v.instructions !== undefined)) rows.push(`| instructions / request (callgrind) | ${col((v) => v.instructions, 0).join(' | ')} |`);
  const text = [
    `# Clew on Node.js ${variants.map((v) => v.nodeVersion).join(', ')}`,
    '',
    `One run, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}); ${rounds} rounds of ${seconds} s, variants interleaved, medians. Telemetry on (Istio's default: standard metrics, tracing at 1 %). Made by \`node dist/bench/node-versions.js${argv.length ? ` ${argv.join(' ')}` : ''}\`.`,
    '',
    ...variants.map((v) => `- ${v.name}: ${v.nodeVersion} (${v.node}), checkout ${path.relative(repoRoot(), v.root) || '.'}`),
    '',
    ...rows,
    '',
    `Per round: ${variants.map((v) => `${v.name} CPU ${v.cpu.join(', ')}; p90 ${v.meshP90.join(', ')}`).join('. ')}.`,
    '',
  ].join('\n');
  process.stdout.write(text);
  if (argv.includes('--write')) {
    fs.writeFileSync(path.join(repoRoot(), 'bench', 'RESULTS-node-versions.md'), text);
    fs.writeFileSync(path.join(repoRoot(), 'bench', 'results-node-versions.json'), JSON.stringify(variants.map(({ setup: _s, ...v }) => v), null, 2) + '\n');
  }
}

runIfMain(import.meta.url, main);
