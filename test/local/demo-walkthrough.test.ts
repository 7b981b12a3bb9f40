/**
 * The walkthrough of docs/walkthrough.md, end to end, against real `clew demo --detach`s:
 * control plane, sidecars, gateway and sample apps as real processes. Two demos serve the whole
 * file, side by side, each step run on both at once: one with the machine's own pod addressing
 * (on Linux every pod on its own 127.0.x.y) and one forced to per-pod ports on 127.0.0.1
 * ($CLEW_POD_ADDRESSING=port, as on macOS), so port mode is walked through on Linux too without
 * doubling the file's time. Each runs on free ports (never the user's 15010/15014/8080) with its
 * own state dir.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { pidAlive } from '../../src/local/local-address.js';
import { PACKAGE_ROOT } from '../../src/local/local-clew-bin.js';
import { readDemoState, type DemoState } from '../../src/local/local-demo-state.js';
import { freePorts } from '../../src/local/local-ports.js';
import { waitUntil } from './local-test-helpers.js';

// this file's own address block and port range: test files run in parallel with separate state dirs
process.env.CLEW_LOCAL_FIRST_BLOCK = '40';
delete process.env.CLEW_POD_ADDRESSING;

const NET = 'samples/bookinfo/networking';

interface Demo {
  /** the pod addressing forced on it (undefined: the machine's choice) */
  forced?: 'port';
  /** not the helpers' temp dir: their cleanup may run before our after() hook has stopped the demo */
  stateDir: string;
  env: NodeJS.ProcessEnv;
  ports: { xds: number; debug: number; gateway: number };
  state?: DemoState;
  stopped: boolean;
  out: string;
}

function newDemo(forced?: 'port'): Demo {
  const stateDir = mkdtempSync(join(tmpdir(), `clew-walkthrough-${forced ?? 'auto'}-`));
  const env: NodeJS.ProcessEnv = { CLEW_STATE_DIR: stateDir, ...(forced ? { CLEW_POD_ADDRESSING: forced, CLEW_LOCAL_FIRST_PORT: '22000' } : {}) };
  return { forced, stateDir, env, ports: { xds: 0, debug: 0, gateway: 0 }, stopped: false, out: '' };
}

const demos: Demo[] = [newDemo(), newDemo('port')];
const label = (d: Demo): string => (d.forced ? `[pod addressing ${d.forced}] ` : '[pod addressing auto] ');

/** Runs one walkthrough step on every demo at once. */
async function onEach(step: (d: Demo) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(demos.map(step));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${label(demos[i])}${(r.reason as Error)?.stack ?? String(r.reason)}`] : []));
  if (failed.length > 0) assert.fail(failed.join('\n'));
}

function clew(d: Demo, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'clew.js'), ...args], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, ...d.env },
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

const cp = (d: Demo): string[] => ['--control-plane', `http://127.0.0.1:${d.ports.debug}`];

async function apply(d: Demo, file: string): Promise<void> {
  const r = await clew(d, ['apply', '-f', file, ...cp(d)]);
  assert.equal(r.code, 0, `clew apply -f ${file}: ${r.out}`);
}

async function del(d: Demo, file: string): Promise<void> {
  const r = await clew(d, ['delete', '-f', file, ...cp(d)]);
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

async function page(d: Demo, cookie?: string): Promise<{ status: number; html: string; ms: number }> {
  const t0 = Date.now();
  const res = await request(`http://127.0.0.1:${d.ports.gateway}/productpage`, {
    headers: cookie ? { cookie } : {},
    headersTimeout: 30_000,
  });
  const html = await res.body.text();
  return { status: res.statusCode, html, ms: Date.now() - t0 };
}

async function kinds(d: Demo, n: number, cookie?: string): Promise<Record<Kind, number>> {
  const count: Record<Kind, number> = { none: 0, black: 0, red: 0, 'ratings-error': 0, 'reviews-error': 0 };
  for (let i = 0; i < n; i++) {
    const p = await page(d, cookie);
    assert.equal(p.status, 200);
    count[classify(p.html)]++;
  }
  return count;
}

/** Polls (bounded) until one page load for `cookie` is of `kind`: config has propagated. */
async function until(d: Demo, kind: Kind, cookie?: string, ms = 20_000): Promise<void> {
  await waitUntil(async () => classify((await page(d, cookie)).html) === kind, ms, `a ${kind} page`);
}

async function login(d: Demo, user: string): Promise<string> {
  const res = await request(`http://127.0.0.1:${d.ports.gateway}/login`, {
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

async function startDemo(d: Demo): Promise<void> {
  const [xds, debug, gateway, secure] = await freePorts('127.0.0.1', 4);
  d.ports = { xds, debug, gateway };
  const r = await clew(d, [
    'demo', '--detach', '--xds-port', String(xds), '--secure-xds-port', String(secure), '--debug-port', String(debug), '--gateway-port', String(gateway), '--dashboard-port', '0', '--ready-timeout', '120',
  ], 150_000);
  d.state = readDemoState(d.stateDir);
  d.out = r.out;
  if (r.code !== 0) {
    let log = '';
    try {
      log = readFileSync(join(d.stateDir, 'demo.log'), 'utf8').split('\n').filter((l) => /error|exited|unknown/i.test(l)).slice(-15).join('\n');
    } catch {
      /* no log */
    }
    assert.fail(`clew demo --detach failed (${r.code}):\n${r.out}\n--- demo.log (errors) ---\n${log}`);
  }
  assert.ok(d.state, 'the state file exists');
  assert.match(r.out, new RegExp(`http://127\\.0\\.0\\.1:${gateway}/productpage`));
}

before(async () => {
  await onEach(startDemo);
}, { timeout: 160_000 });

after(async () => {
  await Promise.all(demos.map(async (d) => {
    if (d.state && !d.stopped) {
      const r = await clew(d, ['demo', 'stop'], 30_000);
      // last resort: the supervisor stops its children on SIGTERM
      if (r.code !== 0 && pidAlive(d.state.supervisorPid)) process.kill(d.state.supervisorPid, 'SIGTERM');
    }
    rmSync(d.stateDir, { recursive: true, force: true });
  }));
}, { timeout: 40_000 });

test('0: pod addressing: the machine\'s own (loopback-ip on Linux) and port when forced, shown by clew demo', () => {
  const [auto, port] = demos;
  if (process.platform === 'linux') {
    assert.equal(auto.state!.podAddressing?.mode, 'loopback-ip');
    assert.match(auto.out, /Pod addressing: loopback-ip \(this machine routes 127\.0\.0\.0\/8 to loopback\)/);
    for (const p of auto.state!.pods) assert.notEqual(p.address, '127.0.0.1', `${p.name} has its own address`);
  }
  assert.equal(port.state!.podAddressing?.mode, 'port');
  assert.match(port.out, /Pod addressing: port \(set by \$CLEW_POD_ADDRESSING\)/);
  assert.match(port.out, /productpage-v1\s+9080 at 127\.0\.0\.1:\d+  \(admin \d+\)/);
  const taken = new Set<number>();
  for (const p of port.state!.pods) {
    assert.equal(p.address, '127.0.0.1', p.name);
    for (const n of [...Object.values(p.ports ?? {}), ...Object.values(p.appPorts), p.adminPort!]) {
      assert.ok(n >= 22000 && n <= 32767, `${p.name}: port ${n} in the leased range`);
      assert.ok(!taken.has(n), `${p.name}: port ${n} is another pod's too`);
      taken.add(n);
    }
  }
  assert.equal(port.state!.client.address, '127.0.0.1');
});

test('1: /productpage shows the book, and all three reviews versions answer', { timeout: 60_000 }, () => onEach(async (d) => {
  const p = await page(d);
  assert.equal(p.status, 200);
  assert.match(p.html, /The Comedy of Errors/);
  const seen = await kinds(d, 30);
  assert.ok(seen.none > 0 && seen.black > 0 && seen.red > 0, `versions seen over 30 loads: ${JSON.stringify(seen)}`);
}));

test('2: virtual-service-reviews-50-v3 splits v1/v3 about evenly, never v2', { timeout: 120_000 }, () => onEach(async (d) => {
  await apply(d, `${NET}/virtual-service-reviews-50-v3.yaml`);
  // propagated once 15 loads in a row show no black star
  await waitUntil(async () => (await kinds(d, 15)).black === 0, 30_000, 'no black stars');
  const seen = await kinds(d, 100);
  assert.equal(seen.black, 0, JSON.stringify(seen));
  assert.ok(seen.none >= 35 && seen.none <= 65, `v1 share ${seen.none}%`);
  assert.ok(seen.red >= 35 && seen.red <= 65, `v3 share ${seen.red}%`);
}));

test('3: virtual-service-reviews-jason-v2-v3: jason always black, anonymous always red', { timeout: 120_000 }, () => onEach(async (d) => {
  await apply(d, `${NET}/virtual-service-reviews-jason-v2-v3.yaml`);
  const jason = await login(d, 'jason');
  await until(d, 'black', jason);
  const j = await kinds(d, 20, jason);
  assert.equal(j.black, 20, `jason: ${JSON.stringify(j)}`);
  await until(d, 'red');
  const anon = await kinds(d, 20);
  assert.equal(anon.red, 20, `anonymous: ${JSON.stringify(anon)}`);
}));

test('4: ratings delay: jason gets the reviews error after ~6 s; abort: the ratings error', { timeout: 120_000 }, () => onEach(async (d) => {
  const jason = await login(d, 'jason');
  await apply(d, `${NET}/virtual-service-ratings-test-delay.yaml`);
  await waitUntil(async () => classify((await page(d, jason)).html) === 'reviews-error', 40_000, 'the delay to reach jason');
  const slow = await page(d, jason);
  assert.equal(classify(slow.html), 'reviews-error');
  assert.ok(slow.ms >= 5000 && slow.ms <= 10_000, `jason waited ${slow.ms} ms (productpage: 3 s timeout, tried twice)`);
  const anon = await page(d);
  assert.equal(classify(anon.html), 'red');
  assert.ok(anon.ms < 2000, `anonymous waited ${anon.ms} ms`);

  await apply(d, `${NET}/virtual-service-ratings-test-abort.yaml`);
  await until(d, 'ratings-error', jason);
  const j = await kinds(d, 5, jason);
  assert.equal(j['ratings-error'], 5, JSON.stringify(j));
  assert.equal(classify((await page(d)).html), 'red');
}));

test('5: circuit breaking on httpbin: clew load through the mesh client sees 200s and 503s', { timeout: 120_000 }, () => onEach(async (d) => {
  await apply(d, 'samples/httpbin/destination-rule-circuit-breaker.yaml');
  await new Promise((r) => setTimeout(r, 1500));
  let out = '';
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = await clew(d, ['load', '-c', '3', '-qps', '0', '-n', '30', '--proxy', d.state!.client.proxyUrl, 'http://httpbin:8000/get']);
    out = r.out;
    if (/Code 200/.test(out) && /Code 503/.test(out)) break;
    await new Promise((res) => setTimeout(res, 1000));
  }
  assert.match(out, /Code 200/);
  assert.match(out, /Code 503/);
  await del(d, 'samples/httpbin/destination-rule-circuit-breaker.yaml');
}));

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

test('6: mutual TLS: certificates in proxy-config secret, httpbin sees the caller by its SPIFFE URI, STRICT refuses plaintext to a pod', { timeout: 120_000 }, () => onEach(async (d) => {
  const secret = await clew(d, ['proxy-config', 'secret', 'reviews-v1.default', ...cp(d)]);
  assert.equal(secret.code, 0, secret.out);
  assert.match(secret.out, /^default\s+Cert Chain\s+ACTIVE\s+true\s+[0-9a-f]+/m);
  assert.match(secret.out, /^ROOTCA\s+CA\s+ACTIVE\s+true/m);
  const headers = await request('http://httpbin:8000/headers', { dispatcher: new ProxyAgent({ uri: d.state!.client.proxyUrl, proxyTunnel: false }) });
  const xfcc = String(((await headers.body.json()) as any).headers['X-Forwarded-Client-Cert']);
  assert.match(xfcc, /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/httpbin;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/fortio$/);
  const reviews = d.state!.pods.find((p) => p.name === 'reviews-v1')!;
  // where the pod serves its port 9080: 9080 on its own address, or its own port on 127.0.0.1
  const url = `http://${reviews.address}:${reviews.ports?.['9080'] ?? 9080}/reviews/0`;
  assert.equal(await direct(url), 200, 'PERMISSIVE (the default): plaintext to the pod is served');
  await apply(d, `${NET}/peer-authentication-strict.yaml`);
  await waitUntil(async () => (await direct(url)) === 0, 20_000, 'STRICT: plaintext to the pod refused');
  assert.equal((await page(d)).status, 200, 'the mesh keeps working under STRICT');
  await del(d, `${NET}/peer-authentication-strict.yaml`);
  await waitUntil(async () => (await direct(url)) === 200, 20_000, 'PERMISSIVE again');
}));

test('7: deleting the config restores the original behaviour; demo stop leaves no process', { timeout: 120_000 }, () => onEach(async (d) => {
  await del(d, `${NET}/virtual-service-ratings-test-abort.yaml`);
  await del(d, `${NET}/virtual-service-reviews-jason-v2-v3.yaml`);
  const jason = await login(d, 'jason');
  await waitUntil(async () => {
    const k = await kinds(d, 15, jason);
    return k.none > 0 && k.black > 0 && k.red > 0;
  }, 30_000, 'all three versions again');

  const s = d.state!;
  const r = await clew(d, ['demo', 'stop'], 40_000);
  assert.equal(r.code, 0, r.out);
  d.stopped = true;
  for (const pid of allPids(s)) assert.equal(pidAlive(pid), false, `pid ${pid} survived clew demo stop`);
  assert.equal(readDemoState(d.stateDir), undefined, 'the state file is removed');
  const leases = readdirSync(d.stateDir).filter((f) => f.startsWith('addr-') || f.startsWith('port-'));
  assert.deepEqual(leases, [], 'every address and port lease is given back');
  const again = await clew(d, ['demo', 'stop']);
  assert.equal(again.code, 1);
  assert.match(again.out, /no demo is running/);
}));
