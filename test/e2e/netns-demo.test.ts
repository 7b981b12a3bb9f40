/**
 * `clew demo --netns --hosts a,b,c` as a user runs it (root): Bookinfo, httpbin and a sleep pod
 * in network namespaces spread over three "machines", apps unchanged, capture by iptables, names
 * through the sidecars' DNS proxies. One demo serves the file:
 * - in productpage's namespace an unmodified `curl http://reviews:9080/reviews/0` passes both
 *   sidecars (source and destination metrics count it);
 * - TCP: a Debian redis-server pod (`clew run --netns`) and redis-cli from the sleep pod, TCP
 *   bytes counted both ways;
 * - a client without a sidecar (`clew run --netns --no-sidecar`) calling a pod IP still passes
 *   that pod's inbound sidecar;
 * - the walkthrough's routing steps through the gateway;
 * - a host's link cut under load: requests fail over per the DestinationRule (connect timeout,
 *   retries, outlier detection) and the host serves again once back;
 * - `clew demo stop` leaves no namespace, link, route or table entry behind; a killed `clew run`
 *   supervisor is cleaned up by its guard, a run killed with its guard by the next start.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { pidAlive } from '../../src/local/local-address.js';
import { PACKAGE_ROOT } from '../../src/local/local-clew-bin.js';
import { readDemoState, type DemoState } from '../../src/local/local-demo-state.js';
import { freePorts } from '../../src/local/local-ports.js';
import { NetnsNetwork } from '../../src/local/netns-network.js';
import { requireRoot } from '../helpers/netns.js';
import { sweep } from '../helpers/netns-mesh.js';

const PREFIX = 'ctdemo';
const CIDR = '10.205.0.0/16';
const ROOT = '10.205.255.1';
const NET = 'samples/bookinfo/networking';
const stateDir = mkdtempSync(join(tmpdir(), 'clew-netns-demo-'));
const ENV = { CLEW_STATE_DIR: stateDir, CLEW_NETNS_PREFIX: PREFIX, CLEW_POD_CIDR: CIDR };
const CLEW = join(PACKAGE_ROOT, 'bin', 'clew.js');

let state: DemoState;
let gatewayPort: number;
let before4: { nat: string; mangle: string };
const background: ChildProcess[] = [];

// without HTTP_PROXY & co.: the apps and clients under test must not know about any proxy
const cleanEnv = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(https?|all|no)_proxy$/i.test(k)) e[k] = v;
  return { ...e, ...ENV };
};

function clew(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLEW, ...args], { cwd: PACKAGE_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
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

/** A command in a pod's namespace, as root (not the proxy's uid: captured like the app). */
function inPod(pod: string, command: string[], timeoutMs = 30_000): { code: number; stdout: string; stderr: string } {
  const ns = podNs(pod);
  const r = spawnSync('ip', ['netns', 'exec', ns, ...command], { encoding: 'utf8', env: cleanEnv(), timeout: timeoutMs });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function podNs(pod: string): string {
  return `${PREFIX}-pod-${pod}.default`;
}

function podIp(pod: string): string {
  const p = state.netns!.pods.find((x) => x.name === pod);
  assert.ok(p, `no pod ${pod}`);
  return p.ip;
}

function prometheus(pod: string): string {
  return spawnSync('curl', ['-s', '-m', '5', `http://${podIp(pod)}:15090/stats/prometheus`], { encoding: 'utf8' }).stdout;
}

/** Sum of a Prometheus series' samples whose labels include all of `labels`. */
function metric(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function adminStat(pod: string, name: string): number {
  const body = inPod(pod, ['curl', '-s', '-m', '5', 'http://127.0.0.1:15000/stats']).stdout;
  const line = body.split('\n').find((l) => l.startsWith(`${name}: `));
  return line ? Number(line.slice(name.length + 2)) : 0;
}

async function apply(file: string): Promise<void> {
  const r = await clew(['apply', '-f', file, '--control-plane', `http://${ROOT}:15014`]);
  assert.equal(r.code, 0, `clew apply -f ${file}: ${r.out}`);
}

async function applyText(yaml: string): Promise<void> {
  const file = join(stateDir, `cfg-${Date.now()}.yaml`);
  writeFileSync(file, yaml);
  await apply(file);
}

async function del(file: string): Promise<void> {
  const r = await clew(['delete', '-f', file, '--control-plane', `http://${ROOT}:15014`]);
  assert.equal(r.code, 0, `clew delete -f ${file}: ${r.out}`);
}

async function waitUntil(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function rootTables(): { nat: string; mangle: string } {
  const save = (t: string): string => spawnSync('iptables-save', ['-t', t], { encoding: 'utf8' }).stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/ \[\d+:\d+\]$/, '')).join('\n');
  return { nat: save('nat'), mangle: save('mangle') };
}

/** Everything of our network visible from the root namespace. */
function ours(): string[] {
  const out: string[] = [];
  for (const l of spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')) if (l.startsWith(`${PREFIX}-`)) out.push(`netns ${l}`);
  for (const l of spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout.split('\n')) if (l.includes(`${PREFIX}0`)) out.push(`link ${l}`);
  for (const l of spawnSync('ip', ['route'], { encoding: 'utf8' }).stdout.split('\n')) if (l.includes('10.205.')) out.push(`route ${l}`);
  return out;
}

before(async () => {
  requireRoot();
  sweep(PREFIX);
  before4 = rootTables();
  assert.deepEqual(ours(), []);
  [gatewayPort] = await freePorts('127.0.0.1', 1);
  const r = await clew(['demo', '--netns', '--hosts', 'a,b,c', '--detach', '--gateway-port', String(gatewayPort), '--dns-server', ROOT, '--ready-timeout', '120'], 180_000);
  assert.equal(r.code, 0, r.out);
  state = readDemoState(stateDir)!;
  assert.ok(state?.netns, r.out);
}, { timeout: 200_000 });

after(async () => {
  for (const p of background) if (p.exitCode === null) p.kill('SIGKILL');
  // also when before() failed after the detached demo wrote its state
  const s = readDemoState(stateDir) ?? state;
  if (s && pidAlive(s.supervisorPid)) await clew(['demo', 'stop'], 60_000);
  for (const pid of s ? [s.supervisorPid, ...s.pids] : []) {
    if (!pidAlive(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  sweep(PREFIX);
  rmSync(stateDir, { recursive: true, force: true });
});

test('the pods are spread over three hosts, each its own subnet', () => {
  const hosts = new Set(state.netns!.pods.map((p) => p.host));
  assert.deepEqual([...hosts].sort(), ['a', 'b', 'c']);
  for (const p of state.netns!.pods) assert.match(p.ip, /^10\.205\.[123]\.\d+$/);
  assert.notEqual(podIp('productpage-v1').split('.')[2], podIp('details-v1').split('.')[2]);
});

test('in productpage\'s namespace an unmodified curl http://reviews:9080/reviews/0 goes through both sidecars', () => {
  const before = metric(prometheus('productpage-v1'), 'istio_requests_total', { reporter: 'source', destination_service_name: 'reviews', response_code: '200' });
  const r = inPod('productpage-v1', ['curl', '-s', '-m', '10', 'http://reviews:9080/reviews/0']);
  assert.equal(r.code, 0, r.stderr);
  const body = JSON.parse(r.stdout);
  assert.equal(body.id, '0');
  assert.match(body.podname, /^reviews-v[123]$/);
  const after = metric(prometheus('productpage-v1'), 'istio_requests_total', { reporter: 'source', source_workload: 'productpage-v1', destination_service_name: 'reviews', response_code: '200' });
  assert.ok(after > before, 'the productpage sidecar counted it (reporter=source)');
  const server = metric(prometheus(body.podname), 'istio_requests_total', { reporter: 'destination', source_workload: 'productpage-v1', destination_workload: body.podname, response_code: '200' });
  assert.ok(server >= 1, `the ${body.podname} sidecar counted it (reporter=destination)`);
  // the name came from the productpage sidecar's DNS proxy
  assert.ok(adminStat('productpage-v1', 'dns.answered') >= 1);
});

test('TCP through capture: a Debian redis-server pod, redis-cli from another pod, bytes counted both ways', async () => {
  await apply('samples/redis/redis.yaml');
  const run = spawn(process.execPath, [CLEW, 'run', '--netns', '--host', 'c', '--name', 'redis', '--port', '6379', '--',
    'redis-server', '--port', '6379', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  background.push(run);
  let out = '';
  run.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  run.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitUntil(() => /Ready to accept connections/.test(out) || run.exitCode !== null, 30_000, `redis-server: ${out}`);
  assert.match(out.split('\n')[0], new RegExp(`^netns ${PREFIX}-pod-redis\\.default ip 10\\.205\\.3\\.\\d+$`), 'the first line: namespace and IP');
  await waitUntil(() => inPod('sleep', ['redis-cli', '-h', 'redis', 'PING']).stdout.trim() === 'PONG', 20_000, 'redis through the mesh');
  assert.equal(inPod('sleep', ['redis-cli', '-h', 'redis', 'SET', 'greeting', 'hello-through-capture']).stdout.trim(), 'OK');
  assert.equal(inPod('sleep', ['redis-cli', '-h', 'redis.default.svc.cluster.local', 'GET', 'greeting']).stdout.trim(), 'hello-through-capture');
  const src = prometheus('sleep');
  const sel = { reporter: 'source', source_workload: 'sleep', destination_service_name: 'redis' };
  assert.ok(metric(src, 'istio_tcp_sent_bytes_total', sel) > 0, 'bytes sent counted');
  assert.ok(metric(src, 'istio_tcp_received_bytes_total', sel) > 0, 'bytes received counted');
  assert.ok(metric(src, 'istio_tcp_connections_opened_total', sel) >= 3);
  const redisIp = /ip (10\.205\.\d+\.\d+)/.exec(out)![1];
  const dst = spawnSync('curl', ['-s', '-m', '5', `http://${redisIp}:15090/stats/prometheus`], { encoding: 'utf8' }).stdout;
  assert.ok(metric(dst, 'istio_tcp_received_bytes_total', { reporter: 'destination', destination_workload: 'redis' }) > 0);
  run.kill('SIGTERM');
  await new Promise((r) => run.once('exit', r));
  assert.ok(!spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(`${PREFIX}-pod-redis.default`), 'the pod\'s namespace is gone');
});

test('a client with no sidecar calling a pod IP passes that pod\'s inbound sidecar (PERMISSIVE) and is refused under STRICT', async () => {
  const run = spawn(process.execPath, [CLEW, 'run', '--netns', '--no-sidecar', '--host', 'b', '--name', 'outsider', '--', 'sleep', '120'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  background.push(run);
  let out = '';
  run.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitUntil(() => /app sleep started/.test(out), 20_000, `clew run --no-sidecar: ${out}`);
  const ns = /^netns (\S+) ip/.exec(out)![1];
  const details = podIp('details-v1');
  const before = metric(prometheus('details-v1'), 'istio_requests_total', { reporter: 'destination', destination_workload: 'details-v1', source_workload: 'unknown' });
  const r = spawnSync('ip', ['netns', 'exec', ns, 'curl', '-s', '-m', '5', `http://${details}:9080/details/0`], { encoding: 'utf8', env: cleanEnv() });
  assert.equal(JSON.parse(r.stdout).author, 'William Shakespeare');
  const afterCount = metric(prometheus('details-v1'), 'istio_requests_total', { reporter: 'destination', destination_workload: 'details-v1', source_workload: 'unknown' });
  assert.equal(afterCount - before, 1, 'the details sidecar saw it inbound (a caller without identity: unknown)');
  // no sidecar: its own traffic is not captured (nothing listens on 15001 there)
  assert.equal(spawnSync('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' }).stdout.includes('ISTIO'), false);

  // STRICT for details: the plaintext caller is refused at the inbound sidecar, mesh callers
  // (mTLS from their sidecars) still pass; back to the default (PERMISSIVE) it passes again
  const outsider = (): ReturnType<typeof spawnSync> =>
    spawnSync('ip', ['netns', 'exec', ns, 'curl', '-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${details}:9080/details/0`], { encoding: 'utf8', env: cleanEnv() });
  const strict = join(stateDir, 'details-strict.yaml');
  writeFileSync(strict, 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: details-strict, namespace: default}\nspec:\n  selector: {matchLabels: {app: details}}\n  mtls: {mode: STRICT}\n');
  await apply(strict);
  try {
    await waitUntil(() => outsider().status !== 0, 20_000, 'the plaintext call to details refused under STRICT');
    const refused = outsider();
    assert.notEqual(refused.status, 0, `curl without a sidecar got ${String(refused.stdout)} under STRICT`);
    const mesh = inPod('productpage-v1', ['curl', '-s', '-m', '10', 'http://details:9080/details/0']);
    assert.equal(mesh.code, 0, mesh.stderr);
    assert.equal(JSON.parse(mesh.stdout).author, 'William Shakespeare', 'a mesh caller still reaches details under STRICT');
  } finally {
    await del(strict);
  }
  await waitUntil(() => outsider().stdout === '200', 20_000, 'the plaintext call to details passing again after the STRICT policy is deleted');
  run.kill('SIGTERM');
  await new Promise((r) => run.once('exit', r));
});

type Kind = 'none' | 'black' | 'red' | 'ratings-error' | 'reviews-error';

function classify(html: string): Kind {
  if (html.includes('Sorry, product reviews are currently unavailable for this book.')) return 'reviews-error';
  if (html.includes('Ratings service is currently unavailable')) return 'ratings-error';
  if (html.includes('data-color="black"')) return 'black';
  if (html.includes('data-color="red"')) return 'red';
  return 'none';
}

async function page(cookie?: string): Promise<Kind> {
  const res = await request(`http://127.0.0.1:${gatewayPort}/productpage`, { headers: cookie ? { cookie } : {}, headersTimeout: 30_000 });
  assert.equal(res.statusCode, 200);
  return classify(await res.body.text());
}

async function login(user: string): Promise<string> {
  const res = await request(`http://127.0.0.1:${gatewayPort}/login`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=${user}&passwd=x`,
  });
  await res.body.dump();
  const c = res.headers['set-cookie'];
  return (Array.isArray(c) ? c[0] : c)!.split(';')[0];
}

test('the walkthrough\'s routing steps pass across the three hosts', { timeout: 120_000 }, async () => {
  await apply(`${NET}/virtual-service-all-v1.yaml`);
  // one page without stars proves nothing (v1 is one of three versions before the route arrives):
  // wait for four in a row, then every page must stay on v1
  await waitUntil(async () => {
    for (let i = 0; i < 4; i++) if ((await page()) !== 'none') return false;
    return true;
  }, 20_000, 'all traffic on v1');
  for (let i = 0; i < 5; i++) assert.equal(await page(), 'none');
  await apply(`${NET}/virtual-service-reviews-jason-v2-v3.yaml`);
  const jason = await login('jason');
  await waitUntil(async () => (await page(jason)) === 'black', 20_000, 'jason on v2');
  await waitUntil(async () => (await page()) === 'red', 20_000, 'the others on v3');
  for (let i = 0; i < 3; i++) assert.equal(await page(jason), 'black');
  await apply(`${NET}/virtual-service-ratings-test-abort.yaml`);
  await waitUntil(async () => (await page(jason)) === 'ratings-error', 20_000, 'ratings aborted for jason');
  assert.equal(await page(), 'red', 'the others are not affected');
  await del(`${NET}/virtual-service-ratings-test-abort.yaml`);
  await del(`${NET}/virtual-service-reviews-jason-v2-v3.yaml`);
  await del(`${NET}/virtual-service-all-v1.yaml`);
});

test('a host\'s link cut under load, then its packets dropped: requests fail over per the DestinationRule, and the host serves again when it returns', { timeout: 180_000 }, async () => {
  // reviews v1 runs on host c, v2 on a, v3 on b (ratings, which v2 and v3 call, on c): cut a
  await applyText(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {tcp: {connectTimeout: 300ms}}
    outlierDetection: {consecutive5xxErrors: 3, consecutiveGatewayErrors: 1, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 100}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "connect-failure,reset,gateway-error"}
    timeout: 8s
`);
  const served = async (): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < 15; i++) {
      const r = inPod('sleep', ['curl', '-s', '-m', '5', 'http://reviews:9080/reviews/0']);
      if (r.code === 0 && r.stdout.startsWith('{')) seen.add(JSON.parse(r.stdout).podname);
    }
    return seen;
  };
  await waitUntil(async () => (await served()).has('reviews-v2'), 20_000, 'all three versions serving');
  const ejections0 = adminStat('sleep', 'cluster.outbound|9080||reviews.default.svc.cluster.local.outlier_detection.ejections_enforced_total');
  const load = spawn('ip', ['netns', 'exec', podNs('sleep'), process.execPath, CLEW, 'load', '-c', '4', '-qps', '40', '-t', '12s', '-timeout', '10s', '-json', 'http://reviews:9080/reviews/0'], {
    env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'],
  });
  background.push(load);
  let json = '';
  load.stdout!.on('data', (d: Buffer) => (json += d.toString()));
  // what `ip link set down` on the host's uplink does (both ends), through the network's own code
  const network = new NetnsNetwork({ prefix: PREFIX, podCidr: CIDR, stateDir });
  const cut = (up: boolean): void => network.setHostLink('a', up);
  await new Promise((r) => setTimeout(r, 3000));
  cut(false);
  await new Promise((r) => setTimeout(r, 6000));
  cut(true);
  await new Promise<void>((r) => load.once('exit', () => r()));
  const result = JSON.parse(json) as { count: number; retCodes: Record<string, number> };
  const ok = result.retCodes['200'] ?? 0;
  assert.ok(result.count >= 300, `only ${result.count} requests`);
  assert.ok(ok / result.count >= 0.98, `failed over: ${JSON.stringify(result.retCodes)}`);
  assert.ok(adminStat('sleep', 'cluster.outbound|9080||reviews.default.svc.cluster.local.outlier_detection.ejections_enforced_total') > ejections0, 'the host behind the cut link was ejected');
  // back: v2 (host a) serves again once its ejection ends
  await waitUntil(async () => (await served()).has('reviews-v2'), 30_000, 'reviews-v2 serving again');

  // the link up but every packet to and from host a dropped (what netem loss 100 % does): no
  // refusal comes back, so the DestinationRule's connect timeout (or the per-try timeout, on a
  // pooled connection) is what detects it; every request is still answered, by another host
  const cluster = 'cluster.outbound|9080||reviews.default.svc.cluster.local';
  const timeouts = (): number => adminStat('sleep', `${cluster}.upstream_cx_connect_timeout`) + adminStat('sleep', `${cluster}.upstream_rq_per_try_timeout`);
  const ejected = (): number => adminStat('sleep', `${cluster}.outlier_detection.ejections_enforced_total`);
  const [timeouts0, ejections1] = [timeouts(), ejected()];
  network.setHostDrop('a', true);
  try {
    const codes: string[] = [];
    for (let i = 0; i < 40 && ejected() === ejections1; i++) {
      codes.push(inPod('sleep', ['curl', '-s', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}', 'http://reviews:9080/reviews/0']).stdout);
    }
    assert.ok(ejected() > ejections1, `host a ejected while its packets were dropped (${codes.length} requests)`);
    assert.ok(timeouts() > timeouts0, 'detected by a timeout, not a refusal');
    assert.deepEqual(codes.filter((c) => c !== '200'), [], 'every request answered by another host');
  } finally {
    network.setHostDrop('a', false);
  }
  await waitUntil(async () => (await served()).has('reviews-v2'), 30_000, 'reviews-v2 serving again after the drop');
});

test('clew demo stop leaves nothing behind; a killed clew run or demo is cleaned by its guards, or by the next start', { timeout: 300_000 }, async () => {
  const stop = await clew(['demo', 'stop'], 60_000);
  assert.equal(stop.code, 0, stop.out);
  assert.deepEqual(ours(), [], 'no namespace, link or route of the network left');
  assert.deepEqual(rootTables(), before4, 'the root namespace\'s nat and mangle tables as before');
  assert.equal(readDemoState(stateDir), undefined);
  for (const pid of [state.supervisorPid, ...state.pids]) assert.equal(pidAlive(pid), false, `pid ${pid} survived`);

  // a supervisor killed with SIGKILL: its guard removes the pod and the network
  const xds = ['--xds-address', '127.0.0.1:1'];
  const runKilled = (): Promise<{ run: ChildProcess; guard: number }> => new Promise((resolve, reject) => {
    const run = spawn(process.execPath, [CLEW, 'run', '--netns', '--no-sidecar', '--name', 'victim', ...xds, '--', 'sleep', '300'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    background.push(run);
    let out = '';
    run.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/app sleep started/.test(out)) {
        const guard = spawnSync('pgrep', ['-P', String(run.pid), '-f', 'netns-guard-main'], { encoding: 'utf8' }).stdout.trim();
        resolve({ run, guard: Number(guard.split('\n')[0]) });
      }
    });
    run.once('exit', () => reject(new Error(`clew run exited: ${out}`)));
  });
  let { run } = await runKilled();
  assert.ok(ours().some((l) => l.includes('victim')));
  run.kill('SIGKILL');
  await waitUntil(() => ours().length === 0, 15_000, 'the guard to remove the killed run\'s pod and network');

  // killed together with its guard: the next start removes the leftover
  const killed = await runKilled();
  run = killed.run;
  assert.ok(killed.guard > 0, 'the guard runs');
  process.kill(killed.guard, 'SIGKILL');
  run.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(ours().some((l) => l.includes('victim')), 'the leftover is still there');
  const next = await clew(['run', '--netns', '--no-sidecar', '--name', 'next', ...xds, '--', 'true'], 60_000);
  assert.match(next.out, /removed the leftover pod victim\.default/);
  assert.deepEqual(ours(), []);
  assert.deepEqual(rootTables(), before4);

  // a demo whose supervisor is killed (its control plane on a host this time): the orphan guard
  // ends every process, the netns guard removes the pods and the network
  const again = await clew(['demo', '--netns', '--hosts', 'a,b', '--control-plane-host', 'b', '--detach', '--gateway-port', String(gatewayPort),
    '--dns-server', ROOT, '--ready-timeout', '120'], 180_000);
  assert.equal(again.code, 0, again.out);
  const s2 = readDemoState(stateDir)!;
  const cpIp = s2.controlPlane.xdsAddress.split(':')[0];
  const onB = s2.netns!.pods.filter((p) => p.host === 'b').map((p) => p.ip.split('.').slice(0, 3).join('.'));
  assert.ok(onB.length > 0 && onB.every((net) => cpIp.startsWith(`${net}.`)), `the control plane ${cpIp} is on host b`);
  assert.equal(JSON.parse(inPod('sleep', ['curl', '-s', '-m', '10', 'http://details:9080/details/0']).stdout).id, 0);
  // the guards too: each exits once its work is done
  const pids2 = [s2.supervisorPid, ...s2.pids, s2.guardPid!, s2.netns!.guardPid!];
  assert.ok(pids2.every((pid) => pid > 0));
  process.kill(s2.supervisorPid, 'SIGKILL');
  await waitUntil(() => ours().length === 0 && !pids2.some(pidAlive), 30_000, 'the killed demo\'s processes, pods and network to be gone');
  assert.deepEqual(rootTables(), before4, 'the root namespace\'s nat and mangle tables as before');
  const stopAfter = await clew(['demo', 'stop'], 30_000);
  assert.match(stopAfter.out, /no demo is running/);
  assert.equal(readDemoState(stateDir), undefined);
});
