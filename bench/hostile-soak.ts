/**
 * Hostile soak (issue 23, "Must show" 3): a mixed hostile load beside 200 rps of normal traffic
 * through a Clew mesh for 10 minutes; the normal traffic must see no failed request, no proxy may
 * die, and the proxies' RSS must stay bounded.
 *
 * The mesh is the benchmark's (bench-clew.ts: control plane, a client sidecar, a server sidecar in
 * front of the upstream; Istio's default telemetry plus a file access log, so metrics, tracing and
 * the access log all see the hostile input), with a regex route `^/api/(a+)+$` on bench-mesh. A
 * second upstream listens on every loopback address for passthrough traffic.
 *   normal:  soak-normal-load.ts → client sidecar (outbound) → server sidecar (inbound) → upstream
 *   hostile: soak-hostile-load.ts → the client sidecar's outbound and the server sidecar's inbound
 * Every 5 s: both sidecars' and the control plane's RSS, the client sidecar's overflow counters,
 * how long a Prometheus scrape of it takes, and both loads' counters.
 *
 *   node dist/bench/hostile-soak.js [--minutes 10] [--short] [--rps 200] [--idle 2000] [--write]
 * `--short` is a 90-second run. `--write` saves bench/RESULTS-hostile-soak.md (a short run:
 * bench/out/RESULTS-hostile-soak-short.md). Exit status 1 when a check fails.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { startClew, type ClewSetup } from './bench-clew.js';
import { startUpstream } from './bench-peers.js';
import { rssMb, spawnPinned, type Pinned } from './bench-proc.js';
import { freePortOn, repoRoot, runIfMain, sleep, waitForPort } from './bench-util.js';
import type { NormalReport } from './soak-normal-load.js';
import type { HostileReport } from './soak-hostile-load.js';

const REGEX_ROUTE = `---
# the hostile-input suite's catastrophic-backtracking route (issue 23 item 3)
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench-mesh, namespace: default}
spec:
  hosts: [bench-mesh]
  http:
  - match:
    - uri: {regex: '^/api/(a+)+$'}
    route:
    - destination: {host: bench-mesh, port: {number: 8000}}
  - route:
    - destination: {host: bench-mesh, port: {number: 8000}}
`;

/** normal traffic alone before the hostile load starts */
const WARMUP_MS = 10_000;

interface Options { minutes: number; short: boolean; rps: number; idle: number; write: boolean }

function options(argv: string[]): Options {
  const get = (n: string): string | undefined => {
    const i = argv.indexOf(n);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const short = argv.includes('--short');
  return {
    short,
    minutes: Number(get('--minutes') ?? (short ? 1.5 : 10)),
    rps: Number(get('--rps') ?? 200),
    idle: Number(get('--idle') ?? (short ? 500 : 2000)),
    write: argv.includes('--write'),
  };
}

interface Sample {
  t: number;
  rss: { client: number; server: number; controlPlane: number };
  scrapeMs: number;
  scrapeBytes: number;
  overflow: Record<string, number>;
  /** a landing (whole suite) held /tmp/clew-land.lock at this sample: the run was disturbed */
  landing: boolean;
  normal?: NormalReport;
  hostile?: HostileReport;
}

/** A load child: its JSON lines go to `onLine`; resolves with the last line when it exits. */
function child<T>(script: string, args: string[], log: string, onLine: (v: T) => void): { proc: ChildProcess; last: Promise<T | undefined> } {
  const proc = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'bench', script), ...args], { stdio: ['ignore', 'pipe', fs.openSync(log, 'a')] });
  let last: T | undefined;
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    try {
      last = JSON.parse(l) as T;
      onLine(last);
    } catch {
      // not a report line
    }
  });
  return { proc, last: new Promise((r) => proc.once('exit', () => setTimeout(() => r(last), 50))) };
}

async function adminStats(adminUrl: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const r = await request(`${adminUrl}/stats`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
    for (const line of (await r.body.text()).split('\n')) {
      const i = line.lastIndexOf(': ');
      if (i > 0) out.set(line.slice(0, i), Number(line.slice(i + 2)));
    }
  } catch {
    // counted as a missing sample
  }
  return out;
}

async function timedScrape(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  try {
    const r = await request(url, { headersTimeout: 30_000, bodyTimeout: 30_000 });
    const text = await r.body.text();
    return { ms: performance.now() - t0, bytes: text.length };
  } catch {
    return { ms: -1, bytes: 0 };
  }
}

/** Whether another session's landing (the whole suite) holds the shared landing lock now. */
function landingRunning(): boolean {
  if (!fs.existsSync(LAND_LOCK)) return false;
  return spawnSync('flock', ['-n', LAND_LOCK, 'true']).status === 1;
}
const LAND_LOCK = '/tmp/clew-land.lock';

const alive = (p: Pinned): boolean => p.child.exitCode === null && p.child.signalCode === null;

export async function hostileSoak(o: Options): Promise<boolean> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-hostile-soak-'));
  const started: Pinned[] = [];
  const kids: ChildProcess[] = [];
  let clew: ClewSetup | undefined;
  const log = (m: string) => process.stderr.write(`[hostile-soak ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  try {
    const up = await startUpstream(workDir);
    started.push(up.proc);
    const ptPort = await freePortOn('127.0.0.1');
    const pt = spawnPinned('passthrough-upstream', undefined, process.execPath, [path.join(repoRoot(), 'dist', 'bench', 'bench-upstream.js'), '--http-port', String(ptPort), '--host', '0.0.0.0'], path.join(workDir, 'passthrough-upstream.log'));
    started.push(pt);
    await waitForPort('127.0.0.1', ptPort, 10_000);
    log('starting the control plane and two sidecars');
    clew = await startClew({ workDir, upstreams: up, telemetry: 'log', extraConfig: REGEX_ROUTE });
    const c = clew;
    const outbound = new URL(c.outboundUrl);
    const serverAddr = new URL(c.statsUrls.server).hostname;
    const samples: Sample[] = [];
    let lastNormal: NormalReport | undefined;
    let lastHostile: HostileReport | undefined;
    const durationMs = o.minutes * 60_000;
    const sampleNow = async (t: number): Promise<Sample> => {
      const stats = await adminStats(c.adminUrls.client);
      const overflow: Record<string, number> = {};
      for (const [k, v] of stats) if (k.startsWith('clew.overflow.') && v > 0) overflow[k.slice('clew.overflow.'.length)] = v;
      const scrape = await timedScrape(c.statsUrls.client);
      return {
        t, rss: { client: rssMb([c.client.pid]), server: rssMb([c.server.pid]), controlPlane: rssMb([c.controlPlane.pid]) },
        scrapeMs: Math.round(scrape.ms), scrapeBytes: scrape.bytes, overflow, landing: landingRunning(), normal: lastNormal, hostile: lastHostile,
      };
    };
    const base = await sampleNow(0);
    log(`baseline RSS: client ${base.rss.client.toFixed(1)} MB, server ${base.rss.server.toFixed(1)} MB; running ${o.minutes} min`);
    const normal = child<NormalReport>('soak-normal-load.js', ['--url', c.outboundUrl, '--host', c.hosts.mesh, '--rps', String(o.rps), '--connections', '8', '--report-ms', '5000'],
      path.join(workDir, 'normal-load.log'), (r) => { lastNormal = r; });
    kids.push(normal.proc);
    // the normal traffic warms up alone (connections, JIT) before the attack starts
    await sleep(WARMUP_MS);
    const hostile = child<HostileReport>('soak-hostile-load.js', [
      '--outbound', `${outbound.hostname}:${outbound.port}`, '--inbound', `${serverAddr}:8080`, '--authority', c.hosts.mesh,
      '--passthrough-port', String(ptPort), '--service-port', '8000', '--idle', String(o.idle), '--report-ms', '5000',
    ], path.join(workDir, 'hostile-load.log'), (r) => { lastHostile = r; });
    kids.push(hostile.proc);
    const t0 = performance.now();
    let died = '';
    while (performance.now() - t0 < durationMs - WARMUP_MS) {
      await sleep(5000);
      const s = await sampleNow(Math.round(performance.now() - t0));
      samples.push(s);
      const n = s.normal;
      const h = s.hostile;
      log(`t=${(s.t / 1000).toFixed(0)}s rss client ${s.rss.client.toFixed(1)} server ${s.rss.server.toFixed(1)} MB; normal ok ${n?.ok ?? 0} failed ${n?.failed ?? 0} p99 ${n?.interval.p99 ?? 0} ms; ` +
        `hostile malformed ${h?.malformed.sent ?? 0} hosts ${h?.hosts.sent ?? 0} idle ${h?.idle.open ?? 0}; scrape ${s.scrapeMs} ms`);
      for (const p of [c.client, c.server, c.controlPlane]) if (!alive(p)) died += `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}); `;
      if (died) break;
    }
    normal.proc.kill('SIGTERM');
    hostile.proc.kill('SIGTERM');
    const [nFinal, hFinal] = await Promise.all([normal.last, hostile.last]);
    const end = await sampleNow(Math.round(performance.now() - t0));
    const accessLog = path.join(workDir, 'access.log');
    const accessLogBytes = fs.existsSync(accessLog) ? fs.statSync(accessLog).size : 0;
    const verdict = judge(o, base, samples, end, nFinal, died);
    const md = render(o, base, samples, end, nFinal, hFinal, verdict, accessLogBytes, died);
    process.stdout.write(md);
    if (o.write) {
      const file = o.short ? path.join(repoRoot(), 'bench', 'out', 'RESULTS-hostile-soak-short.md') : path.join(repoRoot(), 'bench', 'RESULTS-hostile-soak.md');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, md);
      log(`wrote ${path.relative(repoRoot(), file)}`);
    }
    if (died) for (const p of [c.client, c.server, c.controlPlane]) log(`${p.name} log tail:\n${tail(path.join(workDir, `${p.name}.log`))}`);
    return verdict.pass;
  } finally {
    for (const k of kids) if (k.exitCode === null) k.kill('SIGKILL');
    await clew?.stop();
    for (const p of started.reverse()) await p.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '(no log)';
  }
}

interface Verdict { pass: boolean; checks: Array<{ what: string; ok: boolean; detail: string }>; growth: { client: number; server: number } }

/**
 * RSS is bounded when the peak over the last third of the run is within max(16 MB, 10 %) of the
 * peak over the middle third (the first third is the warm-up: pools, caches and series filling to
 * their bounds, the young generation growing to its size).
 */
function judge(o: Options, base: Sample, samples: Sample[], end: Sample, n: NormalReport | undefined, died: string): Verdict {
  const third = Math.max(1, Math.floor(samples.length / 3));
  const mid = samples.slice(third, 2 * third);
  const last = samples.slice(2 * third);
  const peak = (ss: Sample[], k: 'client' | 'server') => Math.max(0, ...ss.map((s) => s.rss[k]));
  const growth = { client: peak(last, 'client') - peak(mid, 'client'), server: peak(last, 'server') - peak(mid, 'server') };
  const allowed = (k: 'client' | 'server') => Math.max(16, peak(mid, k) * 0.1);
  const checks = [
    { what: 'no proxy or control plane exited', ok: !died, detail: died || 'all three ran to the end' },
    { what: 'normal traffic: no failed request', ok: !!n && n.failed === 0 && n.ok > 0, detail: n ? `${n.ok} ok, ${n.failed} failed ${JSON.stringify(n.reasons)}` : 'no report' },
    { what: `normal traffic: ${o.rps} rps sustained`, ok: !!n && n.sent >= o.rps * o.minutes * 60 * 0.95, detail: n ? `${n.sent} sent in ${(n.t / 1000).toFixed(0)} s` : 'no report' },
    { what: 'client sidecar RSS bounded (last third vs middle third)', ok: growth.client <= allowed('client'), detail: `${growth.client >= 0 ? '+' : ''}${growth.client.toFixed(1)} MB (allowed ${allowed('client').toFixed(1)})` },
    { what: 'server sidecar RSS bounded (last third vs middle third)', ok: growth.server <= allowed('server'), detail: `${growth.server >= 0 ? '+' : ''}${growth.server.toFixed(1)} MB (allowed ${allowed('server').toFixed(1)})` },
    { what: 'every Prometheus scrape answered', ok: [...samples, end].every((s) => s.scrapeMs >= 0), detail: `slowest ${Math.max(...[...samples, end].map((s) => s.scrapeMs))} ms, largest ${Math.max(...[...samples, end].map((s) => s.scrapeBytes))} bytes (baseline ${base.scrapeBytes})` },
  ];
  return { pass: checks.every((c) => c.ok), checks, growth };
}

function render(o: Options, base: Sample, samples: Sample[], end: Sample, n: NormalReport | undefined, h: HostileReport | undefined, v: Verdict, accessLogBytes: number, died: string): string {
  const L: string[] = [];
  const mb = (x: number) => x.toFixed(1);
  L.push(`# Hostile soak (issue 23, Must show 3)${o.short ? ' — short run' : ''}`, '');
  L.push(`Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}, ` +
    `${o.minutes} min; machine shared with other jobs. Command: \`node dist/bench/hostile-soak.js${o.short ? ' --short' : ` --minutes ${o.minutes}`} --rps ${o.rps} --idle ${o.idle} --write\`.`, '');
  L.push(`Result: **${v.pass ? 'PASS' : 'FAIL'}**${died ? ` (${died})` : ''}`, '');
  const disturbed = samples.filter((s) => s.landing).length;
  L.push(`Samples taken while another session's landing (the whole test suite) ran on the machine: ${disturbed} of ${samples.length}.`, '');
  L.push('| check | ok | detail |', '|---|---|---|');
  for (const c of v.checks) L.push(`| ${c.what} | ${c.ok ? 'yes' : '**no**'} | ${c.detail.replace(/\|/g, '/')} |`);
  L.push('', '## Normal traffic', '');
  if (n) {
    L.push(`GET / through client sidecar → server sidecar → upstream (Host bench-mesh:8000), ${o.rps} rps on 8 keep-alive connections (undici Pool, 10 s timeouts).`, '');
    const worst = samples.reduce((w, s) => (s.normal && s.normal.interval.p99 > w.p99 ? { p99: s.normal.interval.p99, t: s.t } : w), { p99: 0, t: 0 });
    L.push(`Sent ${n.sent}, ok ${n.ok}, failed ${n.failed}${n.failed ? ` ${JSON.stringify(n.reasons)}` : ''}. Latency over the run: p50 ${n.overall.p50} ms, p99 ${n.overall.p99} ms, p99.9 ${n.overall.p999} ms, max ${n.overall.max} ms. ` +
      `Worst 5-second interval p99 under attack: ${worst.p99} ms (at t=${(worst.t / 1000).toFixed(0)} s into the attack). The normal traffic ran alone for the first ${WARMUP_MS / 1000} s; the attack ran from then to the end.`);
  }
  L.push('', '## Hostile load (totals)', '');
  if (h) {
    const m = h.malformed;
    L.push(`- Malformed requests (the hostile-input suite's ${'cases'} as raw bytes, one connection each, outbound and inbound in turn): ${m.sent} sent; ` +
      `${m.asExpected} answered as the suite expects, ${m.otherStatus} with another status, ${m.noAnswerClosed} closed without an answer, ${m.hung} left hanging past 5 s, ${m.errors} socket errors. First status: ${JSON.stringify(m.byStatus)}.`);
    const unexpected = Object.entries(m.unexpected).sort((a, b) => b[1] - a[1]).slice(0, 12);
    if (unexpected.length) L.push(`  Outcomes other than the suite's expectation (the suite's mesh differs: it expects a gateway route table; top 12): ${unexpected.map(([k, c]) => `${k} ×${c}`).join('; ')}.`);
    L.push(`- Unique Hosts on the client sidecar's outbound (half passthrough \`127.a.b.c:port\`, half unrouted \`u<n>.example:8000\`): ${h.hosts.sent} sent, ${h.hosts.answered} answered ${JSON.stringify(h.hosts.byStatus)}, ${h.hosts.reconnects} reconnects, ${h.hosts.errors} errors.`);
    L.push(`- Slowloris (headers one byte a second, 40 connections): ${h.slowloris.started} started, ${h.slowloris.answered} answered, ${h.slowloris.closedByProxy} closed by the proxy, ${h.slowloris.errors} stuck or failed.`);
    L.push(`- Slow body (2,000 bytes at 100 bytes a second, 20 connections): ${h.slowBody.started} started, ${h.slowBody.answered} answered, ${h.slowBody.closedByProxy} closed by the proxy, ${h.slowBody.errors} stuck or failed.`);
    L.push(`- Slow readers (100 pipelined requests, responses unread for 20 s, 10 connections): ${h.slowReaders.started} started, ${h.slowReaders.responses} responses read, ${h.slowReaders.closedByProxy} closed by the proxy, ${h.slowReaders.errors} stuck.`);
    L.push(`- Idle connections (half on each listener): ${h.idle.peakOpen} open at the peak, ${h.idle.opened} opened in all, ${h.idle.closedByProxy} closed by the proxy, ${h.idle.errors} refused.`);
  }
  L.push(`- Access log written meanwhile: ${(accessLogBytes / 1048576).toFixed(1)} MB.`);
  const ov = Object.entries(end.overflow);
  L.push(`- Client sidecar overflow counters at the end: ${ov.length ? ov.map(([k, x]) => `clew.overflow.${k} ${x}`).join(', ') : 'none'}.`);
  L.push('', '## RSS over time (MB) and the client sidecar\'s scrape', '');
  L.push('| t (s since the attack started; first row: before any traffic) | client sidecar | server sidecar | control plane | normal ok / failed | normal p99 in the interval (ms) | malformed | unique hosts | idle open | scrape (ms / KB) |', '|---|---|---|---|---|---|---|---|---|---|');
  const row = (s: Sample) => L.push(`| ${(s.t / 1000).toFixed(0)} | ${mb(s.rss.client)} | ${mb(s.rss.server)} | ${mb(s.rss.controlPlane)} | ${s.normal ? `${s.normal.ok} / ${s.normal.failed}` : '-'} | ${s.normal?.interval.p99 ?? '-'} | ${s.hostile?.malformed.sent ?? '-'} | ${s.hostile?.hosts.sent ?? '-'} | ${s.hostile?.idle.open ?? '-'} | ${s.scrapeMs} / ${(s.scrapeBytes / 1024).toFixed(0)} |`);
  row(base);
  const every = o.short ? 2 : 6;
  samples.forEach((s, i) => { if (i % every === every - 1) row(s); });
  row(end);
  const peak = (k: 'client' | 'server') => Math.max(...samples.map((s) => s.rss[k]));
  L.push('', `Peak RSS: client ${mb(peak('client'))} MB, server ${mb(peak('server'))} MB (baseline ${mb(base.rss.client)} / ${mb(base.rss.server)}). ` +
    `Growth of the peak, last third over middle third: client ${mb(v.growth.client)} MB, server ${mb(v.growth.server)} MB.`, '');
  return L.join('\n') + '\n';
}

runIfMain(import.meta.url, async () => {
  const ok = await hostileSoak(options(process.argv.slice(2)));
  process.exit(ok ? 0 : 1);
});
