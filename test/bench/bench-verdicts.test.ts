import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderResults } from '../../bench/bench-report.js';
import { summarize, type H2Target, type RateRun, type Results, type SoakEntry, type SoakResult, type TargetRuns, type WrkRun } from '../../bench/bench-results.js';
import { parseRuntimes } from '../../bench/bench-runtimes.js';
import { parseSoak, readSoak, runSoak } from '../../bench/bench-soak.js';
import { freePort, waitForPort } from '../../bench/bench-util.js';
import { evaluateIssue22, recoveryVerdict, soakVerdict, type VerdictInput } from '../../bench/bench-verdicts.js';

function wrkRun(cpuUs: number, rssPeakMb = 50): WrkRun {
  return { requests: 100000, seconds: 10, rps: 10000, latencyMs: { p50: 1, p90: 2, p99: 3 }, non2xx: 0, socketErrors: 0, round: 0, foreignCpuPct: 0, cpuSeconds: cpuUs / 10, cpuSource: 'schedstat', cpuUsPerRequest: cpuUs, rssPeakMb };
}

function rateRun(p90: number, p99: number, rssPeakMb?: number): RateRun {
  return { tool: 'fixed-rate-load', requests: 10000, rps: 1000, p50: p90 / 2, p90, p99, errors: 0, round: 0, foreignCpuPct: 0, seconds: 10, cpuSeconds: 1, vcpuPer1000Rps: 0.1, rssPeakMb };
}

interface T { id: string; proxies: number; cpu: number; p90: number; p99: number; idle?: number; peak?: number; ratePeak?: number }

function target(t: T): TargetRuns {
  return {
    id: t.id, label: t.id, kind: t.id.startsWith('clew') ? 'clew' : t.id.startsWith('node-tcp') ? 'floor' : 'baseline', proxies: t.proxies,
    rssIdleMb: t.idle ?? NaN, memIdle: t.idle !== undefined ? { rssMb: t.idle, anonMb: t.idle / 2, fileMb: t.idle / 2 } : undefined,
    wrk: [wrkRun(t.cpu, t.peak)], fixedRate: [rateRun(t.p90, t.p99, t.ratePeak)], hey: [],
  };
}

function h2(protocol: 'h2' | 'grpc', via: 'direct' | 'sidecar' | 'tcp-relay' | 'h2-proxy', rps: number, cpu: number, rssPeakMb?: number): H2Target {
  return { id: `${protocol}-${via}`, label: `${protocol} ${via}`, protocol, viaSidecar: via === 'sidecar', via, runs: [{ requests: rps * 5, succeeded: rps * 5, failed: 0, rps, meanMs: 1, round: 0, foreignCpuPct: 0, cpuSeconds: 1, cpuUsPerRequest: via === 'direct' ? NaN : cpu, rssPeakMb }] };
}

const SOAK: SoakResult = {
  generatedAt: '2026-12-08T03:00:00.000Z', commit: 'abc1234', node: 'v20.20.2', minutes: 30, rps: 1000, idleRssMb: 60, peakRssMb: 90, rssAt5MinMb: 80,
  rssEndMb: 84.9, growthAfter5MinMb: 4.9, requests: 1_800_000, failed: 0, samples: [{ t: 0, rssMb: 60, heapUsedMb: 10 }], png: 'bench/soak-rss.png',
};

/** A run: direct adds nothing; the sidecar 50 µs CPU; the relay 40 µs, adds 100 µs at p99; two relays add 200 µs at p90. */
function input(over: { sidecarCpu?: number; grpcCpu?: number; h2Cpu?: number; grpcRps?: number; idle?: number; peak?: number; h2Peak?: number; bare?: number; recovery?: Array<[number, number]>; soak?: SoakEntry; relayP99?: number; runtimes?: VerdictInput['runtimes'] } = {}): VerdictInput {
  const idle = over.idle ?? 60;
  const targets = [
    target({ id: 'direct', proxies: 0, cpu: 0, p90: 300, p99: 500 }),
    target({ id: 'clew-sidecar', proxies: 1, cpu: over.sidecarCpu ?? 50, p90: 400, p99: 620, idle, peak: over.peak ?? 100 }),
    target({ id: 'clew-mesh', proxies: 2, cpu: 100, p90: 540, p99: 900, idle: 120 }),
    target({ id: 'node-tcp-relay', proxies: 1, cpu: 40, p90: 350, p99: 500 + (over.relayP99 ?? 100) }),
    target({ id: 'node-tcp-relay-x2', proxies: 2, cpu: 80, p90: 500, p99: 800 }),
  ];
  targets[1].recovery = { samples: (over.recovery ?? [[0, 110], [1, 105], [30, 75], [60, 70]]).map(([t, rssMb]) => ({ t, rssMb })), seconds: (over.recovery ?? [[60, 0]]).at(-1)![0] };
  return {
    targets,
    summary: summarize(targets),
    h2: [
      h2('h2', 'direct', 20000, 0), h2('h2', 'sidecar', 12000, over.h2Cpu ?? 70, over.h2Peak), h2('h2', 'tcp-relay', 19000, 30), h2('h2', 'h2-proxy', 15000, 45),
      h2('grpc', 'direct', 16000, 0), h2('grpc', 'sidecar', over.grpcRps ?? 8000, over.grpcCpu ?? 75), h2('grpc', 'tcp-relay', 15000, 35), h2('grpc', 'h2-proxy', 11000, 50),
    ],
    bareNode: { command: 'node -e x', idle: { rssMb: over.bare ?? 45, anonMb: 8, fileMb: 37 } },
    soak: over.soak ?? { source: 'file', file: 'bench/results-soak.json', result: SOAK },
    runtimes: over.runtimes ?? [{ major: 20, version: 'v20.20.2', targetId: 'clew-sidecar' }, { major: 22, version: 'v22.23.5', targetId: 'clew-sidecar' }, { major: 24, version: 'v24.22.3', targetId: 'clew-sidecar' }],
  };
}

const verdicts = (i: VerdictInput) => new Map(evaluateIssue22(i).map((v) => [v.id, v]));

test('issue 22: every target gets a row, with figure, limit and verdict, in the issue\'s order', () => {
  const v = evaluateIssue22(input());
  assert.deepEqual(v.map((x) => x.id), ['grpc-cpu', 'grpc-throughput', 'h2-cpu', 'h2-throughput', 'rss-recovery', 'rss-peak', 'rss-idle-vs-bare-node', 'soak-growth', 'http1-cpu-vs-relay', 'http1-p99-vs-relay', 'mesh-p90-vs-relays', 'node-runtimes']);
  const m = new Map(v.map((x) => [x.id, x]));
  // gRPC 75 µs against 1.5 × the sidecar's 50 µs HTTP/1.1: exactly at the limit passes
  assert.equal(m.get('grpc-cpu')!.verdict, 'pass');
  assert.equal(m.get('grpc-cpu')!.limit, '≤ 75 µs (1.5 × 50 µs)');
  assert.equal(m.get('grpc-cpu')!.measured, '75 µs (1.5 × HTTP/1.1)');
  assert.match(m.get('grpc-cpu')!.note!, /TCP relay \(h2 bytes\) 35 µs, node:http2 proxy 50 µs \(sidecar 1\.5 × that\)/);
  // 8000 of 16000 req/s: exactly 0.5 × direct passes
  assert.equal(m.get('grpc-throughput')!.verdict, 'pass');
  assert.equal(m.get('grpc-throughput')!.measured, '0.5 × direct (8000 vs 16000 req/s)');
  assert.match(m.get('grpc-throughput')!.note!, /TCP relay 0\.94 ×, node:http2 proxy 0\.69 ×/);
  assert.equal(m.get('h2-cpu')!.verdict, 'pass');
  // HTTP/1.1: sidecar 50 µs vs 1.5 × relay 40 = 60; p99 adds 120 vs 1.3 × 100 = 130; mesh p90 adds 240 vs 1.2 × 200 = 240
  assert.equal(m.get('http1-cpu-vs-relay')!.verdict, 'pass');
  assert.equal(m.get('http1-cpu-vs-relay')!.limit, '≤ 60 µs (1.5 × relay 40 µs)');
  assert.equal(m.get('http1-p99-vs-relay')!.verdict, 'pass');
  assert.equal(m.get('http1-p99-vs-relay')!.limit, '≤ 130 µs (1.3 × relay 100 µs)');
  assert.equal(m.get('mesh-p90-vs-relays')!.verdict, 'pass');
  assert.equal(m.get('mesh-p90-vs-relays')!.measured, '240 µs (1.2 × two relays)');
  assert.equal(m.get('rss-idle-vs-bare-node')!.verdict, 'pass');
  assert.equal(m.get('rss-peak')!.verdict, 'pass');
  assert.equal(m.get('rss-recovery')!.verdict, 'pass');
  assert.equal(m.get('soak-growth')!.verdict, 'pass');
  assert.equal(m.get('node-runtimes')!.verdict, 'pass');
});

test('issue 22: just over each limit is a FAIL', () => {
  const m = verdicts(input({ grpcCpu: 75.1, grpcRps: 7999, h2Cpu: 76, sidecarCpu: 50, idle: 60.1, bare: 45, peak: 120.2, relayP99: 92 }));
  assert.equal(m.get('grpc-cpu')!.verdict, 'FAIL');
  assert.equal(m.get('grpc-throughput')!.verdict, 'FAIL');
  assert.equal(m.get('h2-cpu')!.verdict, 'FAIL');
  // idle 60.1 > bare 45 + 15
  assert.equal(m.get('rss-idle-vs-bare-node')!.verdict, 'FAIL');
  assert.equal(m.get('rss-idle-vs-bare-node')!.limit, '≤ 60 MB (bare node 45 MB + 15)');
  // peak 120.2 is not < 2 × 60.1 = 120.2
  assert.equal(m.get('rss-peak')!.verdict, 'FAIL');
  // p99 adds 120 > 1.3 × 92 = 119.6
  assert.equal(m.get('http1-p99-vs-relay')!.verdict, 'FAIL');
  // the sidecar's CPU against the relay: 60.1 > 60
  assert.equal(verdicts(input({ sidecarCpu: 60.1, grpcCpu: 1, h2Cpu: 1 })).get('http1-cpu-vs-relay')!.verdict, 'FAIL');
  // a peak under h2load counts too: wrk peak 100, h2load peak 125 > 120
  assert.equal(verdicts(input({ h2Peak: 125 })).get('rss-peak')!.verdict, 'FAIL');
  // and the first reading right after the last load: 121 > 120
  assert.equal(verdicts(input({ recovery: [[0, 121], [30, 70], [60, 70]] })).get('rss-peak')!.verdict, 'FAIL');
  assert.equal(verdicts(input({ recovery: [[0, 119.9], [30, 70], [60, 70]] })).get('rss-peak')!.verdict, 'pass');
  // a relay faster than direct (negative added p99: noise) gives a limit of 0, not a negative one
  const neg = verdicts(input({ relayP99: -50 })).get('http1-p99-vs-relay')!;
  assert.equal(neg.verdict, 'FAIL');
  assert.equal(neg.limit, '≤ 0 µs (1.3 × relay -50 µs)');
});

test('issue 22: what was not measured is "not run", never a pass', () => {
  const i = input();
  const bare: VerdictInput = { ...i, h2: [], summary: i.summary.filter((s) => !s.id.startsWith('node-tcp')), bareNode: undefined, soak: undefined, runtimes: [] };
  const m = verdicts(bare);
  for (const id of ['grpc-cpu', 'grpc-throughput', 'h2-cpu', 'h2-throughput', 'rss-idle-vs-bare-node', 'soak-growth', 'http1-cpu-vs-relay', 'http1-p99-vs-relay', 'mesh-p90-vs-relays', 'node-runtimes']) {
    assert.equal(m.get(id)!.verdict, 'not run', id);
  }
  assert.equal(m.get('grpc-cpu')!.measured, 'not measured');
  assert.equal(m.get('soak-growth')!.measured, 'not run (no bench/results-soak.json)');
  assert.equal(m.get('node-runtimes')!.measured, 'not run (no runtime asked for: --runtimes none, or results from before)');
  // the h2 figures but no HTTP/1.1 sidecar figure: no limit, no verdict
  const noSidecar = verdicts({ ...i, summary: i.summary.filter((s) => s.id !== 'clew-sidecar') });
  assert.equal(noSidecar.get('grpc-cpu')!.verdict, 'not run');
  assert.equal(noSidecar.get('rss-peak')!.verdict, 'not run');
  // h2load failed every round through the sidecar (NaN rps): not a verdict
  const failed = { ...i, h2: i.h2.map((t) => (t.id === 'grpc-sidecar' ? { ...t, runs: t.runs.map((r) => ({ ...r, rps: NaN, cpuUsPerRequest: NaN, failed: -1 })) } : t)) };
  assert.equal(verdicts(failed).get('grpc-throughput')!.verdict, 'not run');
  // one runtime missing: not run, naming it, the others' figures still shown
  const rt = verdicts(input({ runtimes: [{ major: 20, version: 'v20.20.2', targetId: 'clew-sidecar' }, { major: 22, notRun: 'no Node.js 22 installed' }, { major: 24, version: 'v24.22.3', targetId: 'clew-sidecar' }] })).get('node-runtimes')!;
  assert.equal(rt.verdict, 'not run');
  assert.equal(rt.note, 'not run on Node 22');
  assert.match(rt.measured, /^20 \(v20\.20\.2\): 50 µs, idle 60 MB, p90\/p99 400\/620 µs; 22: not run \(no Node\.js 22 installed\); 24 \(v24\.22\.3\): 50 µs = 1 × Node 20/);
});

test('RSS after the load: back within 20 MB of idle by 60 s passes; still above at 60 s fails; a shorter curve cannot fail', () => {
  const c = (pts: Array<[number, number]>) => ({ samples: pts.map(([t, rssMb]) => ({ t, rssMb })), seconds: pts.at(-1)![0] });
  const ok = recoveryVerdict(60, c([[0, 150], [5, 100], [20, 80], [60, 79]]));
  assert.equal(ok.verdict, 'pass');
  assert.equal(ok.measured, '79 MB after 60 s idle (+19 MB over idle); right after the load 150 MB; within the limit from 20 s');
  assert.equal(ok.limit, '≤ 80 MB (idle 60 MB + 20) by 60 s');
  assert.equal(recoveryVerdict(60, c([[0, 150], [30, 95], [60, 80.1]])).verdict, 'FAIL');
  // back only after 60 s: too late
  assert.equal(recoveryVerdict(60, c([[0, 150], [60, 81], [70, 75]])).verdict, 'FAIL');
  const short = recoveryVerdict(60, c([[0, 150], [15, 90]]));
  assert.equal(short.verdict, 'not run');
  assert.match(short.note!, /sampled for 15 s only/);
  // a short curve that is already back passes
  assert.equal(recoveryVerdict(60, c([[0, 90], [10, 70]])).verdict, 'pass');
  assert.equal(recoveryVerdict(undefined, c([[0, 90]])).verdict, 'not run');
  assert.equal(recoveryVerdict(60, undefined).verdict, 'not run');
});

test('soak: the 30-minute run\'s growth after 5 minutes < 5 MB, with its date and commit; short, failed or absent soaks are not run', () => {
  const file = (result: SoakResult): SoakEntry => ({ source: 'file', file: 'bench/results-soak.json', result });
  const pass = soakVerdict(file(SOAK));
  assert.equal(pass.verdict, 'pass');
  assert.equal(pass.measured, '+4.9 MB');
  assert.match(pass.note!, /^bench\/results-soak\.json of an earlier run: 2026-12-08T03:00:00\.000Z, commit abc1234, v20\.20\.2; 30 min at 1000 rps, 1800000 requests, 0 failed;.*curve: bench\/soak-rss\.png$/);
  assert.equal(soakVerdict(file({ ...SOAK, growthAfter5MinMb: 5 })).verdict, 'FAIL');
  assert.match(soakVerdict({ source: 'run', file: 'x', result: SOAK }).note!, /^this run: /);
  const short = soakVerdict(file({ ...SOAK, minutes: 10, growthAfter5MinMb: 1 }));
  assert.equal(short.verdict, 'not run');
  assert.match(short.note!, /a 10-minute soak, the target needs 30/);
  assert.equal(soakVerdict({ source: 'run', file: 'x', error: 'soak-memory exited 1: boom' }).measured, 'not run: soak-memory exited 1: boom');
  assert.equal(soakVerdict({ source: 'absent', file: 'bench/results-soak.json' }).verdict, 'not run');
  assert.equal(soakVerdict(undefined).verdict, 'not run');
});

test('results-soak.json: read from the checkout when present, "absent" when not, a missing field named', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-verdicts-soak-'));
  try {
    assert.deepEqual(readSoak(dir, 'file'), { source: 'absent', file: 'bench/results-soak.json' });
    fs.mkdirSync(path.join(dir, 'bench'));
    fs.writeFileSync(path.join(dir, 'bench', 'results-soak.json'), JSON.stringify(SOAK));
    const e = readSoak(dir, 'file');
    assert.equal(e.source, 'file');
    assert.equal(e.result!.growthAfter5MinMb, 4.9);
    const { growthAfter5MinMb: _g, ...partial } = SOAK;
    fs.writeFileSync(path.join(dir, 'bench', 'results-soak.json'), JSON.stringify(partial));
    assert.equal(readSoak(dir, 'file').error, 'bench/results-soak.json: field growthAfter5MinMb is missing');
    assert.throws(() => parseSoak(JSON.stringify({ ...SOAK, minutes: '30' }), 'f.json'), /f\.json: field minutes is not a number \("30"\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--soak-minutes: runs dist/bench/soak-memory.js --minutes N --write and reads what it wrote; a tree without the script says so', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-verdicts-soakrun-'));
  const lines: string[] = [];
  try {
    const missing = await runSoak(30, (l) => lines.push(l), dir);
    assert.equal(missing.result, undefined);
    assert.match(missing.error!, /bench\/soak-memory\.ts is not in this tree/);
    // a stand-in with the contract's command line: it writes the file from its arguments
    fs.mkdirSync(path.join(dir, 'dist', 'bench'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'bench'));
    fs.writeFileSync(path.join(dir, 'dist', 'bench', 'soak-memory.js'), `
const fs = require('node:fs'), path = require('node:path');
const a = process.argv.slice(2);
if (!a.includes('--write')) process.exit(3);
const minutes = Number(a[a.indexOf('--minutes') + 1]);
fs.writeFileSync(path.join(__dirname, '..', '..', 'bench', 'results-soak.json'), JSON.stringify({ ...${JSON.stringify(SOAK)}, minutes }));
`);
    const ran = await runSoak(7, (l) => lines.push(l), dir);
    assert.equal(ran.source, 'run');
    assert.equal(ran.result!.minutes, 7);
    assert.equal(soakVerdict(ran).verdict, 'not run');
    // a soak that fails: its exit status and last words, no result
    fs.writeFileSync(path.join(dir, 'dist', 'bench', 'soak-memory.js'), 'console.error("sidecar died"); process.exit(1);');
    const failed = await runSoak(30, (l) => lines.push(l), dir);
    assert.equal(failed.error, 'soak-memory exited 1: sidecar died');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--runtimes: majors in order, none, bad input named', () => {
  assert.deepEqual(parseRuntimes(undefined), [20, 22, 24]);
  assert.deepEqual(parseRuntimes('24,v22,24'), [24, 22]);
  assert.deepEqual(parseRuntimes('none'), []);
  assert.throws(() => parseRuntimes('22,latest'), /--runtimes 22,latest: expected majors/);
});

test('report: the issue-22 table with figure, limit and verdict per row; h2 floors beside the sidecar; runtimes side by side; old results still render', () => {
  const i = input({ grpcCpu: 90 });
  const r: Results = {
    date: 'd', quick: true, machine: {}, tools: {}, settings: {}, foreignCpu: { meanPct: 0, maxPct: 0, runsOver5Pct: 0, runs: 0 }, notes: [],
    targets: i.targets, summary: i.summary, h2: i.h2, bareNode: i.bareNode, checks: [], soak: i.soak, runtimes: i.runtimes, verdicts: evaluateIssue22(i),
  };
  const md = renderResults(r);
  const line = (start: string) => md.split('\n').find((l) => l.startsWith(start));
  assert.match(md, /## Issue 22 targets \(each against the floor measured beside it\)\n\n11 pass, 1 FAIL, 0 not run\./);
  assert.equal(line('| unary gRPC through one sidecar: CPU'), '| unary gRPC through one sidecar: CPU per request ≤ 1.5 × the sidecar\'s HTTP/1.1 CPU per request (h2load vs wrk, same run) | 90 µs (1.8 × HTTP/1.1) | ≤ 75 µs (1.5 × 50 µs) | **FAIL** | Node\'s h2 floor, same run: TCP relay (h2 bytes) 35 µs, node:http2 proxy 50 µs (sidecar 1.8 × that) |');
  // the three runtimes point at the same target here: the same figures in each column
  assert.equal(line('| CPU µs / request (wrk -c64)'), '| CPU µs / request (wrk -c64) | 50 | 50 | 50 |');
  assert.equal(line('| grpc h2-proxy'), '| grpc h2-proxy | 11000 | 0.69 | 1 | 50 | 0.56 | – | 0 |');
  assert.equal(line('| h2 sidecar'), '| h2 sidecar | 12000 | 0.6 | 1 | 70 |  | – | 0 |');
  const withPeak = renderResults({ ...r, h2: input({ h2Peak: 88.8 }).h2 });
  assert.ok(withPeak.includes('| h2 sidecar | 12000 | 0.6 | 1 | 70 |  | 88.8 | 0 |'));
  assert.equal(line('| clew-sidecar | 60 | 110'), '| clew-sidecar | 60 | 110 | – | – | 75 | 70 (60 s) | +10 | 0: 110, 1: 105, 30: 75, 60: 70 |');
  // results from before the table: no verdict section, the old h2 rows (viaSidecar only) still render
  const old = renderResults({ ...r, verdicts: undefined, runtimes: undefined, targets: r.targets.map((t) => ({ ...t, recovery: undefined })), h2: r.h2.filter((t) => t.via === 'direct' || t.via === 'sidecar').map(({ via: _v, ...t }) => t) });
  assert.doesNotMatch(old, /Issue 22 targets|each Node\.js runtime|Memory after the load/);
  assert.match(old, /\| grpc sidecar \| 8000 \| 0\.5 \|/);
});

test('h2-proxy passes HTTP/2 GETs and unary gRPC (body, headers, grpc-status trailers) through one upstream session', async () => {
  const sessions = new Set<http2.ServerHttp2Session>();
  const up = http2.createServer();
  up.on('session', (s) => sessions.add(s));
  up.on('stream', (stream, headers) => {
    if (String(headers['content-type']).startsWith('application/grpc')) {
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-up': 'yes' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' }));
        stream.end(Buffer.concat(chunks));
      });
    } else stream.respond({ ':status': 200, 'x-path': String(headers[':path']), 'x-auth': String(headers[':authority']) }, { endStream: false }), stream.end('hello');
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const port = await freePort();
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/h2-proxy.js');
  const proxy = spawn(process.execPath, [script, '--port', String(port), '--upstream-port', String((up.address() as AddressInfo).port)], { stdio: 'ignore' });
  let client: http2.ClientHttp2Session | undefined;
  const call = (headers: http2.OutgoingHttpHeaders, body?: Buffer) => new Promise<{ headers: http2.IncomingHttpHeaders; trailers?: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const s = client!.request(headers);
    let rh: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    s.on('response', (h) => (rh = h)).on('trailers', (t) => (trailers = t)).on('data', (d: Buffer) => chunks.push(d)).on('error', reject);
    s.on('end', () => resolve({ headers: rh, trailers, body: Buffer.concat(chunks) }));
    s.end(body);
  });
  try {
    await waitForPort('127.0.0.1', port, 5000);
    client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => undefined);
    const get = await Promise.all([1, 2, 3].map((n) => call({ ':path': `/x/${n}`, ':authority': 'svc:8001' })));
    assert.deepEqual(get.map((g) => [g.headers[':status'], g.headers['x-path'], g.headers['x-auth'], String(g.body)]), [1, 2, 3].map((n) => [200, `/x/${n}`, 'svc:8001', 'hello']));
    const msg = Buffer.from([0, 0, 0, 0, 5, 0x0a, 0x03, 0x61, 0x62, 0x63]);
    const g = await call({ ':method': 'POST', ':path': '/bench.Echo/Echo', 'content-type': 'application/grpc', te: 'trailers' }, msg);
    assert.equal(g.headers['x-up'], 'yes');
    assert.ok(g.body.equals(msg));
    assert.equal(g.trailers?.['grpc-status'], '0');
    assert.equal(g.trailers?.['grpc-message'], 'fine');
    // all of it over one upstream session
    assert.equal(sessions.size, 1);
  } finally {
    client?.close();
    proxy.kill();
    for (const s of sessions) s.destroy();
    up.close();
  }
});
