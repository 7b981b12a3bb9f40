import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMeter, schedstatSeconds } from '../../bench/bench-cpu.js';
import { memBreakdown, parseSmapsRollup } from '../../bench/bench-mem.js';
import { renderResults } from '../../bench/bench-report.js';
import { cpuAccounting, evaluate, summarize, type RateRun, type Results, type TargetRuns, type WrkRun } from '../../bench/bench-results.js';
import { waitForPort } from '../../bench/bench-util.js';

// /proc/<pid>/smaps_rollup of a bare node 20 process (Linux 6.x)
const ROLLUP = `55d0c6a8e000-7ffc5b5f4000 ---p 00000000 00:00 0                          [rollup]
Rss:               41472 kB
Pss:               38913 kB
Pss_Dirty:          7652 kB
Pss_Anon:           7640 kB
Pss_File:          31261 kB
Pss_Shmem:            12 kB
Shared_Clean:       2816 kB
Shared_Dirty:          0 kB
Private_Clean:     30988 kB
Private_Dirty:      7668 kB
Referenced:        41472 kB
Anonymous:          7640 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
`;

test('smaps_rollup: RSS split into anonymous and file-backed pages (Rss − Anonymous), not Pss or AnonHugePages', () => {
  const m = parseSmapsRollup(ROLLUP)!;
  assert.equal(m.rssMb, 41472 / 1024);
  assert.equal(m.anonMb, 7640 / 1024);
  assert.equal(m.fileMb, (41472 - 7640) / 1024);
  assert.equal(parseSmapsRollup('Pss: 10 kB\nAnonymous: 5 kB\n'), undefined);
  assert.equal(parseSmapsRollup(''), undefined);
});

test('memBreakdown reads this process and sums processes; gone processes are skipped', () => {
  const self = memBreakdown([process.pid])!;
  assert.ok(self.anonMb > 1 && self.fileMb > 1, JSON.stringify(self));
  assert.ok(Math.abs(self.anonMb + self.fileMb - self.rssMb) < 1e-9);
  // a pid above pid_max never exists
  assert.equal(memBreakdown([2 ** 30]), undefined);
  const twice = memBreakdown([process.pid, process.pid, 2 ** 30])!;
  assert.ok(twice.rssMb > 1.5 * self.rssMb && twice.rssMb < 2.5 * self.rssMb);
});

test('cpu meter: schedstat run time agrees with utime+stime ticks over a busy interval', () => {
  assert.equal(schedstatSeconds(2 ** 30), undefined);
  const meter = cpuMeter([process.pid]);
  // 300 ms of this thread's CPU, however busy the machine is
  const c0 = process.cpuUsage();
  let x = 0;
  for (;;) {
    for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + i);
    const c = process.cpuUsage(c0);
    if (c.user + c.system >= 300_000) break;
  }
  const use = meter.stop();
  assert.ok(x > 0);
  assert.equal(use.source, 'schedstat');
  assert.ok(use.seconds >= 0.29 && use.seconds < 0.6, `schedstat ${use.seconds} s`);
  // ticks truncate to 10 ms at both ends
  assert.ok(Math.abs(use.tickSeconds - use.seconds) <= 0.021, `ticks ${use.tickSeconds} s vs schedstat ${use.seconds} s`);
  // no process readable: the tick figure (0) is used
  assert.deepEqual(cpuMeter([2 ** 30]).stop(), { seconds: 0, tickSeconds: 0, source: 'ticks' });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

test('tcp-relay passes keep-alive requests and large bodies through, one upstream connection per downstream one', async () => {
  const upstreamSockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    upstreamSockets.add(req.socket);
    if (req.method === 'POST') req.pipe(res);
    else res.end(`${req.method} ${req.url} ${req.headers.host}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const upPort = (server.address() as AddressInfo).port;
  const port = await freePort();
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/tcp-relay.js');
  const relay = spawn(process.execPath, [script, '--port', String(port), '--upstream-port', String(upPort)], { stdio: 'ignore' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const call = (p: string, body?: Buffer) => new Promise<Buffer>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method: body ? 'POST' : 'GET', agent, headers: { host: 'svc:8000' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d)).on('end', () => resolve(Buffer.concat(chunks)));
    });
    req.on('error', reject);
    req.end(body);
  });
  try {
    await waitForPort('127.0.0.1', port, 5000);
    const paths = ['/a', '/b', '/c', '/d', '/e', '/f'];
    const bodies = await Promise.all(paths.map((p) => call(p)));
    assert.deepEqual(bodies.map(String), paths.map((p) => `GET ${p} svc:8000`));
    // two client connections through the relay: two upstream connections, reused
    assert.equal(upstreamSockets.size, 2);
    // 8 MiB each way, more than a socket buffers: through the relay's pause/resume path, intact
    const big = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    assert.ok((await call('/echo', big)).equals(big));
  } finally {
    agent.destroy();
    relay.kill();
    server.close();
  }
});

function wrkRun(rps: number, cpuUs: number, tickRatio = 1): WrkRun {
  const cpu = (rps * 10 * cpuUs) / 1e6;
  return { requests: rps * 10, seconds: 10, rps, latencyMs: { p50: 1, p90: 2, p99: 3 }, non2xx: 0, socketErrors: 0, round: 0, foreignCpuPct: 0, cpuSeconds: cpu, cpuTickSeconds: cpu * tickRatio, cpuSource: 'schedstat', cpuUsPerRequest: cpuUs, rssPeakMb: 50 };
}

function rateRun(p90: number, vcpu: number): RateRun {
  return { tool: 'fixed-rate-load', requests: 10000, rps: 1000, p50: p90 / 2, p90, p99: p90 * 2, errors: 0, round: 0, foreignCpuPct: 0, seconds: 10, cpuSeconds: vcpu * 10, cpuTickSeconds: vcpu * 10, cpuSource: 'schedstat', vcpuPer1000Rps: vcpu };
}

function target(id: string, proxies: number, rps: number, cpuUs: number, p90: number, mem?: { rssMb: number; anonMb: number; fileMb: number }): TargetRuns {
  return { id, label: id, kind: id.startsWith('clew') ? 'clew' : id.startsWith('node-tcp') ? 'floor' : proxies ? 'peer' : 'baseline', proxies, rssIdleMb: mem?.rssMb ?? NaN, memIdle: mem, wrk: [wrkRun(rps, cpuUs)], fixedRate: [rateRun(p90, 0.1 * proxies)], hey: [] };
}

const BARE = { command: 'node --max-semi-space-size=32 -e \'setInterval(()=>{},1e9)\'', idle: { rssMb: 40.5, anonMb: 7.5, fileMb: 33 } };

function runs(meshP90: number, floorMeshP90: number): TargetRuns[] {
  return [
    target('direct', 0, 30000, 0, 200),
    target('clew-sidecar', 1, 21000, 45, 500, { rssMb: 66, anonMb: 30, fileMb: 36 }),
    target('clew-mesh', 2, 12000, 90, 200 + meshP90),
    target('haproxy', 1, 28000, 20, 340),
    target('node-tcp-relay', 1, 26000, 18, 330),
    target('node-tcp-relay-x2', 2, 20000, 36, 200 + floorMeshP90),
  ];
}

test('mesh check: the two-relay floor of the same run and the ratio to it are stated; pass/fail stays 2 × HAProxy', () => {
  // HAProxy adds 140 µs: limit 280. Mesh adds 600, two relays 250
  const failing = evaluate(summarize(runs(600, 250)), undefined, BARE).find((c) => c.id === 'mesh-added-p90')!;
  assert.equal(failing.pass, false);
  assert.match(failing.measured, /^600 µs vs limit 280 µs \(HAProxy adds 140 µs\); p99 adds /);
  assert.match(failing.measured, /two chained TCP relays add 250 µs at p90 \(89 % of the limit\); Clew's mesh path adds 2\.4 × that$/);
  // under the limit it passes, whatever the floor
  const passing = evaluate(summarize(runs(270, 300)), undefined, BARE).find((c) => c.id === 'mesh-added-p90')!;
  assert.equal(passing.pass, true);
  assert.match(passing.measured, /relays add 300 µs at p90 \(107 % of the limit\); Clew's mesh path adds 0\.9 × that/);
  // a floor that adds nothing measurable: no ratio
  const flat = evaluate(summarize(runs(600, 0)), undefined, BARE).find((c) => c.id === 'mesh-added-p90')!;
  assert.match(flat.measured, /relays add 0 µs at p90 .*too little to compare Clew with/);
  // without the floor targets the row is what it was
  const noFloor = evaluate(summarize(runs(600, 250).filter((t) => !t.id.startsWith('node-tcp'))), undefined).find((c) => c.id === 'mesh-added-p90')!;
  assert.doesNotMatch(noFloor.measured, /floor/);
  assert.equal(noFloor.pass, false);
});

test('RSS check: the note says what the sidecar adds over bare node, in RSS and anonymous pages; the bar is still 40 MB', () => {
  const rss = evaluate(summarize(runs(600, 250)), undefined, BARE).find((c) => c.id === 'sidecar-rss-idle')!;
  assert.equal(rss.pass, false);
  assert.equal(rss.measured, '66 MB');
  assert.match(rss.note!, /^Istio 60 MB, Linkerd about 20 MB; bare node \(`node --max-semi-space-size=32 -e 'setInterval\(\(\)=>\{\},1e9\)'`\) idles at 40\.5 MB RSS \(7\.5 MB anonymous, 33 MB file-backed\); Clew's sidecar adds 25\.5 MB RSS over it, 22\.5 MB of it anonymous/);
  const without = evaluate(summarize(runs(600, 250)), undefined).find((c) => c.id === 'sidecar-rss-idle')!;
  assert.equal(without.note, 'Istio 60 MB, Linkerd about 20 MB');
});

test('cpu accounting: tick figures compared with schedstat over the proxies\' runs', () => {
  const t = runs(600, 250);
  t[1].wrk = [wrkRun(21000, 45, 1.02)];
  t[3].fixedRate[0] = { ...t[3].fixedRate[0], cpuSource: 'ticks', cpuTickSeconds: undefined };
  const a = cpuAccounting(t);
  assert.equal(a.schedstatRuns, 9);
  assert.equal(a.tickRuns, 1);
  // the sidecar's wrk run: 9.45 s by schedstat, 9.639 s by ticks
  assert.ok(Math.abs(a.maxDiffSeconds - 0.189) < 1e-9, String(a.maxDiffSeconds));
  assert.ok(a.ticksOverSchedstat > 1 && a.ticksOverSchedstat < 1.02);
});

test('report: floor rows next to Clew, memory breakdown with the bare node row, CPU accounting in the method', () => {
  const t = runs(600, 250);
  const summary = summarize(t);
  const r: Results = {
    date: 'd', quick: true, machine: {}, tools: {}, settings: {}, foreignCpu: { meanPct: 0, maxPct: 0, runsOver5Pct: 0, runs: 0 }, notes: [],
    targets: t, summary, h2: [], bareNode: { ...BARE, after: { rssMb: 40.6, anonMb: 7.6, fileMb: 33 } }, cpuAccounting: cpuAccounting(t), checks: evaluate(summary, undefined, BARE),
  };
  const md = renderResults(r);
  const line = (start: string) => md.split('\n').find((l) => l.startsWith(start));
  // sidecar adds 300 µs at p90, one relay 130: 170 more, 2.31 ×
  assert.equal(line('| one hop (sidecar vs one relay): adds p90'), '| one hop (sidecar vs one relay): adds p90 µs at 1000 rps | 300 | 130 | 170 | 2.31 |');
  assert.equal(line('| mesh path (2 sidecars vs 2 relays): adds p90'), '| mesh path (2 sidecars vs 2 relays): adds p90 µs at 1000 rps | 600 | 250 | 350 | 2.4 |');
  assert.equal(line('| mesh path (2 sidecars vs 2 relays): CPU'), '| mesh path (2 sidecars vs 2 relays): CPU µs / request (wrk) | 90 | 36 | 54 | 2.5 |');
  assert.equal(line('| idle anonymous MB'), '| idle anonymous MB (sidecar vs bare node) | 30 | 7.5 | 22.5 | 4 |');
  assert.equal(line('| bare node:'), '| bare node: `node --max-semi-space-size=32 -e \'setInterval(()=>{},1e9)\'` | 40.5 | 7.5 | 33 | 40.6 | 7.6 | 33 |');
  assert.equal(line('| clew-sidecar | 66 | 30 | 36 |'), '| clew-sidecar | 66 | 30 | 36 | – | – | – |');
  assert.match(line('- CPU accounting:')!, /schedstat \(ns\).*Over the 10 runs here the tick figures sum to 1 × the schedstat ones/);
  assert.match(md, /CPU per request: the proxy processes' run time of all threads \(\/proc\/<pid>\/task\/\*\/schedstat, ns\) during the wrk run/);
  // results from before this change (no floor, no breakdown, no accounting) still render
  const old = renderResults({ ...r, bareNode: undefined, cpuAccounting: undefined, targets: t.slice(0, 4), summary: summary.slice(0, 4).map((s) => ({ ...s, memIdle: undefined })) });
  assert.doesNotMatch(old, /Node's own floor|smaps_rollup|CPU accounting/);
  assert.match(old, /utime\+stime \(\/proc\/<pid>\/stat, in clock ticks\)/);
});
