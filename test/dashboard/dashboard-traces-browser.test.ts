/**
 * Traces end to end, in Debian's Chromium (playwright-core): a real `clew demo --detach` (its own
 * mesh config: every sidecar traces every request to the control plane's Zipkin receiver) and
 * productpage requests through the gateway, each with a trace id the test chose. A trace of one
 * productpage request whose reviews called ratings has spans from every hop, both sides of each
 * (the caller's CLIENT span and the callee's SERVER span sharing its id): gateway → productpage,
 * productpage → details, productpage → reviews, reviews → ratings. The Traces page lists it for
 * productpage and draws it as a timeline; a click shows a span's tags. Screenshots go to
 * $CLEW_SCREENSHOT_DIR (default: a temporary directory); docs/dashboard/ holds the README's copies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { request } from 'undici';
import { pidAlive } from '../../src/local/local-address.js';
import { PACKAGE_ROOT } from '../../src/local/local-clew-bin.js';
import { readDemoState, type DemoState } from '../../src/local/local-demo-state.js';
import { freePorts } from '../../src/local/local-ports.js';
import { API_PATHS, tracePath } from '../../src/api/api-paths.js';
import type { TraceResponse, TraceServicesResponse, TraceSpan } from '../../src/api/api-types.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '53';

const CHROMIUM = '/usr/bin/chromium';
const stateDir = mkdtempSync(join(tmpdir(), 'clew-dashboard-traces-'));
const shots = process.env.CLEW_SCREENSHOT_DIR ?? join(stateDir, 'screenshots');
mkdirSync(shots, { recursive: true });
let ports: { debug: number; gateway: number; dashboard: number };
let state: DemoState | undefined;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

function clew(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'clew.js'), ...args], {
      cwd: PACKAGE_ROOT, env: { ...process.env, CLEW_STATE_DIR: stateDir }, stdio: ['ignore', 'pipe', 'pipe'],
    });
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

async function waitFor<T>(what: string, ms: number, fn: () => Promise<T | undefined | false>, everyMs = 250): Promise<T> {
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
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function controlPlane<T>(path: string): Promise<{ status: number; body: T }> {
  const r = await request(`http://127.0.0.1:${ports.debug}${path}`);
  return { status: r.statusCode, body: (await r.body.json()) as T };
}

before(async () => {
  // ports picked free can be taken by another process before the demo binds them (other tests run
  // beside this one): the demo then refuses at once, and new ports are picked
  let r: { code: number | null; out: string } = { code: null, out: '' };
  for (let attempt = 0; attempt < 3; attempt++) {
    const [xds, debug, gateway, secure, dashboard] = await freePorts('127.0.0.1', 5);
    ports = { debug, gateway, dashboard };
    r = await clew([
      'demo', '--detach', '--xds-port', String(xds), '--secure-xds-port', String(secure), '--debug-port', String(debug),
      '--gateway-port', String(gateway), '--dashboard-port', String(dashboard), '--ready-timeout', '150',
    ], 180_000);
    if (!/port already in use/.test(r.out)) break;
  }
  const { debug, dashboard } = ports;
  state = readDemoState(stateDir);
  assert.equal(r.code, 0, `clew demo --detach: ${r.out}`);
  assert.match(r.out, new RegExp(`Traces \\(every request sampled, received by the control plane at http://127\\.0\\.0\\.1:${debug}/api/v2/spans\\): http://127\\.0\\.0\\.1:${dashboard}/#/traces`));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? '';
    if (!/ERR_ABORTED/.test(why)) pageErrors.push(`request failed: ${req.url()} ${why}`);
  });
}, { timeout: 200_000 });

after(async () => {
  await browser?.close();
  if (state) {
    const r = await clew(['demo', 'stop'], 40_000);
    if (r.code !== 0 && pidAlive(state.supervisorPid)) process.kill(state.supervisorPid, 'SIGTERM');
  }
  if (!process.env.CLEW_SCREENSHOT_DIR) console.log(`# screenshots in ${shots} (removed)`);
  rmSync(stateDir, { recursive: true, force: true });
}, { timeout: 60_000 });

const HOPS: Array<[string, string]> = [
  ['istio-ingressgateway.istio-system', 'productpage.default'],
  ['productpage.default', 'details.default'],
  ['productpage.default', 'reviews.default'],
  ['reviews.default', 'ratings.default'],
];

/**
 * every hop's CLIENT span (the caller's sidecar, outbound) and the callee's SERVER span (its
 * sidecar, inbound: a child of the CLIENT span, or the same id with `shared` where a tracer shares
 * span contexts); undefined while one is missing
 */
function hopsOf(spans: TraceSpan[]): string[] | undefined {
  const found: string[] = [];
  for (const [from, to] of HOPS) {
    const pair = spans.find((c) => c.kind === 'CLIENT' && c.localEndpoint?.serviceName === from
      && c.tags?.upstream_cluster === `outbound|9080||${to.replace('.default', '.default.svc.cluster.local')}`
      && spans.some((s) => s.kind === 'SERVER' && serverOf(c, s) && s.localEndpoint?.serviceName === to && s.tags?.upstream_cluster?.startsWith('inbound|')));
    if (!pair) return undefined;
    found.push(`${from} → ${to} (span ${pair.id})`);
  }
  return found;
}

function serverOf(client: { id: string }, server: { id: string; parentId?: string; shared?: boolean }): boolean {
  return server.parentId === client.id || (server.id === client.id && server.shared === true);
}

test('a trace of one productpage request shows spans from every hop, listed for productpage and drawn as a timeline', { timeout: 90_000 }, async () => {
  // productpage requests with trace ids of our own, until one went through reviews v2 or v3 (stars: reviews called ratings)
  const t0 = Date.now();
  const traceId = await waitFor('a product page with ratings', 20_000, async () => {
    const id = randomBytes(16).toString('hex');
    const res = await request(`http://127.0.0.1:${ports.gateway}/productpage`, {
      headers: { 'x-b3-traceid': id, 'x-b3-spanid': randomBytes(8).toString('hex'), 'x-b3-sampled': '1' },
    });
    const html = await res.body.text();
    return res.statusCode === 200 && html.includes('data-star=') && id;
  }, 50);
  // the sidecars' exporters flush every second: poll the receiver until every hop's two spans are in
  const { body: trace } = await waitFor('spans from every hop', 20_000, async () => {
    const r = await controlPlane<TraceResponse>(tracePath(traceId));
    return r.status === 200 && hopsOf(r.body.spans) && r;
  });
  console.log(`# trace ${traceId}: ${trace.spans.length} spans, every hop in ${Date.now() - t0} ms: ${hopsOf(trace.spans)!.join(', ')}`);
  assert.equal(trace.summary.traceId, traceId);
  assert.equal(trace.summary.rootService, 'istio-ingressgateway.istio-system');
  assert.deepEqual(
    ['details.default', 'istio-ingressgateway.istio-system', 'productpage.default', 'ratings.default', 'reviews.default'].filter((s) => !trace.summary.services.includes(s)), [],
    `services of the trace: ${trace.summary.services.join(', ')}`,
  );
  assert.equal(trace.summary.error, false);
  // each hop's server side starts once its client side has (one machine's clock, millisecond timestamps);
  // ends are not compared: the server's span closes when its last byte is written, which may be after the client has read it
  for (const c of trace.spans.filter((s) => s.kind === 'CLIENT')) {
    const s = trace.spans.find((x) => x.kind === 'SERVER' && serverOf(c, x));
    if (!s) continue;
    assert.ok(s.timestamp! >= c.timestamp! - 1000, `span ${c.id}: the server side starts after the client side`);
  }
  const services = await controlPlane<TraceServicesResponse>(API_PATHS.traceServices);
  assert.ok(services.body.items.some((s) => s.name === 'ratings.default' && s.traces >= 1), JSON.stringify(services.body.items));

  // the Traces page: productpage's recent traces hold it
  const tPage = Date.now();
  await page.goto(`http://127.0.0.1:${ports.dashboard}/#/traces`);
  await page.waitForSelector('#trace-service');
  await page.selectOption('#trace-service', 'productpage.default');
  const row = `#traces tr[data-trace="${traceId}"]`;
  await waitFor('the trace in productpage\'s list', 15_000, async () => {
    if (await page.$(row)) return true;
    await page.click('#trace-refresh'); // the page reloads the list, keeping the service
    return false;
  }, 500);
  assert.equal(await page.$eval('#trace-service', (s) => (s as HTMLSelectElement).value), 'productpage.default');
  assert.equal(await page.getAttribute(row, 'data-error'), 'false');
  assert.equal(Number(await page.getAttribute(row, 'data-spans')), trace.spans.length);
  console.log(`# listed for productpage ${Date.now() - tPage} ms after the page was opened`);
  await page.screenshot({ path: join(shots, 'dashboard-traces.png') });

  // its timeline: a row per span, every hop's service on both sides
  await page.click(row);
  await page.waitForSelector('#timeline tbody tr');
  assert.match(page.url(), new RegExp(`#/traces/${traceId}$`));
  const rows = await page.$$eval('#timeline tbody tr', (trs) => trs.map((tr) => ({
    span: tr.getAttribute('data-span') ?? '', parent: tr.getAttribute('data-parent') ?? undefined, shared: tr.getAttribute('data-shared') === 'true', service: tr.getAttribute('data-service') ?? '', kind: tr.getAttribute('data-kind') ?? '',
    depth: Number(tr.getAttribute('data-depth')), left: parseFloat((tr.querySelector('.span-bar') as HTMLElement).style.left),
  })));
  assert.equal(rows.length, trace.spans.length);
  for (const [from, to] of HOPS) {
    const server = (c: { span: string }) => rows.find((s) => s.service === to && s.kind === 'SERVER' && serverOf({ id: c.span }, { id: s.span, parentId: s.parent, shared: s.shared }));
    const client = rows.find((r) => r.service === from && r.kind === 'CLIENT' && server(r));
    assert.ok(client, `timeline has ${from} → ${to}: ${JSON.stringify(rows)}`);
    const callee = server(client)!;
    assert.equal(callee.depth, client.depth + 1, `${to}'s server span sits under ${from}'s client span`);
    assert.ok(callee.left + 1 >= client.left, `${to} starts after ${from} calls it (1 % of the timeline: millisecond timestamps)`);
  }
  const ratings = rows.find((r) => r.service === 'ratings.default' && r.kind === 'SERVER')!;
  assert.ok(ratings.depth >= 4, `ratings is four calls deep (gateway, productpage, reviews): depth ${ratings.depth}`);
  // a click shows the span's tags
  await page.click(`#timeline tr[data-span="${ratings.span}"][data-service="ratings.default"]`);
  await page.waitForSelector('#span-tags tr[data-tag="http.status_code"]');
  assert.equal(await page.textContent('#span-tags tr[data-tag="http.status_code"] td'), '200');
  assert.match((await page.textContent('#span-tags')) ?? '', /inbound\|9080\|\|/);
  await page.screenshot({ path: join(shots, 'dashboard-trace.png') });
  console.log(`# timeline checked ${Date.now() - tPage} ms after the page was opened`);
  assert.deepEqual(pageErrors, []);
});

test('the dashboard forwards the trace API read-only, and only trace ids', { timeout: 20_000 }, async () => {
  const base = `http://127.0.0.1:${ports.dashboard}`;
  const services = await request(`${base}/api/traces/services`);
  assert.equal(services.statusCode, 200);
  assert.ok(((await services.body.json()) as TraceServicesResponse).items.length >= 4);
  const notAnId = await request(`${base}/api/traces/..%2F..%2Fdebug%2Fmesh`);
  assert.equal(notAnId.statusCode, 404);
  await notAnId.body.dump();
  const post = await request(`${base}/api/traces`, { method: 'POST', body: '[]' });
  assert.equal(post.statusCode, 405);
  await post.body.dump();
});
