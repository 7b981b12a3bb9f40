/**
 * The dashboard against an in-process control plane with a generated mesh of 200 services (issue
 * 21, Must show 2) and the config list's analysis (the same messages as `clew analyze`), in
 * Debian's Chromium (playwright-core):
 * - the graph page renders the generated mesh (its nodes count shown, every edge listed and drawn)
 *   without JavaScript errors; the traffic comes from the sidecars' Istio metrics as the scraper
 *   would read them (test/helpers/scale-mesh.ts feeds the control plane's window);
 * - `GET /apis/v1/analyze`, `clew analyze --control-plane` and the dashboard's config list agree,
 *   and a config file with a problem shows its code in the list.
 * The CPU cost of one graph refresh is measured by bench/dashboard-graph-cost.ts, not here.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { request } from 'undici';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { startDashboardServer, type DashboardServer } from '../../src/dashboard/dashboard-server.js';
import { API_PATHS } from '../../src/api/api-paths.js';
import type { AnalyzeResponse, GraphResponse } from '../../src/api/api-types.js';
import type { AnalysisMessage } from '../../src/analyze/analyze-message.js';
import { feedWindow, generateScaleMesh, svcName } from '../helpers/scale-mesh.js';
import { REPO_ROOT } from '../helpers/paths.js';

const SERVICES = 200;
const dir = mkdtempSync(join(tmpdir(), 'clew-dash-scale-'));
const configDir = join(dir, 'config');
const stateDir = join(dir, 'state');
const mesh = generateScaleMesh(SERVICES);
let cp: ControlPlane | undefined;
let dash: DashboardServer | undefined;
let browser: Browser | undefined;
let page: Page;
let cpUrl: string;
const pageErrors: string[] = [];
/** screenshots: $CLEW_SCREENSHOT_DIR when set (kept), else the temporary directory (removed) */
const shots = process.env.CLEW_SCREENSHOT_DIR ?? dir;

async function waitFor<T>(what: string, ms: number, fn: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function getJson<T>(url: string): Promise<T> {
  const r = await request(url);
  assert.equal(r.statusCode, 200, url);
  return (await r.body.json()) as T;
}

before(async () => {
  mkdirSync(configDir, { recursive: true });
  mkdirSync(shots, { recursive: true });
  writeFileSync(join(configDir, 'mesh.yaml'), mesh.yaml);
  cp = new ControlPlane({
    configDir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, publishToken: false, log: () => undefined,
    // no proxies connect here: the window is fed below; a long interval keeps the scraper's rounds out of the way
    metricsScrapeIntervalMs: 3_600_000,
  });
  await cp.start();
  cpUrl = `http://127.0.0.1:${cp.debugPort}`;
  await waitFor('the generated services in the registry', 20_000, () => cp!.registry.services().length >= SERVICES);
  // past the scraper's first (empty) round, which forgets proxies it does not know
  await new Promise((r) => setTimeout(r, 1200));
  feedWindow(cp.scraper.store, mesh);
  dash = await startDashboardServer({ controlPlane: cpUrl, address: '127.0.0.1', port: 0 });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? '';
    if (!/ERR_ABORTED/.test(why)) pageErrors.push(`request failed: ${req.url()} ${why}`);
  });
}, { timeout: 60_000 });

after(async () => {
  await browser?.close();
  await dash?.close();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
}, { timeout: 30_000 });

test(`graph: ${SERVICES} services render in Chromium with every node and edge, no JavaScript errors`, { timeout: 90_000 }, async () => {
  const api = await getJson<GraphResponse>(`${cpUrl}${API_PATHS.graph}?window=1m`);
  // every service and workload is a node (plus app boxes and the ingress gateway), every call an edge
  assert.ok(api.nodes.filter((n) => n.kind === 'service').length >= SERVICES, 'service nodes');
  assert.equal(api.nodes.filter((n) => n.kind === 'workload' && n.namespace !== 'istio-system').length, mesh.workloads.length);
  assert.equal(api.edges.length, mesh.edgeCount);
  assert.ok(api.edges.every((e) => e.rate > 0 && e.mtls === 1), 'every edge carries mTLS traffic');
  const leaf = api.edges.find((e) => e.target === `svc:${svcName(SERVICES - 1)}.team-${(SERVICES - 1) % 4}.svc.cluster.local`);
  assert.ok(leaf && leaf.errorRate > 0 && leaf.errorRate < 0.05, `the last service's edge with its 503s: ${JSON.stringify(leaf)}`);

  const t0 = Date.now();
  await page.goto(`${dash!.url}#/graph`);
  await page.waitForSelector(`#updated[data-nodes="${api.nodes.length}"]`, { timeout: 60_000 });
  const shownAfter = Date.now() - t0;
  assert.match((await page.textContent('#updated')) ?? '', new RegExp(`${api.nodes.length} nodes · ${api.edges.length} edges`));
  const drawn = await page.evaluate(() => {
    const cy = (window as any).clewGraph.cy;
    return { nodes: cy.nodes().length as number, edges: cy.edges().length as number };
  });
  assert.deepEqual(drawn, { nodes: api.nodes.length, edges: api.edges.length });
  assert.equal(await page.locator('#edges tbody tr').count(), api.edges.length);
  // a refresh keeps the layout (same elements) and answers
  const t1 = Date.now();
  const answered = page.waitForResponse((r) => r.url().includes('/api/graph?window=1m') && r.status() === 200);
  await page.click('#refresh-now');
  await answered;
  await page.screenshot({ path: join(shots, 'dashboard-graph-200-services.png') });
  console.log(`# ${api.nodes.length} nodes, ${api.edges.length} edges: shown ${shownAfter} ms after the page opened; a refresh answered in ${Date.now() - t1} ms`);
  assert.deepEqual(pageErrors, []);
});

/** `clew analyze --control-plane` as its own process (async: the control plane answers from this one). */
function cliAnalyze(): Promise<AnalysisMessage[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'clew.js'), 'analyze', '--control-plane', cpUrl, '-A', '-o', 'json'], {
      cwd: REPO_ROOT, env: { ...process.env, CLEW_STATE_DIR: stateDir }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0 && code !== 79) reject(new Error(`clew analyze exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as AnalysisMessage[]);
    });
  });
}

const brief = (m: AnalysisMessage): string => `${m.level} ${m.code} ${m.kind}/${m.namespace}/${m.resourceName}`;

test('config list: the same analysis messages as clew analyze --control-plane; a file with a problem shows its code', { timeout: 60_000 }, async () => {
  // a DestinationRule that originates TLS without verifying the server (IST0128), and a hand-edited
  // file the control plane refuses (IST0106: the weight is negative)
  writeFileSync(join(configDir, 'api-tls.yaml'), [
    'apiVersion: networking.istio.io/v1', 'kind: DestinationRule', 'metadata: {name: api-tls, namespace: team-0}', 'spec:',
    `  host: ${svcName(0)}`, '  trafficPolicy:', '    tls: {mode: SIMPLE}', '',
  ].join('\n'));
  const broken = join(configDir, 'broken-vs.yaml');
  writeFileSync(broken, [
    'apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata: {name: broken, namespace: team-1}', 'spec:',
    `  hosts: [${svcName(1)}]`, '  http:', '  - route:', `    - destination: {host: ${svcName(1)}}`, '      weight: -5', '',
  ].join('\n'));
  const api = await waitFor('both problems in GET /apis/v1/analyze', 20_000, async () => {
    const r = await getJson<AnalyzeResponse>(`${cpUrl}${API_PATHS.analyze}`);
    return r.messages.some((m) => m.code === 'IST0128') && r.messages.some((m) => m.code === 'IST0106' && m.file?.endsWith('broken-vs.yaml')) && r;
  });
  const tls = api.messages.find((m) => m.code === 'IST0128')!;
  assert.equal(tls.level, 'Warning');
  assert.equal(tls.resourceName, 'api-tls');
  assert.match(tls.message, /DestinationRule team-0\/api-tls in namespace team-0 has TLS mode set to SIMPLE but no caCertificates/);
  // the CLI reads the same endpoint: the same messages
  assert.deepEqual((await cliAnalyze()).map(brief).sort(), api.messages.map(brief).sort());
  // a namespace filter on the endpoint
  const team1 = await getJson<AnalyzeResponse>(`${cpUrl}${API_PATHS.analyze}?namespace=team-1`);
  assert.ok(team1.messages.length > 0 && team1.messages.every((m) => m.namespace === 'team-1'));

  await page.goto(`${dash!.url}#/config`);
  await page.waitForSelector('#config tbody tr[data-config="DestinationRule/team-0/api-tls"]', { timeout: 20_000 });
  assert.equal(await page.getAttribute('tr[data-config="DestinationRule/team-0/api-tls"]', 'data-codes'), 'IST0128');
  const badge = page.locator('tr[data-config="DestinationRule/team-0/api-tls"] span[data-code="IST0128"]');
  assert.equal(await badge.getAttribute('data-level'), 'Warning');
  // the analysis table: code, level and resource of every message, as the CLI prints them
  const listed = await page.$$eval('#analysis tbody tr', (rows) => rows.map((r) => `${r.getAttribute('data-level')} ${r.getAttribute('data-code')} ${r.getAttribute('data-resource')}`));
  assert.deepEqual(listed.sort(), api.messages.map(brief).sort());
  assert.ok(listed.includes('Error IST0106 VirtualService/team-1/broken'), listed.join('\n'));
  await page.screenshot({ path: join(shots, 'dashboard-config-analysis.png') });
  assert.deepEqual(pageErrors, []);
});
