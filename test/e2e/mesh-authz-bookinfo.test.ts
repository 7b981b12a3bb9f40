/**
 * Istio's "Authorization for HTTP traffic" task on Bookinfo, step by step, against a real
 * `clew demo --detach` (control plane, every Bookinfo workload with its sidecar, mTLS between
 * sidecars with certificates from the control plane's CA, the ingress gateway, the fortio client):
 * the policies are Istio's YAML unchanged (samples/bookinfo/policy/), applied with `clew apply`,
 * and each step checks the product page as Istio's task describes it:
 * - allow-nothing: "RBAC: access denied" (403);
 * - productpage-viewer: the page, with "Error fetching product details" and "... reviews";
 * - details-viewer (from bookinfo-productpage's principal): details shown, reviews still failing;
 * - reviews-viewer (same principal): reviews shown, "Ratings service is currently unavailable";
 * - ratings-viewer (from bookinfo-reviews' principal): stars.
 * Between steps, a caller with another identity (the demo's fortio client) is still refused by
 * details, reviews and ratings: the principal decides, not the method.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { pidAlive } from '../../src/local/local-address.js';
import { PACKAGE_ROOT } from '../../src/local/local-clew-bin.js';
import { readDemoState, type DemoState } from '../../src/local/local-demo-state.js';
import { freePorts } from '../../src/local/local-ports.js';
import { waitFor } from './mesh-stack.js';

// this file's own address block (test files run in parallel, each with its own state dir)
process.env.CLEW_LOCAL_FIRST_BLOCK = '151';
delete process.env.CLEW_POD_ADDRESSING;

const POLICY = 'samples/bookinfo/policy';
const stateDir = mkdtempSync(join(tmpdir(), 'clew-authz-bookinfo-'));
const env: NodeJS.ProcessEnv = { ...process.env, CLEW_STATE_DIR: stateDir };
let ports = { xds: 0, debug: 0, gateway: 0 };
let state: DemoState | undefined;
let fortio: ProxyAgent | undefined;

function clew(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'clew.js'), ...args], { cwd: PACKAGE_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
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

const cp = (): string[] => ['--control-plane', `http://127.0.0.1:${ports.debug}`];

async function apply(name: string): Promise<void> {
  const r = await clew(['apply', '-f', `${POLICY}/${name}.yaml`, ...cp()]);
  assert.equal(r.code, 0, `clew apply -f ${POLICY}/${name}.yaml: ${r.out}`);
}

/** The product page through the ingress gateway, as a browser gets it. */
async function page(): Promise<{ status: number; html: string }> {
  const res = await request(`http://127.0.0.1:${ports.gateway}/productpage`, { headersTimeout: 20_000, bodyTimeout: 20_000 });
  return { status: res.statusCode, html: await res.body.text() };
}

/** What a page shows, in the words of Istio's task. */
interface Seen {
  status: number;
  denied: boolean;
  detailsError: boolean;
  details: boolean;
  reviewsError: boolean;
  reviews: boolean;
  ratingsError: boolean;
  stars: boolean;
}

function see(p: { status: number; html: string }): Seen {
  const h = p.html;
  return {
    status: p.status,
    denied: p.status === 403 && h === 'RBAC: access denied',
    detailsError: h.includes('Error fetching product details'),
    details: h.includes('<dt>ISBN-10:</dt><dd>1234567890</dd>'),
    reviewsError: h.includes('Error fetching product reviews'),
    reviews: h.includes('data-reviewer="Reviewer1"'),
    ratingsError: h.includes('Ratings service is currently unavailable'),
    stars: h.includes('data-star="filled"'),
  };
}

/** Loads the page until `pred` holds for one load (the policy has reached the sidecars), then returns that load. */
async function until(what: string, pred: (s: Seen) => boolean): Promise<Seen> {
  let last: Seen | undefined;
  await waitFor(async () => pred((last = see(await page()))), 20_000, () => `${what} (last page: ${JSON.stringify(last)})`);
  return last!;
}

/** A GET from the demo's fortio client (its own sidecar, identity sa/fortio) to a Bookinfo service. */
async function fromFortio(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url, { dispatcher: fortio, headersTimeout: 10_000 });
  return { status: res.statusCode, body: await res.body.text() };
}

before(async () => {
  const [xds, debug, gateway, secure] = await freePorts('127.0.0.1', 4);
  ports = { xds, debug, gateway };
  const r = await clew([
    'demo', '--detach', '--xds-port', String(xds), '--secure-xds-port', String(secure), '--debug-port', String(debug),
    '--gateway-port', String(gateway), '--dashboard-port', '0', '--ready-timeout', '90',
  ], 110_000);
  state = readDemoState(stateDir);
  if (r.code !== 0) {
    let log = '';
    try {
      log = readFileSync(join(stateDir, 'demo.log'), 'utf8').split('\n').filter((l) => /error|exited|unknown/i.test(l)).slice(-15).join('\n');
    } catch {
      /* no log */
    }
    assert.fail(`clew demo --detach failed (${r.code}):\n${r.out}\n--- demo.log (errors) ---\n${log}`);
  }
  assert.ok(state, 'the demo state file exists');
  fortio = new ProxyAgent({ uri: state.client.proxyUrl, proxyTunnel: false });
}, { timeout: 120_000 });

after(async () => {
  await fortio?.close();
  if (state) {
    const r = await clew(['demo', 'stop'], 30_000);
    // last resort: the supervisor stops its children on SIGTERM
    if (r.code !== 0 && pidAlive(state.supervisorPid)) process.kill(state.supervisorPid, 'SIGTERM');
  }
  rmSync(stateDir, { recursive: true, force: true });
}, { timeout: 40_000 });

test('Istio authz-http task on Bookinfo: allow-nothing, then productpage-, details-, reviews- and ratings-viewer', { timeout: 120_000 }, async () => {
  const start = see(await page());
  assert.equal(start.status, 200);
  assert.ok(start.details && start.reviews, `before any policy the page is whole: ${JSON.stringify(start)}`);

  // 1. allow-nothing: every workload in default refuses everything
  await apply('allow-nothing');
  const denied = await until('"RBAC: access denied" on the product page', (s) => s.denied);
  assert.equal(denied.status, 403);
  const d = await fromFortio('http://details:9080/details/0');
  assert.deepEqual(d, { status: 403, body: 'RBAC: access denied' }, 'details refuses too');

  // 2. productpage-viewer: GET on productpage from anyone; its calls to details and reviews are refused
  await apply('productpage-viewer');
  const pp = await until('the page with both errors', (s) => s.status === 200 && s.detailsError && s.reviewsError);
  assert.ok(!pp.details && !pp.reviews, JSON.stringify(pp));

  // 3. details-viewer: GET on details from productpage's principal only
  await apply('details-viewer');
  const dt = await until('details shown, reviews still failing', (s) => s.status === 200 && s.details && !s.detailsError);
  assert.ok(dt.reviewsError && !dt.reviews, JSON.stringify(dt));
  assert.deepEqual(await fromFortio('http://details:9080/details/0'), { status: 403, body: 'RBAC: access denied' },
    'details-viewer names bookinfo-productpage: fortio (sa/fortio) is still refused');
  // as the walkthrough shows it: the policy as Envoy RBAC on details' inbound listener
  const listeners = await clew(['proxy-config', 'listeners', 'details-v1.default', '-o', 'json', ...cp()]);
  assert.equal(listeners.code, 0, listeners.out);
  assert.ok(listeners.out.includes('ns[default]-policy[details-viewer]-rule[0]'), 'the rule by its Envoy policy name');
  assert.ok(listeners.out.includes('spiffe://cluster.local/ns/default/sa/bookinfo-productpage'), 'the principal as a SPIFFE id');

  // 4. reviews-viewer: GET on reviews from productpage's principal; reviews v2/v3 cannot reach ratings
  await apply('reviews-viewer');
  await until('reviews with "Ratings service is currently unavailable"', (s) => s.status === 200 && s.details && s.reviews && s.ratingsError);
  for (let i = 0; i < 6; i++) {
    const s = see(await page());
    assert.ok(s.status === 200 && s.details && s.reviews && !s.reviewsError && !s.stars, `no stars before ratings-viewer: ${JSON.stringify(s)}`);
  }
  assert.equal((await fromFortio('http://reviews:9080/reviews/0')).status, 403, 'reviews refuses fortio');

  // 5. ratings-viewer: GET on ratings from reviews' principal: stars
  await apply('ratings-viewer');
  await until('stars', (s) => s.status === 200 && s.stars);
  for (let i = 0; i < 6; i++) {
    const s = see(await page());
    assert.ok(s.status === 200 && s.details && s.reviews && !s.ratingsError, `whole page after ratings-viewer: ${JSON.stringify(s)}`);
  }
  assert.deepEqual(await fromFortio('http://ratings:9080/ratings/0'), { status: 403, body: 'RBAC: access denied' },
    'ratings-viewer names bookinfo-reviews: fortio is refused');

  // 6. clean up as the task does: without the policies fortio reaches ratings again
  for (const name of ['allow-nothing', 'productpage-viewer', 'details-viewer', 'reviews-viewer', 'ratings-viewer']) {
    const r = await clew(['delete', '-f', `${POLICY}/${name}.yaml`, ...cp()]);
    assert.equal(r.code, 0, `clew delete -f ${POLICY}/${name}.yaml: ${r.out}`);
  }
  await waitFor(async () => (await fromFortio('http://ratings:9080/ratings/0')).status === 200, 20_000, 'ratings to serve fortio again');
});
