/**
 * A/B of sidecar builds or node flags, side by side in one run: the numbers of a single bench run
 * move by ±15 % with the host, so a change is judged by interleaved pairs, not by two runs.
 *
 *   node dist/bench/ab.js [--a DIR] [--b DIR] [--a-flags '...'] [--b-flags '...'] [--rounds 6]
 *     [--seconds 5] [--telemetry on|off|log|metrics] [--rate 1000] [--no-rate] [--mesh]
 *
 * DIR is a checkout with a built dist/ (default: this one for both). Each variant gets its own
 * control plane and sidecars (bench-clew.ts from DIR); one upstream serves both. Per round, in
 * alternating order: wrk -t1 -c64 through the client sidecar (CPU µs per request from the sidecar's
 * /proc schedstat, all threads), then a fixed-rate run (CPU µs per request at that rate, p50/p90).
 * Prints per-round figures and the medians, and B ÷ A.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { schedstatSeconds } from './bench-cpu.js';
import { runFixedRate, runWrk } from './bench-load.js';
import { startUpstream } from './bench-peers.js';
import type { ClewSetup, BenchTelemetry } from './bench-clew.js';
import { pinBenchCpus, which } from './bench-tools.js';
import { median, repoRoot, round, runIfMain, sleep } from './bench-util.js';

interface Variant {
  name: string;
  root: string;
  flags: string[];
  setup?: ClewSetup;
  wrkCpu: number[];
  wrkRps: number[];
  rateCpu: number[];
  p50: number[];
  p90: number[];
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const rounds = Number(arg(argv, '--rounds') ?? 6);
  const seconds = Number(arg(argv, '--seconds') ?? 5);
  const rate = Number(arg(argv, '--rate') ?? 1000);
  const doRate = !argv.includes('--no-rate');
  const mesh = argv.includes('--mesh');
  const telemetry = (arg(argv, '--telemetry') ?? 'on') as BenchTelemetry;
  const wrk = which('wrk');
  if (!wrk) throw new Error('wrk missing (apt-get install wrk)');
  const split = (s: string | undefined) => (s ?? '').split(' ').filter(Boolean);
  const variants: Variant[] = (['a', 'b'] as const).map((k) => ({
    name: k.toUpperCase(),
    root: path.resolve(arg(argv, `--${k}`) ?? repoRoot()),
    flags: split(arg(argv, `--${k}-flags`)),
    wrkCpu: [], wrkRps: [], rateCpu: [], p50: [], p90: [],
  }));
  const { proxyCpu, toolCpu: cpu } = pinBenchCpus();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-ab-'));
  const up = await startUpstream(workDir, cpu);
  try {
    for (const v of variants) {
      const mod = (await import(path.join(v.root, 'dist', 'bench', 'bench-clew.js'))) as typeof import('./bench-clew.js');
      const dir = path.join(workDir, v.name);
      fs.mkdirSync(dir);
      v.setup = await mod.startClew({ workDir: dir, upstreams: up, proxyCpu, cpCpu: cpu, telemetry, nodeArgs: { client: v.flags, server: v.flags } });
      process.stderr.write(`${v.name}: ${v.root} ${v.flags.join(' ')} (client sidecar pid ${v.setup.client.pid})\n`);
    }
    const ep = (v: Variant) => ({ url: v.setup!.outboundUrl, host: mesh ? v.setup!.hosts.mesh : v.setup!.hosts.sidecar });
    const pids = (v: Variant) => (mesh ? [v.setup!.client.pid, v.setup!.server.pid] : [v.setup!.client.pid]);
    const runtime = (v: Variant) =>
      pids(v).reduce((sum, p) => {
        const sec = schedstatSeconds(p);
        if (sec === undefined) throw new Error(`no schedstat for pid ${p} (exited, or a kernel without CONFIG_SCHED_INFO)`);
        return sum + sec * 1e9;
      }, 0);
    for (const v of variants) await runWrk(wrk, ep(v), { cpu, seconds: 3, connections: 64 });
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        await sleep(300);
        const t0 = runtime(v);
        const w = await runWrk(wrk, ep(v), { cpu, seconds, connections: 64 });
        const us = (runtime(v) - t0) / 1000 / Math.max(1, w.rps * seconds);
        v.wrkCpu.push(round(us, 1));
        v.wrkRps.push(Math.round(w.rps));
        let line = `round ${r + 1} ${v.name}: wrk ${Math.round(w.rps)} rps, ${round(us, 1)} µs CPU/request`;
        if (doRate) {
          await sleep(300);
          const t1 = runtime(v);
          const f = await runFixedRate(ep(v), { cpu, seconds, rps: rate, connections: 16 });
          const rus = (runtime(v) - t1) / 1000 / Math.max(1, f.requests);
          v.rateCpu.push(round(rus, 1));
          v.p50.push(f.p50);
          v.p90.push(f.p90);
          line += `; ${rate} rps: ${round(rus, 1)} µs CPU/request, p50 ${f.p50} p90 ${f.p90} µs`;
        }
        process.stderr.write(line + '\n');
      }
    }
    const [a, b] = variants;
    const row = (label: string, f: (v: Variant) => number[]) => {
      const ma = median(f(a));
      const mb = median(f(b));
      return `| ${label} | ${round(ma, 1)} | ${round(mb, 1)} | ${round(mb / ma, 3)} |`;
    };
    const out = [
      `A: ${a.root} ${a.flags.join(' ')}`, `B: ${b.root} ${b.flags.join(' ')}`,
      `${rounds} rounds, ${seconds} s runs, telemetry ${telemetry}${mesh ? ', mesh path (both sidecars counted)' : ''}; medians:`, '',
      '| figure | A | B | B ÷ A |', '| --- | --- | --- | --- |',
      row('wrk CPU µs / request', (v) => v.wrkCpu),
      row('wrk rps', (v) => v.wrkRps),
    ];
    if (doRate) out.push(row(`${rate} rps CPU µs / request`, (v) => v.rateCpu), row(`${rate} rps p50 µs`, (v) => v.p50), row(`${rate} rps p90 µs`, (v) => v.p90));
    // pairs: B ÷ A within each round, the steadiest comparison on a noisy host
    const pairs = a.wrkCpu.map((x, i) => round(b.wrkCpu[i] / x, 3));
    out.push('', `wrk CPU B ÷ A per round: ${pairs.join(', ')} (median ${round(median(pairs), 3)})`);
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    for (const v of variants) await v.setup?.stop();
    await up.proc.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, main);
