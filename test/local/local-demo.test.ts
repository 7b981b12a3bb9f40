/**
 * `clew demo` lifecycle with a fake control plane and fake proxies (the sample apps are real):
 * detach/stop, foreground Ctrl-C, refusal on busy ports or a running demo, SIGKILL of the
 * supervisor. The real end-to-end walkthrough is demo-walkthrough.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'undici';
import { listLeases, pidAlive } from '../../src/local/local-address.js';
import { readDemoState, type DemoState } from '../../src/local/local-demo-state.js';
import { freePorts } from '../../src/local/local-ports.js';
import { fixture, startFixture, tempStateDir, waitUntil } from './local-test-helpers.js';

// this file's own address block: test files run in parallel with separate state dirs
process.env.CLEW_LOCAL_FIRST_BLOCK = '30';

async function setup(): Promise<{ dir: string; env: NodeJS.ProcessEnv; flags: string[]; gateway: number; xds: number }> {
  const dir = tempStateDir();
  const [xds, debug, gateway, secure] = await freePorts('127.0.0.1', 4);
  return {
    dir,
    gateway,
    xds,
    env: { CLEW_STATE_DIR: dir, CLEW_LOCAL_CLEW_BIN: fixture('fixture-fake-clew') },
    flags: ['--xds-port', String(xds), '--secure-xds-port', String(secure), '--debug-port', String(debug), '--gateway-port', String(gateway), '--dashboard-port', '0', '--ready-timeout', '30'],
  };
}

function demoPids(s: DemoState): number[] {
  return [s.supervisorPid, ...s.pids, ...(s.guardPid ? [s.guardPid] : [])];
}

async function clew(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const f = startFixture('fixture-fake-clew', args, env);
  const e = await f.exited;
  return { code: e.code, out: f.output() };
}

test('demo --detach returns when ready, writes the state; demo stop ends every process', { timeout: 90_000 }, async () => {
  const { dir, env, flags, gateway } = await setup();
  const r = await clew(['demo', '--detach', ...flags], env);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`Bookinfo is ready: http://127\\.0\\.0\\.1:${gateway}/productpage`));
  assert.match(r.out, new RegExp(`port 80 is served on 127\\.0\\.0\\.1:${gateway}`));
  assert.match(r.out, /clew apply -f samples\/bookinfo\/networking\/virtual-service-reviews-50-v3\.yaml/);
  assert.match(r.out, /clew load -c 3 -qps 0 -n 30 --proxy http:\/\/127\.0\.\d+\.\d+:15001 http:\/\/httpbin:8000\/get/);
  const s = readDemoState(dir);
  assert.ok(s);
  assert.equal(s.pods.length, 7, 'six Bookinfo workloads and httpbin');
  assert.ok(demoPids(s).every(pidAlive));
  assert.equal(new Set(s.pods.map((p) => p.address)).size, 7, 'one address per pod');
  const details = s.pods.find((p) => p.name === 'details-v1')!;
  const res = await request(`http://${details.address}:9080/details/0`);
  assert.equal(res.statusCode, 200, 'the sample app answers behind its sidecar');
  assert.match(await res.body.text(), /William Shakespeare/);

  const second = await clew(['demo', '--detach', ...flags], env);
  assert.equal(second.code, 1);
  assert.match(second.out, /a demo is already running/);

  const stop = await clew(['demo', 'stop'], env);
  assert.equal(stop.code, 0, stop.out);
  for (const pid of demoPids(s)) assert.equal(pidAlive(pid), false, `pid ${pid} survived`);
  assert.equal(readDemoState(dir), undefined);
  assert.equal(existsSync(s.configDir), false, 'the temporary config dir is removed');
  assert.deepEqual(listLeases(dir), []);

  const again = await clew(['demo', 'stop'], env);
  assert.equal(again.code, 1);
  assert.match(again.out, /no demo is running/);
});

test('foreground demo: Ctrl-C stops everything', { timeout: 90_000 }, async () => {
  const { dir, env, flags } = await setup();
  const f = startFixture('fixture-fake-clew', ['demo', ...flags], env);
  await waitUntil(() => /Bookinfo is ready/.test(f.output()), 60_000, 'the demo to be ready');
  const s = readDemoState(dir)!;
  assert.equal(s.supervisorPid, f.proc.pid);
  assert.match(f.output(), /^\[productpage-v1\] /m, 'children output is prefixed');
  f.proc.kill('SIGINT');
  const e = await f.exited;
  assert.equal(e.code, 0, f.output());
  for (const pid of demoPids(s)) assert.equal(pidAlive(pid), false, `pid ${pid} survived`);
  assert.equal(readDemoState(dir), undefined);
});

test('the demo survives a dead control plane and a dead gateway: the data plane keeps serving, both come back', { timeout: 90_000 }, async () => {
  const { dir, env, flags, gateway } = await setup();
  const f = startFixture('fixture-fake-clew', ['demo', ...flags], env);
  try {
    await waitUntil(() => /Bookinfo is ready/.test(f.output()), 60_000, 'the demo to be ready');
    const s = readDemoState(dir)!;
    const details = s.pods.find((p) => p.name === 'details-v1')!;
    process.kill(s.controlPlane.pid, 'SIGKILL');
    await waitUntil(() => /clew: the control plane killed by SIGKILL; restarting it in 0\.5 s \(restart 1\)/.test(f.output()), 10_000, 'the restart line');
    // while the control plane is away, workloads keep serving (nothing was torn down)
    const res = await request(`http://${details.address}:9080/details/0`);
    assert.equal(res.statusCode, 200);
    await res.body.text();
    assert.ok(s.pods.every((p) => pidAlive(p.sidecarPid) && (!p.appPid || pidAlive(p.appPid))), 'every workload is still up');
    await waitUntil(() => (readDemoState(dir)?.controlPlane.pid ?? s.controlPlane.pid) !== s.controlPlane.pid, 10_000, 'a new control plane pid');
    const debugUrl = readDemoState(dir)!.controlPlane.debugUrl;
    await waitUntil(async () => (await request(`${debugUrl}/ready`).then((r) => r.body.text().then(() => r.statusCode)).catch(() => 0)) === 200, 10_000, 'the new control plane to be ready');
    // the gateway too
    process.kill(s.gateway.pid, 'SIGKILL');
    await waitUntil(() => /clew: the ingress gateway killed by SIGKILL; restarting it/.test(f.output()), 10_000, 'the gateway restart line');
    await waitUntil(async () => (await request(`http://127.0.0.1:${gateway}/productpage`).then((r) => r.body.text().then(() => r.statusCode)).catch(() => 0)) === 200, 10_000, 'the gateway back');
    assert.equal(f.proc.exitCode, null, 'the demo is still running');
  } finally {
    f.proc.kill('SIGINT');
    await f.exited;
  }
});

test('SIGKILL of the demo supervisor: its children die too', { timeout: 90_000 }, async () => {
  const { dir, env, flags } = await setup();
  const f = startFixture('fixture-fake-clew', ['demo', ...flags], { ...env, CLEW_WATCHDOG_GRACE_MS: '1000' });
  await waitUntil(() => /Bookinfo is ready/.test(f.output()), 60_000, 'the demo to be ready');
  const s = readDemoState(dir)!;
  f.proc.kill('SIGKILL');
  await waitUntil(() => s.pids.every((p) => !pidAlive(p)), 8000, 'the orphans to be ended');
  await waitUntil(() => readDemoState(dir) === undefined, 3000, 'the guard to remove the state file');
  assert.deepEqual(listLeases(dir), []);
});

test('demo refuses busy control-plane ports with a clear message', { timeout: 30_000 }, async () => {
  const { env, flags, xds } = await setup();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(xds, '127.0.0.1', () => r()));
  try {
    const r = await clew(['demo', '--detach', ...flags], env);
    assert.equal(r.code, 1);
    assert.match(r.out, new RegExp(`port already in use: 127\\.0\\.0\\.1:${xds} \\(control-plane xDS`));
  } finally {
    blocker.close();
  }
});
