/**
 * Where the sidecar's CPU goes: runs the one-sidecar path (wrk → client sidecar → upstream) with
 * the client sidecar under `node --cpu-prof`, then lists the top self-time functions and files.
 * Writes bench/out/sidecar-profile.md (and the raw .cpuprofile next to it).
 *
 *   node dist/bench/profile-sidecar.js [--seconds 10] [--mesh | --h2 | --grpc]
 * (--h2: h2load -c16 -m10 over h2c through the client sidecar instead of wrk; --grpc: the same
 *  with the suite's unary gRPC call, /bench.Echo/Echo)
 *   node dist/bench/profile-sidecar.js --alloc [--seconds 10]
 * (--alloc: V8's sampling heap profiler instead: bytes allocated per request by function, written
 *  to bench/out/sidecar-alloc.md, the raw profile to bench/out/sidecar.heapprofile)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startClew, type ClewSetup } from './bench-clew.js';
import { runH2load, runWrk } from './bench-load.js';
import { startUpstream } from './bench-peers.js';
import type { Pinned } from './bench-proc.js';
import { pinBenchCpus, which } from './bench-tools.js';
import { repoRoot, round, runIfMain } from './bench-util.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface ProfileEntry { name: string; where: string; selfMs: number; percent: number }

function shortUrl(url: string): string {
  if (!url) return '';
  const root = `file://${repoRoot()}/`;
  if (url.startsWith(root)) return url.slice(root.length);
  if (url.startsWith('node:')) return url;
  const nm = url.indexOf('/node_modules/');
  return nm >= 0 ? url.slice(nm + 1) : url;
}

/** Coarse owner of a frame: Clew's code, undici, other packages, Node's JS, native code, GC. */
function areaOf(url: string, name: string): string {
  if (url.startsWith('dist/src/')) return 'Clew (dist/src)';
  if (url.startsWith('node_modules/undici/')) return 'undici';
  if (url.startsWith('node_modules/')) return `other packages (${url.split('/')[1]})`;
  if (url.startsWith('node:')) return 'Node.js core (JS)';
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)') return 'V8 / native, unattributed (program)';
  if (url.startsWith('wasm:')) return 'wasm (llhttp in undici)';
  if (!url) return 'native calls (socket writes, string encoding, ...)';
  return 'other';
}

/** Self time per function, per file and per area, from a .cpuprofile. */
export function summarizeProfile(p: CpuProfile, top = 30, window?: { fromUs: number; toUs: number }): { functions: ProfileEntry[]; files: ProfileEntry[]; areas: ProfileEntry[]; totalMs: number; windowed: boolean } {
  // sample timestamps are CLOCK_MONOTONIC µs, like process.hrtime in any process on the machine
  const collect = (from: number, to: number) => {
    const self = new Map<number, number>();
    let t = p.startTime;
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i] ?? 0;
      if (t < from || t > to) continue;
      self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
    }
    return self;
  };
  let self = window ? collect(window.fromUs, window.toUs) : new Map<number, number>();
  const windowed = self.size > 0;
  if (!windowed) self = collect(-Infinity, Infinity);
  const byFn = new Map<string, ProfileEntry>();
  const byFile = new Map<string, ProfileEntry>();
  const byArea = new Map<string, ProfileEntry>();
  let total = 0;
  for (const n of p.nodes) {
    const us = self.get(n.id) ?? 0;
    if (n.callFrame.functionName === '(idle)') continue;
    total += us;
    const where = shortUrl(n.callFrame.url);
    const name = n.callFrame.functionName || '(anonymous)';
    const key = `${name}@${where}:${n.callFrame.lineNumber}`;
    const e = byFn.get(key) ?? { name, where: where ? `${where}:${n.callFrame.lineNumber + 1}` : '', selfMs: 0, percent: 0 };
    e.selfMs += us / 1000;
    byFn.set(key, e);
    const fileKey = where || name;
    const f = byFile.get(fileKey) ?? { name: fileKey, where: '', selfMs: 0, percent: 0 };
    f.selfMs += us / 1000;
    byFile.set(fileKey, f);
    const areaKey = areaOf(where, name);
    const a = byArea.get(areaKey) ?? { name: areaKey, where: '', selfMs: 0, percent: 0 };
    a.selfMs += us / 1000;
    byArea.set(areaKey, a);
  }
  const finish = (m: Map<string, ProfileEntry>) => [...m.values()]
    .map((e) => ({ ...e, selfMs: round(e.selfMs, 1), percent: round((e.selfMs * 1000 * 100) / Math.max(1, total), 1) }))
    .filter((e) => e.selfMs > 0)
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top);
  return { functions: finish(byFn), files: finish(byFile), areas: finish(byArea), totalMs: round(total / 1000, 1), windowed };
}

interface HeapNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: HeapNode[] }
interface HeapProfile { head: HeapNode }

/** Sampled allocations (collected ones included) by allocating function, and bytes per request. */
function allocReport(p: HeapProfile, requests: number, seconds: number): string {
  const byFn = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode): void => {
    if (n.selfSize > 0) {
      const key = `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
      byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c);
  };
  walk(p.head);
  const L = ['# Sidecar allocation profile', '', `One sidecar, wrk -c64 for ${seconds} s after a warm-up, ~${round(requests, 0)} measured requests; sampled bytes by allocating function over the whole process life (start-up and warm-up included), so bytes per request is an upper bound: ${round(total / Math.max(1, requests), 0)} B.`, '', '| % | sampled KiB | B / request | function |', '| --- | --- | --- | --- |'];
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 40)) L.push(`| ${round((v * 100) / Math.max(1, total), 1)} | ${round(v / 1024, 0)} | ${round(v / Math.max(1, requests), 0)} | ${k} |`);
  return L.join('\n') + '\n';
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const seconds = argv.includes('--seconds') ? Number(argv[argv.indexOf('--seconds') + 1]) : 10;
  const mesh = argv.includes('--mesh');
  const grpc = argv.includes('--grpc');
  const h2 = grpc || argv.includes('--h2');
  const alloc = argv.includes('--alloc');
  const wrk = which('wrk');
  if (!wrk) throw new Error('wrk missing (apt-get install wrk)');
  const h2load = h2 ? which('h2load') : undefined;
  if (h2 && !h2load) throw new Error('h2load missing (apt-get install nghttp2-client)');
  const { proxyCpu, toolCpu } = pinBenchCpus();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-profile-'));
  const profDir = path.join(workDir, 'prof');
  const started: Pinned[] = [];
  let clew: ClewSetup | undefined;
  try {
    const up = await startUpstream(workDir, toolCpu);
    started.push(up.proc);
    fs.mkdirSync(profDir, { recursive: true });
    const allocFile = path.join(profDir, 'sidecar.heapprofile');
    if (alloc) process.env.CLEW_ALLOC_PROFILE = allocFile;
    const preload = path.join(repoRoot(), 'dist', 'bench', 'alloc-profile-preload.js');
    const profArgs = alloc ? ['--import', preload] : ['--cpu-prof', '--cpu-prof-dir', profDir];
    clew = await startClew({ workDir, upstreams: up, proxyCpu, cpCpu: toolCpu, nodeArgs: { client: profArgs, server: mesh ? profArgs : [] } });
    const ep = { url: clew.outboundUrl, host: grpc ? clew.hosts.grpc : h2 ? clew.hosts.h2 : mesh ? clew.hosts.mesh : clew.hosts.sidecar };
    // the suite's gRPC request (bench/run.ts): one 5-byte message
    const grpcBody = path.join(workDir, 'grpc-request.bin');
    if (grpc) fs.writeFileSync(grpcBody, Buffer.from([0, 0, 0, 0, 5, 0x0a, 0x03, 0x61, 0x62, 0x63]));
    const load = (secs: number): Promise<{ rps: number }> =>
      h2load
        ? runH2load(h2load, ep, { cpu: toolCpu, seconds: secs, connections: 16, streams: 10, ...(grpc ? { grpcBodyFile: grpcBody, path: '/bench.Echo/Echo' } : {}) })
        : runWrk(wrk, ep, { cpu: toolCpu, seconds: secs, connections: 64 });
    await load(3);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const res = await load(seconds);
    const toUs = Number(process.hrtime.bigint() / 1000n);
    process.stderr.write(`wrk under profiling: ${round(res.rps, 0)} rps\n`);
    await clew.stop();
    clew = undefined;
    const outDir = path.join(repoRoot(), 'bench', 'out');
    fs.mkdirSync(outDir, { recursive: true });
    if (alloc) {
      if (!fs.existsSync(allocFile)) throw new Error('no allocation profile written (did the sidecar exit on SIGTERM?)');
      fs.copyFileSync(allocFile, path.join(outDir, 'sidecar.heapprofile'));
      const text = allocReport(JSON.parse(fs.readFileSync(allocFile, 'utf8')) as HeapProfile, res.rps * seconds, seconds);
      fs.writeFileSync(path.join(outDir, 'sidecar-alloc.md'), text);
      process.stdout.write(text);
      return;
    }
    const files = fs.existsSync(profDir) ? fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')) : [];
    if (!files.length) throw new Error('no .cpuprofile written (did the sidecar exit cleanly?)');
    const L: string[] = ['# Sidecar CPU profile', '', `${mesh ? 'Mesh path (client and server sidecars)' : 'One sidecar (client sidecar outbound)'}, ${grpc ? 'h2load -c16 -m10 (h2c, unary gRPC)' : h2 ? 'h2load -c16 -m10 (h2c)' : 'wrk -t1 -c64'} for ${seconds} s after a 3 s warm-up, \`node --cpu-prof\`; ${round(res.rps, 0)} rps under the profiler. ${new Date().toISOString()}.`, ''];
    for (const f of files) {
      const prof = JSON.parse(fs.readFileSync(path.join(profDir, f), 'utf8')) as CpuProfile;
      const s = summarizeProfile(prof, 30, { fromUs, toUs });
      fs.copyFileSync(path.join(profDir, f), path.join(outDir, `sidecar-${files.length > 1 ? f.replace(/\.cpuprofile$/, '') : 'client'}.cpuprofile`));
      L.push(`## ${f} (${s.totalMs} ms of non-idle samples, ${s.windowed ? 'during the measured wrk run' : 'whole process, start-up included'})`, '', '### Self time by area', '', '| % | self ms | area |', '| --- | --- | --- |');
      for (const e of s.areas) L.push(`| ${e.percent} | ${e.selfMs} | ${e.name} |`);
      L.push('', '### Top self time by function', '', '| % | self ms | function | where |', '| --- | --- | --- | --- |');
      for (const e of s.functions) L.push(`| ${e.percent} | ${e.selfMs} | ${e.name} | ${e.where} |`);
      L.push('', '### Self time by file', '', '| % | self ms | file |', '| --- | --- | --- |');
      for (const e of s.files) L.push(`| ${e.percent} | ${e.selfMs} | ${e.name} |`);
      L.push('');
    }
    fs.writeFileSync(path.join(outDir, 'sidecar-profile.md'), L.join('\n'));
    process.stdout.write(L.join('\n') + '\n');
  } finally {
    if (clew) await clew.stop();
    for (const p of started.reverse()) await p.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

// main only when run as a script: authz-cost.ts imports summarizeProfile
runIfMain(import.meta.url, main);
