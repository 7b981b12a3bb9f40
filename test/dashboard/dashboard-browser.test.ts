/**
 * The dashboard in Debian's Chromium (playwright-core), against a real `clew demo --detach`
 * (control plane, sidecars, gateway and Bookinfo as processes) with `clew load` traffic through
 * the gateway: the graph's Bookinfo edges carry traffic, the ratings abort fault turns the ratings
 * edges to errors within a refresh, the config list flags a broken file, the lists and a proxy's
 * listeners/routes/clusters show. A screenshot of each page is written to $CLEW_SCREENSHOT_DIR
 * (default: a temporary directory); docs/dashboard/ holds the README's copies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { request } from 'undici';
import { pidAlive } from '../../src/local/local-address.js';
import { PACKAGE_ROOT } from '../../src/local/local-clew-bin.js';
import { readDemoState, type DemoState } from '../../src/local/local-demo-state.js';
import { freePorts } from '../../src/local/local-ports.js';
import type { GraphResponse } from '../../src/api/api-types.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '50';

const CHROMIUM = '/usr/bin/chromium';
const stateDir = mkdtempSync(join(tmpdir(), 'clew-dashboard-'));
const shots = process.env.CLEW_SCREENSHOT_DIR ?? join(stateDir, 'screenshots');
mkdirSync(shots, { recursive: true });
let ports: { debug: number; gateway: number; dashboard: number };
let state: DemoState | undefined;
let browser: Browser | undefined;
let page: Page;
const loads: ChildProcess[] = [];
const pageErrors: string[] = [];

function clewArgs(args: string[]): string[] {
  return [join(PACKAGE_ROOT, 'bin', 'clew.js'), ...args];
}

function clew(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, clewArgs(args), { cwd: PACKAGE_ROOT, env: { ...process.env, CLEW_STATE_DIR: stateDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** `clew load` through the gateway until stopped (fortio's role in Kiali's demos). */
function startLoad(headers: string[] = []): ChildProcess {
  const p = spawn(process.execPath, clewArgs(['load', '-c', '2', '-qps', '6', '-t', '0', ...headers.flatMap((h) => ['-H', h]), `http://127.0.0.1:${ports.gateway}/productpage`]), {
    cwd: PACKAGE_ROOT, stdio: 'ignore',
  });
  loads.push(p);
  return p;
}

async function waitFor<T>(what: string, ms: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface EdgeRow { id: string; source: string; target: string; rate: number; errorRate: number; health: string }

async function edgeRows(): Promise<EdgeRow[]> {
  return page.$$eval('#edges tbody tr', (rows) => rows.map((r) => ({
    id: r.getAttribute('data-edge') ?? '',
    source: r.getAttribute('data-source') ?? '',
    target: r.getAttribute('data-target') ?? '',
    rate: Number(r.getAttribute('data-rate')),
    errorRate: Number(r.getAttribute('data-error-rate')),
    health: r.getAttribute('data-health') ?? '',
  })));
}

const SVC = (name: string): string => `svc:${name}.default.svc.cluster.local`;
const WL = (name: string): string => `wl:default/${name}`;

async function login(user: string): Promise<string> {
  const res = await request(`http://127.0.0.1:${ports.gateway}/login`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=${user}&passwd=x`,
  });
  await res.body.dump();
  const setCookie = res.headers['set-cookie'];
  const first = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  assert.ok(first, `login answered ${res.statusCode} without a cookie`);
  return first.split(';')[0];
}

before(async () => {
  const [xds, debug, gateway, secure, dashboard] = await freePorts('127.0.0.1', 5);
  ports = { debug, gateway, dashboard };
  const r = await clew([
    'demo', '--detach', '--xds-port', String(xds), '--secure-xds-port', String(secure), '--debug-port', String(debug),
    '--gateway-port', String(gateway), '--dashboard-port', String(dashboard), '--ready-timeout', '150',
  ], 180_000);
  state = readDemoState(stateDir);
  assert.equal(r.code, 0, `clew demo --detach: ${r.out}`);
  assert.match(r.out, new RegExp(`Dashboard \\(traffic graph, services, config, proxies\\): http://127\\.0\\.0\\.1:${dashboard}/`), 'clew demo prints the dashboard URL');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  // a reload cancels the page's fetches in flight (net::ERR_ABORTED): not a failure of the page
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? '';
    if (!/ERR_ABORTED/.test(why)) pageErrors.push(`request failed: ${req.url()} ${why}`);
  });
  startLoad();
}, { timeout: 200_000 });

after(async () => {
  for (const l of loads) l.kill('SIGKILL');
  await browser?.close();
  if (state) {
    const r = await clew(['demo', 'stop'], 40_000);
    if (r.code !== 0 && pidAlive(state.supervisorPid)) process.kill(state.supervisorPid, 'SIGTERM');
  }
  if (!process.env.CLEW_SCREENSHOT_DIR) console.log(`# screenshots in ${shots} (removed)`);
  rmSync(stateDir, { recursive: true, force: true });
}, { timeout: 60_000 });

test('graph: productpage → reviews → ratings and productpage → details with non-zero rates; click shows details', { timeout: 120_000 }, async () => {
  await page.goto(`http://127.0.0.1:${ports.dashboard}/#/graph`);
  const want: Array<[string, string]> = [
    [WL('istio-ingressgateway').replace('default', 'istio-system'), SVC('productpage')],
    [SVC('productpage'), WL('productpage-v1')],
    [WL('productpage-v1'), SVC('details')],
    [SVC('details'), WL('details-v1')],
    [WL('productpage-v1'), SVC('reviews')],
    [SVC('reviews'), WL('reviews-v2')],
    [SVC('reviews'), WL('reviews-v3')],
    [WL('reviews-v2'), SVC('ratings')],
    [WL('reviews-v3'), SVC('ratings')],
    [SVC('ratings'), WL('ratings-v1')],
  ];
  // the page refreshes itself every 5 s: no reload
  const t0 = Date.now();
  const rows = await waitFor('the Bookinfo edges with traffic', 60_000, async () => {
    const r = await edgeRows();
    return want.every(([s, t]) => r.some((e) => e.source === s && e.target === t && e.rate > 0)) && r;
  });
  console.log(`# every Bookinfo edge shown with traffic ${Date.now() - t0} ms after the page opened`);
  for (const [s, t] of want) {
    const e = rows.find((x) => x.source === s && x.target === t)!;
    assert.equal(e.errorRate, 0, `${s} → ${t}`);
    assert.equal(e.health, 'healthy', `${s} → ${t}`);
  }
  // the same edges are drawn by Cytoscape, with their rate labels
  const drawn: string[] = await page.evaluate(() => (window as any).clewGraph.cy.edges().map((e: any) => `${e.data('source')}>${e.data('target')} ${e.data('label')}`));
  for (const [s, t] of want) assert.ok(drawn.some((d: string) => d.startsWith(`${s}>${t} `) && /rps/.test(d)), `${s} → ${t} drawn: ${drawn.join('; ')}`);
  // the app box groups reviews' versions
  const parents = await page.evaluate(() => ['v1', 'v2', 'v3'].map((v) => (window as any).clewGraph.cy.getElementById(`wl:default/reviews-${v}`).data('parent')));
  assert.deepEqual(parents, ['app:default/reviews', 'app:default/reviews', 'app:default/reviews']);
  // click a node: its details
  await page.evaluate(() => (window as any).clewGraph.cy.getElementById('wl:default/productpage-v1').emit('tap'));
  const details = await page.textContent('#details');
  assert.match(details ?? '', /workload productpage-v1/);
  assert.match(details ?? '', /sidecar\s*yes/);
  // the window selector asks the API for 5m
  const asked = page.waitForRequest((req) => req.url().includes('/api/graph?window=5m'));
  await page.selectOption('#window', '5m');
  await asked;
  await page.screenshot({ path: join(shots, 'dashboard-graph.png') });
  assert.deepEqual(pageErrors, []);
});

test('after the ratings abort fault, the ratings edges turn to errors within one refresh', { timeout: 150_000 }, async () => {
  await page.selectOption('#window', '1m');
  const jason = await login('jason');
  const r = await clew(['apply', '-f', 'samples/bookinfo/networking/virtual-service-ratings-test-abort.yaml', '--control-plane', `http://127.0.0.1:${ports.debug}`]);
  assert.equal(r.code, 0, r.out);
  // the fault is in force once jason's product page says ratings are unavailable
  await waitFor('the abort to reach jason', 40_000, async () => {
    const res = await request(`http://127.0.0.1:${ports.gateway}/productpage`, { headers: { cookie: jason } });
    return (await res.body.text()).includes('Ratings service is currently unavailable');
  });
  const faultAt = Date.now();
  startLoad([`cookie: ${jason}`]);
  // one scrape (5 s) and one refresh (5 s) later, with a margin for a loaded machine
  const bad = await waitFor('a ratings edge with errors', 25_000, async () => {
    const rows = await edgeRows();
    return rows.find((e) => e.target === SVC('ratings') && e.errorRate > 0 && e.health !== 'healthy');
  });
  console.log(`# ratings edge ${bad.source} → ${bad.target}: ${(bad.errorRate * 100).toFixed(1)}% errors, ${bad.health}, ${Date.now() - faultAt} ms after the fault was seen`);
  const g = await page.evaluate(() => (window as any).clewGraph.last) as GraphResponse;
  const edge = g.edges.find((e) => e.id === bad.id)!;
  assert.ok((edge.codes['500'] ?? 0) > 0, `HTTP 500 on the edge: ${JSON.stringify(edge.codes)}`);
  assert.ok((edge.flags.FI ?? 0) > 0, `fault-injected (FI): ${JSON.stringify(edge.flags)}`);
  const colour = await page.evaluate((id) => (window as any).clewGraph.cy.getElementById(id).data('color'), bad.id);
  assert.ok(colour === '#c9190b' || colour === '#f0ab00', `edge colour ${colour}`);
  await page.screenshot({ path: join(shots, 'dashboard-graph-fault.png') });
  const del = await clew(['delete', '-f', 'samples/bookinfo/networking/virtual-service-ratings-test-abort.yaml', '--control-plane', `http://127.0.0.1:${ports.debug}`]);
  assert.equal(del.code, 0, del.out);
  assert.deepEqual(pageErrors, []);
});

test('config list: resources with YAML, and a broken hand-edited file flagged with its messages', { timeout: 60_000 }, async () => {
  const broken = join(state!.configDir, 'broken-virtual-service.yaml');
  writeFileSync(broken, [
    'apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata:', '  name: broken', '  namespace: default', 'spec:',
    '  hosts: [reviews]', '  http:', '  - route:', '    - destination: {host: reviews}', '      weight: -5', '',
  ].join('\n'));
  await page.goto(`http://127.0.0.1:${ports.dashboard}/#/config`);
  const row = await waitFor('the broken file in the config list', 20_000, async () => {
    await page.reload();
    await page.waitForSelector('#config tbody tr', { timeout: 5000 });
    return (await page.$(`tr[data-rejected="${broken}"]`)) ?? undefined;
  });
  const text = await row.textContent();
  assert.match(text ?? '', /weight/, text ?? '');
  assert.equal(await row.getAttribute('data-state'), 'error');
  // clew analyze's message for it in the list: code, level and resource
  const finding = page.locator('#analysis tr[data-code="IST0106"][data-resource="VirtualService/default/broken"]');
  assert.equal(await finding.getAttribute('data-level'), 'Error');
  assert.match((await finding.textContent()) ?? '', /SchemaValidationError.*weight/);
  const valid = await page.$$eval('#config tbody tr', (rs) => rs.map((r) => `${r.getAttribute('data-config')}=${r.getAttribute('data-state')}`));
  assert.ok(valid.some((v) => /^Gateway\/default\/bookinfo-gateway=valid$/.test(v)), valid.join(', '));
  await page.click('tr[data-config="Gateway/default/bookinfo-gateway"]');
  assert.match((await page.textContent('#config-yaml')) ?? '', /kind: Gateway[\s\S]*istio: ingressgateway/);
  await page.screenshot({ path: join(shots, 'dashboard-config.png') });
  rmSync(broken);
  assert.deepEqual(pageErrors, []);
});

test('services, workloads with sync status, and a proxy\'s listeners, routes and clusters', { timeout: 60_000 }, async () => {
  await page.goto(`http://127.0.0.1:${ports.dashboard}/#/services`);
  await page.waitForSelector('tr[data-service="reviews.default.svc.cluster.local"]');
  const reviews = await page.textContent('tr[data-service="reviews.default.svc.cluster.local"]');
  assert.match(reviews ?? '', /3\/3/, 'three healthy endpoints');
  assert.notEqual(await page.getAttribute('tr[data-service="productpage.default.svc.cluster.local"]', 'data-health'), 'idle');
  await page.screenshot({ path: join(shots, 'dashboard-services.png') });

  await page.goto(`http://127.0.0.1:${ports.dashboard}/#/workloads`);
  await page.waitForSelector('tr[data-workload="default/ratings-v1"]');
  const ratings = await page.textContent('tr[data-workload="default/ratings-v1"]');
  assert.equal((ratings?.match(/SYNCED/g) ?? []).length, 4, ratings ?? '');
  await page.screenshot({ path: join(shots, 'dashboard-workloads.png') });

  await page.goto(`http://127.0.0.1:${ports.dashboard}/#/proxies`);
  await page.click('tr[data-proxy="productpage-v1.default"]');
  await page.waitForSelector('#listeners tr[data-listener="virtualOutbound"]');
  assert.ok(await page.$('#routes tr[data-route="9080"]'), 'the 9080 route config');
  assert.ok(await page.$('#clusters tr[data-cluster="outbound|9080||reviews.default.svc.cluster.local"]'), 'the reviews cluster');
  await page.screenshot({ path: join(shots, 'dashboard-proxy.png') });
  assert.deepEqual(pageErrors, []);
});

test('the dashboard server: read-only, Host checked, strict CSP, no third-party fetches', { timeout: 30_000 }, async () => {
  const base = `http://127.0.0.1:${ports.dashboard}`;
  const index = await request(`${base}/`);
  assert.equal(index.statusCode, 200);
  assert.match(String(index.headers['content-security-policy']), /default-src 'self'/);
  assert.match(await index.body.text(), /<script src="app.js">/);
  const post = await request(`${base}/api/graph`, { method: 'POST', body: '{}' });
  assert.equal(post.statusCode, 405);
  await post.body.dump();
  const rebind = await request(`${base}/api/services`, { headers: { host: 'evil.example:80' } });
  assert.equal(rebind.statusCode, 403);
  await rebind.body.dump();
  const bad = await request(`${base}/api/graph?window=2d`);
  assert.equal(bad.statusCode, 400);
  assert.match(await bad.body.text(), /window must be one of 1m, 5m, 1h/);
  // the bundle carries Cytoscape itself: nothing is loaded from elsewhere
  const js = readFileSync(join(PACKAGE_ROOT, 'dist', 'dashboard', 'app.js'), 'utf8');
  assert.doesNotMatch(js, /https?:\/\/(?:cdn|unpkg|cdnjs)/);
});
