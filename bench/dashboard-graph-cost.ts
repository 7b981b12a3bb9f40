/**
 * The control plane's CPU per refresh of the dashboard's graph (issue 21, Must show 2: under
 * 50 ms with 200 services). A control plane runs in this process with a generated mesh
 * (test/helpers/scale-mesh.ts: 200 services, their WorkloadEntries, and the Istio metrics of
 * every sidecar fed through the scraper's parser into its window, one scrape per 5 s over the
 * last minutes). A client in another process (so its CPU is not counted) asks
 * `GET /apis/v1/graph?window=...` what the dashboard asks on every refresh, one request at a
 * time. For each request this process's CPU (process.cpuUsage, user + system) is read when the
 * HTTP server starts it and when its response has finished (node:diagnostics_channel
 * http.server.request.start / http.server.response.finish): the control plane does nothing else
 * meanwhile, so the delta is the cost of the real request handling (parse, route, build the
 * graph, serialise, write). Reported: median, p90 and max per window, plus the whole process's
 * CPU over the run divided by the requests (everything, timers included) as a cross-check.
 *
 *   node dist/bench/dashboard-graph-cost.js [--services 200] [--requests 200] [--scrapes 60]
 */
import * as dc from 'node:diagnostics_channel';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ControlPlane } from '../src/control-plane/control-plane.js';
import { API_PATHS } from '../src/api/api-paths.js';
import { feedWindow, generateScaleMesh } from '../test/helpers/scale-mesh.js';
import { percentile, writeResults } from './bench-util.js';

function arg(flag: string, dflt: number): number {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const SERVICES = arg('--services', 200);
const REQUESTS = arg('--requests', 200);
const SCRAPES = arg('--scrapes', 60);
const WINDOWS = ['1m', '5m', '1h'] as const;

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The client: another node process asking for the graph, one request at a time, with a short pause between. */
const CLIENT = `
const [url, n] = process.argv.slice(1);
(async () => {
  let last = '';
  for (let i = 0; i < Number(n); i++) {
    const r = await fetch(url);
    if (r.status !== 200) { console.error('HTTP ' + r.status); process.exit(1); }
    last = await r.text();
    await new Promise((r) => setTimeout(r, 5));
  }
  const g = JSON.parse(last);
  console.log(JSON.stringify({ bytes: Buffer.byteLength(last), nodes: g.nodes.length, edges: g.edges.length }));
})();
`;

interface ClientResult { bytes: number; nodes: number; edges: number }

function runClient(url: string, n: number): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', CLIENT, url, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as ClientResult) : reject(new Error(`client exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'clew-graph-cost-'));
  const configDir = join(dir, 'config');
  mkdirSync(configDir);
  const mesh = generateScaleMesh(SERVICES);
  writeFileSync(join(configDir, 'mesh.yaml'), mesh.yaml);
  const cp = new ControlPlane({ configDir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, publishToken: false, log: () => undefined, metricsScrapeIntervalMs: 3_600_000 });
  try {
    await cp.start();
    const deadline = Date.now() + 30_000;
    while (cp.registry.services().length < SERVICES) {
      if (Date.now() > deadline) throw new Error('the generated services did not load');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1200)); // past the scraper's first round (no proxies connect here)
    const feed = feedWindow(cp.scraper.store, mesh, { scrapes: SCRAPES, intervalMs: 5000, requests: 50 });
    const series = feed.series;
    const rows = cp.scraper.store.rowCount;

    // per request: CPU from the server's start of the request to the end of its response
    const open = new Map<IncomingMessage, number>();
    let samples: number[] = [];
    const onStart = (m: unknown) => open.set((m as { request: IncomingMessage }).request, cpuMs());
    const onFinish = (m: unknown) => {
      const { request } = m as { request: IncomingMessage; response: ServerResponse };
      const t0 = open.get(request);
      if (t0 === undefined) return;
      open.delete(request);
      if (request.url?.startsWith(API_PATHS.graph)) samples.push(cpuMs() - t0);
    };
    dc.subscribe('http.server.request.start', onStart);
    dc.subscribe('http.server.response.finish', onFinish);

    const results: Record<string, unknown> = {};
    const lines: string[] = [];
    for (const w of WINDOWS) {
      const url = `http://127.0.0.1:${cp.debugPort}${API_PATHS.graph}?window=${w}`;
      feed.round(); // a fresh scrape round: the last minute has traffic whatever the feeding took
      await runClient(url, 10); // warm-up (JIT)
      samples = [];
      const before = cpuMs();
      const t0 = Date.now();
      const last = await runClient(url, REQUESTS);
      const bytes = last.bytes;
      const wall = Date.now() - t0;
      const whole = (cpuMs() - before) / REQUESTS;
      const r = {
        requests: samples.length, medianMs: percentile(samples, 50), p90Ms: percentile(samples, 90), maxMs: percentile(samples, 100),
        wholeProcessMsPerRequest: Math.round(whole * 10) / 10, responseBytes: bytes, wallMs: wall, nodes: last.nodes, edges: last.edges,
      };
      if (last.edges < mesh.edgeCount) throw new Error(`window ${w}: ${last.edges} edges, expected ${mesh.edgeCount} (the window lost the fed traffic)`);
      results[w] = r;
      lines.push(`| ${w} | ${last.nodes} | ${last.edges} | ${r.requests} | ${r.medianMs} | ${r.p90Ms} | ${r.maxMs} | ${r.wholeProcessMsPerRequest} | ${(bytes / 1024).toFixed(0)} KiB |`);
    }
    dc.unsubscribe('http.server.request.start', onStart);
    dc.unsubscribe('http.server.response.finish', onFinish);
    const summary = {
      services: SERVICES, workloads: mesh.workloads.length, trafficRows: rows,
      seriesPerScrape: series, scrapes: SCRAPES, node: process.version, loadavg: loadavg().map((x) => Math.round(x * 100) / 100), windows: results,
    };
    writeResults('dashboard-graph-cost', summary);
    console.log(`control plane CPU per graph refresh: ${SERVICES} services, ${mesh.workloads.length} workloads, ${rows} traffic rows (${series} raw series per scrape round, ${SCRAPES} rounds kept), node ${process.version}, load average ${summary.loadavg.join(' ')}`);
    console.log('| window | nodes | edges | requests | median ms CPU | p90 | max | whole process ms/request | response |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const l of lines) console.log(l);
  } finally {
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
