/**
 * The walkthrough of docs/walkthrough.md, end to end, against a real `clew demo --detach`:
 * control plane, sidecars, gateway and sample apps as real processes. One demo serves the whole
 * file; it runs on free ports (never the user's 15010/15014/8080) with its own state dir.
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
import { waitUntil } from './local-test-helpers.js';

// this file's own address block: test files run in parallel with separate state dirs
process.env.CLEW_LOCAL_FIRST_BLOCK = '40';

const NET = 'samples/bookinfo/networking';
// not the helpers' temp dir: their cleanup may run before our after() hook has stopped the demo
const stateDir = mkdtempSync(join(tmpdir(), 'clew-walkthrough-'));
let ports: { xds: number; debug: number; gateway: number };
let state: DemoState | undefined;
let demoStopped = false;

function clew(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'clew.js'), ...args], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, CLEW_STATE_DIR: stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
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

const cp = (): string[] => ['--control-plane', `http://127.0.0.1:${ports.debug}`];

async function apply(file: string): Promise<void> {
  const r = await clew(['apply', '-f', file, ...cp()]);
  assert.equal(r.code, 0, `clew apply -f ${file}: ${r.out}`);
}

async function del(file: string): Promise<void> {
  const r = await clew(['delete', '-f', file, ...cp()]);
  assert.equal(r.code, 0, `clew delete -f ${file}: ${r.out}`);
}

type Kind = 'none' | 'black' | 'red' | 'ratings-error' | 'reviews-error';

function classify(html: string): Kind {
  if (html.includes('Sorry, product reviews are currently unavailable for this book.')) return 'reviews-error';
  if (html.includes('Ratings service is currently unavailable')) return 'ratings-error';
  const black = html.includes('data-color="black"');
  const red = html.includes('data-color="red"');
  assert.ok(!(black && red), 'one page mixes black and red stars');
  if (black) return 'black';
  if (red) return 'red';
  assert.match(html, /Reviewer1/, 'a page without stars still shows the reviews');
  return 'none';
}

async function page(cookie?: string): Promise<{ status: number; html: string; ms: number }> {
  const t0 = Date.now();
  const res = await request(`http://127.0.0.1:${ports.gateway}/productpage`, {
    headers: cookie ? { cookie } : {},
    headersTimeout: 30_000,
  });
  const html = await res.body.text();
  return { status: res.statusCode, html, ms: Date.now() - t0 };
}

async function kinds(n: number, cookie?: string): Promise<Record<Kind, number>> {
  const count: Record<Kind, number> = { none: 0, black: 0, red: 0, 'ratings-error': 0, 'reviews-error': 0 };
  for (let i = 0; i < n; i++) {
    const p = await page(cookie);
    assert.equal(p.status, 200);
    count[classify(p.html)]++;
  }
  return count;
}

/** Polls (bounded) until one page load for `cookie` is of `kind`: config has propagated. */
async function until(kind: Kind, cookie?: string, ms = 20_000): Promise<void> {
  await waitUntil(async () => classify((await page(cookie)).html) === kind, ms, `a ${kind} page`);
}

async function login(user: string): Promise<string> {
  const res = await request(`http://127.0.0.1:${ports.gateway}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `username=${user}&passwd=x`,
  });
  await res.body.dump();
  const setCookie = res.headers['set-cookie'];
  const first = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  assert.ok(first, `login answered ${res.statusCode} without a cookie`);
  return first.split(';')[0];
}

function allPids(s: DemoState): number[] {
  return [s.supervisorPid, ...s.pids, ...(s.guardPid ? [s.guardPid] : [])];
}

before(async () => {
  const [xds, debug, gateway, secure] = await freePorts('127.0.0.1', 4);
  ports = { xds, debug, gateway };
  const r = await clew([
    'demo', '--detach', '--xds-port', String(xds), '--secure-xds-port', String(secure), '--debug-port', String(debug), '--gateway-port', String(gateway), '--dashboard-port', '0', '--ready-timeout', '120',
  ], 150_000);
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
  assert.ok(state, 'the state file exists');
  assert.match(r.out, new RegExp(`http://127\\.0\\.0\\.1:${gateway}/productpage`));
}, { timeout: 160_000 });

after(async () => {
  if (state && !demoStopped) {
    const r = await clew(['demo', 'stop'], 30_000);
    // last resort: the supervisor stops its children on SIGTERM
    if (r.code !== 0 && pidAlive(state.supervisorPid)) process.kill(state.supervisorPid, 'SIGTERM');
  }
  rmSync(stateDir, { recursive: true, force: true });
}, { timeout: 40_000 });

test('1: /productpage shows the book, and all three reviews versions answer', { timeout: 60_000 }, async () => {
  const p = await page();
  assert.equal(p.status, 200);
  assert.match(p.html, /The Comedy of Errors/);
  const seen = await kinds(30);
  assert.ok(seen.none > 0 && seen.black > 0 && seen.red > 0, `versions seen over 30 loads: ${JSON.stringify(seen)}`);
});

test('2: virtual-service-reviews-50-v3 splits v1/v3 about evenly, never v2', { timeout: 120_000 }, async () => {
  await apply(`${NET}/virtual-service-reviews-50-v3.yaml`);
  // propagated once 15 loads in a row show no black star
  await waitUntil(async () => (await kinds(15)).black === 0, 30_000, 'no black stars');
  const seen = await kinds(100);
  assert.equal(seen.black, 0, JSON.stringify(seen));
  assert.ok(seen.none >= 35 && seen.none <= 65, `v1 share ${seen.none}%`);
  assert.ok(seen.red >= 35 && seen.red <= 65, `v3 share ${seen.red}%`);
});

test('3: virtual-service-reviews-jason-v2-v3: jason always black, anonymous always red', { timeout: 120_000 }, async () => {
  await apply(`${NET}/virtual-service-reviews-jason-v2-v3.yaml`);
  const jason = await login('jason');
  await until('black', jason);
  const j = await kinds(20, jason);
  assert.equal(j.black, 20, `jason: ${JSON.stringify(j)}`);
  await until('red');
  const anon = await kinds(20);
  assert.equal(anon.red, 20, `anonymous: ${JSON.stringify(anon)}`);
});

test('4: ratings delay: jason gets the reviews error after ~6 s; abort: the ratings error', { timeout: 120_000 }, async () => {
  const jason = await login('jason');
  await apply(`${NET}/virtual-service-ratings-test-delay.yaml`);
  await waitUntil(async () => classify((await page(jason)).html) === 'reviews-error', 40_000, 'the delay to reach jason');
  const slow = await page(jason);
  assert.equal(classify(slow.html), 'reviews-error');
  assert.ok(slow.ms >= 5000 && slow.ms <= 10_000, `jason waited ${slow.ms} ms (productpage: 3 s timeout, tried twice)`);
  const anon = await page();
  assert.equal(classify(anon.html), 'red');
  assert.ok(anon.ms < 2000, `anonymous waited ${anon.ms} ms`);

  await apply(`${NET}/virtual-service-ratings-test-abort.yaml`);
  await until('ratings-error', jason);
  const j = await kinds(5, jason);
  assert.equal(j['ratings-error'], 5, JSON.stringify(j));
  assert.equal(classify((await page()).html), 'red');
});

test('5: circuit breaking on httpbin: clew load through the mesh client sees 200s and 503s', { timeout: 120_000 }, async () => {
  await apply('samples/httpbin/destination-rule-circuit-breaker.yaml');
  await new Promise((r) => setTimeout(r, 1500));
  let out = '';
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = await clew(['load', '-c', '3', '-qps', '0', '-n', '30', '--proxy', state!.client.proxyUrl, 'http://httpbin:8000/get']);
    out = r.out;
    if (/Code 200/.test(out) && /Code 503/.test(out)) break;
    await new Promise((res) => setTimeout(res, 1000));
  }
  assert.match(out, /Code 200/);
  assert.match(out, /Code 503/);
  await del('samples/httpbin/destination-rule-circuit-breaker.yaml');
});

/** A plaintext GET straight to a pod's address (no sidecar of ours): status, or 0 when refused. */
async function direct(url: string): Promise<number> {
  try {
    const res = await request(url, { headersTimeout: 5000, bodyTimeout: 5000, reset: true });
    await res.body.dump();
    return res.statusCode;
  } catch {
    return 0;
  }
}

test('6: mutual TLS: certificates in proxy-config secret, httpbin sees the caller by its SPIFFE URI, STRICT refuses plaintext to a pod', { timeout: 120_000 }, async () => {
  const secret = await clew(['proxy-config', 'secret', 'reviews-v1.default', ...cp()]);
  assert.equal(secret.code, 0, secret.out);
  assert.match(secret.out, /^default\s+Cert Chain\s+ACTIVE\s+true\s+[0-9a-f]+/m);
  assert.match(secret.out, /^ROOTCA\s+CA\s+ACTIVE\s+true/m);
  const headers = await request('http://httpbin:8000/headers', { dispatcher: new ProxyAgent({ uri: state!.client.proxyUrl, proxyTunnel: false }) });
  const xfcc = String(((await headers.body.json()) as any).headers['X-Forwarded-Client-Cert']);
  assert.match(xfcc, /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/httpbin;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/fortio$/);
  const reviews = state!.pods.find((p) => p.name === 'reviews-v1')!;
  const url = `http://${reviews.address}:9080/reviews/0`;
  assert.equal(await direct(url), 200, 'PERMISSIVE (the default): plaintext to the pod is served');
  await apply(`${NET}/peer-authentication-strict.yaml`);
  await waitUntil(async () => (await direct(url)) === 0, 20_000, 'STRICT: plaintext to the pod refused');
  assert.equal((await page()).status, 200, 'the mesh keeps working under STRICT');
  await del(`${NET}/peer-authentication-strict.yaml`);
  await waitUntil(async () => (await direct(url)) === 200, 20_000, 'PERMISSIVE again');
});

test('7: deleting the config restores the original behaviour; demo stop leaves no process', { timeout: 120_000 }, async () => {
  await del(`${NET}/virtual-service-ratings-test-abort.yaml`);
  await del(`${NET}/virtual-service-reviews-jason-v2-v3.yaml`);
  const jason = await login('jason');
  await waitUntil(async () => {
    const k = await kinds(15, jason);
    return k.none > 0 && k.black > 0 && k.red > 0;
  }, 30_000, 'all three versions again');

  const s = state!;
  const r = await clew(['demo', 'stop'], 40_000);
  assert.equal(r.code, 0, r.out);
  demoStopped = true;
  for (const pid of allPids(s)) assert.equal(pidAlive(pid), false, `pid ${pid} survived clew demo stop`);
  assert.equal(readDemoState(stateDir), undefined, 'the state file is removed');
  const again = await clew(['demo', 'stop']);
  assert.equal(again.code, 1);
  assert.match(again.out, /no demo is running/);
});
