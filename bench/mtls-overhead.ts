/**
 * What mutual TLS between sidecars costs (issue 17, "Must show" 6): the same two-sidecar mesh
 * (bench/mtls-mesh.ts: load → client sidecar → server sidecar → upstream) in plaintext and with
 * Istio mTLS (certificates over CSR from a real `clew control-plane`), side by side, interleaved.
 *
 *   node dist/bench/mtls-overhead.js [--rounds 3] [--seconds 5] [--rate 1000] [--key-algorithm rsa|ecdsa]
 *     [--profile] [--write]
 *
 * Per round and variant:
 * - `wrk -t1 -c64` through both sidecars: throughput, and CPU per request of both sidecars
 *   (schedstat of their threads);
 * - fixed-rate load (--rate rps over 16 keep-alive connections, bench/fixed-rate-load.ts): p50/p90/p99
 *   and CPU per request of both sidecars at that rate;
 * - handshakes per request: the client sidecar's `cluster.<outbound>.ssl.handshake` and the server
 *   sidecar's `listener.inbound.ssl.handshake` over the run's requests; keep-alive reuse =
 *   1 - new connections / requests.
 * Targets (issue 17): CPU per request ≤ 1.3 × plaintext, p90 at 1000 rps ≤ plaintext + 150 µs,
 * reuse > 99 %. Both variants run the same hand-written config (router only: no Istio telemetry
 * filters), so the ratio isolates TLS. Sidecars on CPU 0, everything else on CPU 1. --profile runs
 * one more wrk pass with the mTLS sidecars under `node --cpu-prof` and prints the top self-time
 * functions. --write saves bench/RESULTS-mtls.md and bench/results-mtls.json.
 *
 * --counts: instead of timing, per-request counts that do not depend on machine load: each
 * sidecar of each variant in turn under `strace -c -f` during `wrk -c64` for --seconds, syscalls
 * per request by name (write/writev per request = TLS records handed to the kernel per request).
 * --callgrind client|server: instructions per request of that sidecar (valgrind --tool=callgrind),
 * plaintext then mTLS: after --warmup requests (default 6000) its counters are zeroed, then
 * exactly --requests (default 3000) go through on 16 keep-alive connections (closed loop); with
 * --keep DIR the dumps are kept for callgrind_annotate; --only plaintext|mtls runs one variant.
 * --hold SECONDS: start both pairs, print their pids and URLs, wait (for perf/strace by hand).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { callgrindByObject, callgrindTotal, closedLoop } from './instructions.js';
import { schedstatSeconds } from './bench-cpu.js';
import { runFixedRate, runWrk } from './bench-load.js';
import { startUpstream } from './bench-peers.js';
import { pinBenchCpus, which } from './bench-tools.js';
import { argOr, median, repoRoot, round, runIfMain, sleep } from './bench-util.js';
import { adminCounter, OUTBOUND_CLUSTER, startMeshCa, startMeshPair, type MeshPair } from './mtls-mesh.js';

interface Variant {
  name: 'plaintext' | 'mtls';
  mesh?: MeshPair;
  wrkCpu: number[];
  wrkRps: number[];
  rateCpu: number[];
  p50: number[];
  p90: number[];
  p99: number[];
  errors: number;
  requests: number;
  handshakes: number;
}

function runtimeUs(pids: number[]): number {
  return pids.reduce((sum, p) => {
    const sec = schedstatSeconds(p);
    if (sec === undefined) throw new Error(`no schedstat for pid ${p}`);
    return sum + sec * 1e6;
  }, 0);
}

/** New mTLS connections so far, both ends of the hop (0 in plaintext). */
async function handshakes(m: MeshPair): Promise<{ client: number; server: number }> {
  return {
    client: await adminCounter(m.client.adminUrl, `cluster.${OUTBOUND_CLUSTER}.ssl.handshake`),
    server: await adminCounter(m.server.adminUrl, 'listener.inbound.ssl.handshake'),
  };
}

/** Top self-time functions of a .cpuprofile (V8's format). */
function topFunctions(file: string, n: number): Array<{ fn: string; pct: number }> {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples: number[] };
  const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
  const counts = new Map<string, number>();
  for (const id of prof.samples) {
    const nd = byId.get(id);
    if (!nd) continue;
    const cf = nd.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url ? `${path.basename(cf.url)}:${cf.lineNumber + 1}` : ''}`.trim();
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const total = prof.samples.length || 1;
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([fn, c]) => ({ fn, pct: round((100 * c) / total, 1) }));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const rounds = Number(argOr(argv, '--rounds', '3'));
  const seconds = Number(argOr(argv, '--seconds', '5'));
  const rate = Number(argOr(argv, '--rate', '1000'));
  const keyAlgorithm = argOr(argv, '--key-algorithm', 'rsa') as 'rsa' | 'ecdsa';
  if (argv.includes('--callgrind')) return callgrindMode(argv, keyAlgorithm);
  const wrk = which('wrk');
  if (!wrk) throw new Error('wrk missing (apt-get install wrk)');
  const { proxyCpu, toolCpu: cpu } = pinBenchCpus();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-mtls-overhead-'));
  const variants: Variant[] = (['plaintext', 'mtls'] as const).map((name) => ({ name, wrkCpu: [], wrkRps: [], rateCpu: [], p50: [], p90: [], p99: [], errors: 0, requests: 0, handshakes: 0 }));
  const up = await startUpstream(workDir, cpu);
  const ca = await startMeshCa({ workDir, cpu });
  let profile: Array<{ side: string; top: Array<{ fn: string; pct: number }> }> = [];
  try {
    variants[0].mesh = await startMeshPair({ workDir, upstreamPort: up.http, tls: false, proxyCpu, net: 201 });
    variants[1].mesh = await startMeshPair({ workDir, upstreamPort: up.http, tls: true, ca, keyAlgorithm, proxyCpu, net: 202 });
    const ep = (v: Variant) => ({ url: v.mesh!.outboundUrl, host: 'bench-mesh:8000' });
    for (const v of variants) {
      await runWrk(wrk, ep(v), { cpu, seconds: 3, connections: 64 });
      await runFixedRate(ep(v), { cpu, seconds: 2, rps: rate, connections: 16 });
    }
    if (argv.includes('--hold')) {
      for (const v of variants) process.stdout.write(`${v.name}: client pid ${v.mesh!.client.proc.pid} server pid ${v.mesh!.server.proc.pid} url ${v.mesh!.outboundUrl} (Host: bench-mesh:8000)\n`);
      await sleep(Number(argOr(argv, '--hold', '60')) * 1000);
      return;
    }
    if (argv.includes('--counts')) {
      for (const v of variants) {
        for (const side of ['client', 'server'] as const) {
          const pid = v.mesh![side].proc.pid;
          const c = await syscallsPerRequest(pid, () => runWrk(wrk, ep(v), { cpu, seconds, connections: 64 }).then((w) => w.requests));
          process.stdout.write(`${v.name} ${side} sidecar: ${c.requests} requests; syscalls/request ${c.total}: ${c.top.map(([n, k]) => `${n} ${k}`).join(', ')}\n`);
        }
      }
      return;
    }
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const m = v.mesh!;
        const pids = [m.client.proc.pid, m.server.proc.pid];
        await sleep(300);
        const h0 = await handshakes(m);
        let t0 = runtimeUs(pids);
        const w = await runWrk(wrk, ep(v), { cpu, seconds, connections: 64 });
        const wrkRequests = Math.max(1, w.rps * seconds);
        v.wrkCpu.push(round((runtimeUs(pids) - t0) / wrkRequests, 1));
        v.wrkRps.push(Math.round(w.rps));
        await sleep(300);
        t0 = runtimeUs(pids);
        const f = await runFixedRate(ep(v), { cpu, seconds, rps: rate, connections: 16 });
        v.rateCpu.push(round((runtimeUs(pids) - t0) / Math.max(1, f.requests), 1));
        v.p50.push(f.p50);
        v.p90.push(f.p90);
        v.p99.push(f.p99);
        v.errors += f.errors;
        const h1 = await handshakes(m);
        v.requests += Math.round(wrkRequests) + f.requests;
        v.handshakes += Math.max(h1.client - h0.client, h1.server - h0.server);
        process.stderr.write(`round ${r + 1} ${v.name}: wrk ${Math.round(w.rps)} rps ${v.wrkCpu.at(-1)} µs CPU/req; ${rate} rps p90 ${f.p90} µs, ${v.rateCpu.at(-1)} µs CPU/req; handshakes +${h1.client - h0.client}/+${h1.server - h0.server}\n`);
      }
    }
    if (argv.includes('--profile')) profile = await profileMtls(workDir, up.http, ca, keyAlgorithm, wrk, cpu, proxyCpu, seconds);
  } finally {
    for (const v of variants) await v.mesh?.stop();
    await ca.stop();
    await up.proc.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  const [plain, mtls] = variants;
  const cpuRatio = median(mtls.wrkCpu) / median(plain.wrkCpu);
  const rateCpuRatio = median(mtls.rateCpu) / median(plain.rateCpu);
  const p90Delta = median(mtls.p90) - median(plain.p90);
  const hsPerReq = mtls.handshakes / Math.max(1, mtls.requests);
  const reuse = 1 - hsPerReq;
  const verdict = (ok: boolean) => (ok ? 'pass' : '**miss**');
  const fmt = (x: number, d = 1) => String(round(x, d));
  const text = [
    '# mTLS between sidecars: cost over plaintext',
    '',
    `One run, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}; ${rounds} rounds of ${seconds} s, variants interleaved, medians. Made by \`node dist/bench/mtls-overhead.js${argv.length ? ` ${argv.join(' ')}` : ''}\`.`,
    '',
    `Path: load → client sidecar → server sidecar → upstream (1 KiB body), both sidecars on CPU 0. The mTLS variant gets its workload certificates (${keyAlgorithm === 'rsa' ? 'RSA 2048' : 'ECDSA P-256'}) over CSR from a real \`clew control-plane\`; client cluster by \`tlsMode: istio\` with SNI, ALPN istio-http/1.1 and a SAN check, server listener STRICT (client certificate required, XFCC set). Both variants run the same hand-written config from a fixed ADS server (router only, no Istio telemetry filters), so the difference is TLS alone; bench/RESULTS.md's mesh figures include telemetry.`,
    '',
    '| figure | plaintext | mTLS | mTLS ÷ or − plaintext | target |',
    '| --- | --- | --- | --- | --- |',
    `| CPU µs / request, both sidecars (wrk -c64) | ${fmt(median(plain.wrkCpu))} | ${fmt(median(mtls.wrkCpu))} | ×${fmt(cpuRatio, 2)} | ≤ ×1.3: ${verdict(cpuRatio <= 1.3)} |`,
    `| CPU µs / request, both sidecars (${rate} rps) | ${fmt(median(plain.rateCpu))} | ${fmt(median(mtls.rateCpu))} | ×${fmt(rateCpuRatio, 2)} | ≤ ×1.3: ${verdict(rateCpuRatio <= 1.3)} |`,
    `| throughput rps (wrk -c64, sidecars share one core) | ${median(plain.wrkRps)} | ${median(mtls.wrkRps)} | ×${fmt(median(mtls.wrkRps) / median(plain.wrkRps), 2)} | |`,
    `| p50 µs at ${rate} rps | ${fmt(median(plain.p50), 0)} | ${fmt(median(mtls.p50), 0)} | +${fmt(median(mtls.p50) - median(plain.p50), 0)} | |`,
    `| p90 µs at ${rate} rps | ${fmt(median(plain.p90), 0)} | ${fmt(median(mtls.p90), 0)} | +${fmt(p90Delta, 0)} | ≤ +150: ${verdict(p90Delta <= 150)} |`,
    `| p99 µs at ${rate} rps | ${fmt(median(plain.p99), 0)} | ${fmt(median(mtls.p99), 0)} | +${fmt(median(mtls.p99) - median(plain.p99), 0)} | |`,
    `| handshakes / request (mTLS hop) | – | ${hsPerReq.toExponential(2)} (${mtls.handshakes} in ${mtls.requests}) | keep-alive reuse ${fmt(100 * reuse, 3)} % | > 99 %: ${verdict(reuse > 0.99)} |`,
    `| failed requests (fixed rate) | ${plain.errors} | ${mtls.errors} | | |`,
    '',
    `Per round, CPU µs/request (wrk): plaintext ${plain.wrkCpu.join(', ')}; mTLS ${mtls.wrkCpu.join(', ')}. p90 µs: plaintext ${plain.p90.join(', ')}; mTLS ${mtls.p90.join(', ')}.`,
    '',
    ...(profile.length
      ? ['Where the mTLS sidecars spend their time (node --cpu-prof during wrk -c64, top self time):', '', ...profile.flatMap((p) => [`- ${p.side}: ${p.top.map((t) => `${t.fn} ${t.pct} %`).join('; ')}`]), '']
      : []),
  ].join('\n');
  process.stdout.write(text);
  if (argv.includes('--write')) {
    fs.writeFileSync(path.join(repoRoot(), 'bench', 'RESULTS-mtls.md'), text);
    fs.writeFileSync(path.join(repoRoot(), 'bench', 'results-mtls.json'), JSON.stringify(variants.map(({ mesh: _m, ...v }) => v), null, 2) + '\n');
  }
}

/** Instructions per request of one sidecar, plaintext and mTLS (see --callgrind above). */
async function callgrindMode(argv: string[], keyAlgorithm: 'rsa' | 'ecdsa'): Promise<void> {
  const side = argOr(argv, '--callgrind', 'client') as 'client' | 'server';
  const warmup = Number(argOr(argv, '--warmup', '6000'));
  const requests = Number(argOr(argv, '--requests', '3000'));
  const keep = argv.includes('--keep') ? argOr(argv, '--keep', '.') : undefined;
  const { proxyCpu, toolCpu: cpu } = pinBenchCpus();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-mtls-callgrind-'));
  const up = await startUpstream(workDir, cpu);
  const ca = await startMeshCa({ workDir, cpu });
  try {
    const only = argv.includes('--only') ? argOr(argv, '--only', 'mtls') : undefined;
    for (const tls of [false, true].filter((t) => only === undefined || only === (t ? 'mtls' : 'plaintext'))) {
      const out = path.join(workDir, `cg-${tls ? 'mtls' : 'plain'}.out`);
      const command = ['valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no', '--compress-strings=no', '--compress-pos=no'];
      const m = await startMeshPair({ workDir, upstreamPort: up.http, tls, ca, keyAlgorithm, proxyCpu, net: tls ? 205 : 204, wrap: { side, command }, readyTimeoutMs: 600_000 });
      try {
        const pid = m[side].proc.pid;
        const w = await closedLoop(m.outboundUrl, 'bench-mesh:8000', warmup, 16);
        // under valgrind the first requests may outlast a timeout; the counted window must not
        if (w.failed > 0) process.stderr.write(`${side} ${tls ? 'mtls' : 'plaintext'}: ${w.failed} of ${warmup} warm-up requests failed (valgrind is slow); going on\n`);
        await sleep(500);
        execFileSync('callgrind_control', ['-z', String(pid)], { stdio: 'ignore' });
        const r = await closedLoop(m.outboundUrl, 'bench-mesh:8000', requests, 16);
        if (r.failed > 0) throw new Error(`${r.failed} counted requests failed`);
        execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
        await sleep(500);
        const dumps = fs.readdirSync(workDir).filter((f) => f.startsWith(path.basename(out))).sort();
        const last = path.join(workDir, dumps[dumps.length - 1]);
        const ir = callgrindTotal(last);
        const byObject = callgrindByObject(last).slice(0, 6).map(([o, n]) => `${path.basename(o)} ${Math.round(n / Math.max(1, r.ok))}`);
        process.stdout.write(`${side} sidecar ${tls ? 'mtls' : 'plaintext'}: ${r.ok} requests (${r.failed} failed), ${Math.round(ir / Math.max(1, r.ok))} instructions/request; by object: ${byObject.join(', ')}\n`);
        if (keep) fs.copyFileSync(last, path.join(keep, `callgrind-${side}-${tls ? 'mtls' : 'plain'}.out`));
        for (const f of dumps) fs.rmSync(path.join(workDir, f), { force: true });
      } finally {
        await m.stop();
      }
    }
  } finally {
    await ca.stop();
    await up.proc.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/** `strace -c -f -p pid` around `load` (which resolves to its request count): syscalls per request, by name. */
async function syscallsPerRequest(pid: number, load: () => Promise<number>): Promise<{ requests: number; total: number; top: Array<[string, number]> }> {
  const out = path.join(os.tmpdir(), `clew-mtls-strace-${pid}-${Date.now()}.txt`);
  const st = spawn('strace', ['-c', '-f', '-p', String(pid), '-o', out], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => st.once('exit', () => resolve()));
  await sleep(1000);
  const requests = await load();
  st.kill('SIGINT');
  await Promise.race([exited, sleep(10_000)]);
  const rows: Array<[string, number]> = [];
  let total = 0;
  for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (f.length < 5 || !/^[\d.]+$/.test(f[0])) continue;
    const name = f[f.length - 1];
    const calls = Number(f[3]);
    if (name === 'total') total = calls;
    else rows.push([name, round(calls / Math.max(1, requests), 3)]);
  }
  fs.rmSync(out, { force: true });
  return { requests, total: round(total / Math.max(1, requests), 3), top: rows.sort((a, b) => b[1] - a[1]).slice(0, 8) };
}

/** One more mTLS pair under `node --cpu-prof`, loaded by wrk; the top self-time functions of each sidecar. */
async function profileMtls(workDir: string, upstreamPort: number, ca: Awaited<ReturnType<typeof startMeshCa>>, keyAlgorithm: 'rsa' | 'ecdsa', wrk: string, cpu: number | undefined, proxyCpu: number | undefined, seconds: number): Promise<Array<{ side: string; top: Array<{ fn: string; pct: number }> }>> {
  const dir = path.join(workDir, 'profile');
  fs.mkdirSync(dir, { recursive: true });
  const m = await startMeshPair({ workDir: dir, upstreamPort, tls: true, ca, keyAlgorithm, proxyCpu, net: 203, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  try {
    await runWrk(wrk, { url: m.outboundUrl, host: 'bench-mesh:8000' }, { cpu, seconds: 2, connections: 64 });
    await runWrk(wrk, { url: m.outboundUrl, host: 'bench-mesh:8000' }, { cpu, seconds, connections: 64 });
  } finally {
    // SIGINT: the proxies exit at once (SIGTERM would drain first) and write their profiles
    for (const p of [m.client.proc, m.server.proc]) {
      p.child.kill('SIGINT');
      await Promise.race([p.exited, sleep(10_000)]);
    }
    await m.stop();
  }
  const out: Array<{ side: string; top: Array<{ fn: string; pct: number }> }> = [];
  for (const [side, pid] of [['client sidecar', m.client.proc.pid], ['server sidecar', m.server.proc.pid]] as const) {
    const f = fs.readdirSync(dir).find((n) => n.endsWith('.cpuprofile') && n.includes(`.${pid}.`));
    if (f) out.push({ side, top: topFunctions(path.join(dir, f), 12) });
  }
  return out;
}

runIfMain(import.meta.url, main);
