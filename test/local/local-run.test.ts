import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { pidAlive, listLeases } from '../../src/local/local-address.js';
import { appEnv, planPod, sidecarArgs } from '../../src/local/local-pod.js';
import { fixture, startFixture, tempStateDir, waitUntil } from './local-test-helpers.js';

// this file's own address block: test files run in parallel with separate state dirs
process.env.CLEW_LOCAL_FIRST_BLOCK = '20';

function spec(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'web',
    namespace: 'shop',
    labels: { app: 'web', version: 'v1' },
    serviceAccount: 'web-sa',
    ports: [9080],
    app: { command: process.execPath, args: [fixture('fixture-app')] },
    xdsAddress: '127.0.0.1:15010',
    ...extra,
  };
}

function env(dir: string, more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { CLEW_STATE_DIR: dir, CLEW_LOCAL_CLEW_BIN: fixture('fixture-fake-clew'), FAKE_CLEW_ARGS_FILE: join(dir, 'args'), ...more };
}

function podAddress(output: string): string {
  const m = /pod web\.shop on (127\.0\.\d+\.\d+)/.exec(output);
  assert.ok(m, output);
  return m[1];
}

test('the sidecar gets the workload identity, ports and app ports; the app gets HOST/PORT/HTTP_PROXY', async () => {
  const dir = tempStateDir();
  const plan = await planPod(spec({ ports: [9080, 9090] }) as never, dir);
  try {
    const args = sidecarArgs(plan);
    const val = (f: string): string => args[args.indexOf(f) + 1];
    assert.equal(val('--id'), 'web.shop');
    assert.equal(val('--address'), plan.address);
    assert.equal(val('--labels'), 'app=web,version=v1');
    assert.equal(val('--service-account'), 'web-sa');
    assert.equal(val('--interception-mode'), 'NONE');
    const appPorts = args.flatMap((a, i) => (a === '--app-port' ? [args[i + 1]] : []));
    assert.deepEqual(appPorts, [`9080=${plan.address}:${plan.appPorts.get(9080)}`, `9090=${plan.address}:${plan.appPorts.get(9090)}`]);
    assert.notEqual(plan.appPorts.get(9080), plan.appPorts.get(9090));
    const e = appEnv(plan, {});
    assert.equal(e.HOST, plan.address);
    assert.equal(e.PORT, String(plan.appPorts.get(9080)));
    assert.equal(e.PORT_9090, String(plan.appPorts.get(9090)));
    assert.equal(e.HTTP_PROXY, `http://${plan.address}:15001`);
    assert.equal(e.http_proxy, e.HTTP_PROXY);
    assert.equal(e.POD_NAME, 'web');
    assert.equal(e.POD_NAMESPACE, 'shop');
    assert.doesNotMatch(e.NO_PROXY ?? '', /127\.0\.\d+\.\d+\/|127\.0\.0\.0|\*/, 'service traffic must not bypass the sidecar');
    // with credentials: the token and root for the agent, ADS over TLS on the secure port
    plan.spec.credentials = { tokenFile: '/t/web.token', rootCertFile: '/t/root.pem', secureAddress: '127.0.0.1:15012' };
    const withCreds = sidecarArgs(plan);
    const v = (f: string): string => withCreds[withCreds.indexOf(f) + 1];
    assert.equal(v('--xds-address'), '127.0.0.1:15012');
    assert.equal(v('--token-file'), '/t/web.token');
    assert.equal(v('--root-cert'), '/t/root.pem');
    assert.equal(v('--ca-address'), '127.0.0.1:15012');
    assert.ok(withCreds.includes('--xds-tls'));
  } finally {
    plan.network.release();
  }
});

test('clew run: traffic to the pod address reaches the app through the sidecar; SIGTERM stops both', async () => {
  const dir = tempStateDir();
  const f = startFixture('fixture-run', [JSON.stringify(spec())], env(dir));
  await waitUntil(() => /app listening on/.test(f.output()), 10_000, `the app to start: ${f.output()}`);
  const address = podAddress(f.output());
  const res = await request(`http://${address}:9080/`);
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-fake-sidecar'], '1');
  const body = (await res.body.json()) as { pid: number; env: Record<string, string> };
  assert.equal(body.env.HOST, address);
  assert.equal(body.env.POD_NAME, 'web');
  assert.equal(body.env.HTTP_PROXY, `http://${address}:15001`);
  const argv = JSON.parse(readFileSync(join(dir, 'args'), 'utf8').trim()) as string[];
  assert.equal(argv[0], 'proxy');
  assert.ok(argv.includes(`9080=${address}:${body.env.PORT}`));
  f.proc.kill('SIGTERM');
  const e = await f.exited;
  assert.equal(e.code, 0, 'the app handled SIGTERM and exited 0: that is the exit code');
  assert.equal(pidAlive(body.pid), false);
  assert.deepEqual(listLeases(dir), []);
});

test('clew run: when the app exits, the sidecar stops and the app exit code is returned', async () => {
  const dir = tempStateDir();
  const f = startFixture('fixture-run', [JSON.stringify(spec())], env(dir, { FAKE_APP_EXIT_CODE: '7', FAKE_APP_EXIT_AFTER_MS: '300' }));
  const e = await f.exited;
  assert.equal(e.code, 7, f.output());
  assert.match(f.output(), /the app exited \(code 7\), stopping the sidecar/);
  assert.match(f.output(), /\[web\/proxy\] fake proxy: SIGTERM/);
});

test('clew run: a sidecar that dies is restarted with backoff and a line saying why; the app keeps running', async () => {
  const dir = tempStateDir();
  const f = startFixture('fixture-run', [JSON.stringify(spec())], env(dir, { FAKE_PROXY_EXIT_AFTER_MS: '1500' }));
  await waitUntil(() => /app listening on/.test(f.output()), 10_000, 'the app to start');
  await waitUntil(() => /\(restart 2\)/.test(f.output()), 15_000, 'two restarts');
  const out = f.output();
  assert.match(out, /clew: the sidecar of web exit code 3; restarting it in 0\.5 s \(restart 1\)/);
  assert.match(out, /clew: the sidecar of web exit code 3; restarting it in 1\.0 s \(restart 2\)/);
  assert.doesNotMatch(out, /\[web\] app: SIGTERM/, 'the app was not stopped');
  assert.equal(f.proc.exitCode, null, 'clew run is still running');
  // the restarted sidecar is a new process with the same arguments
  const startsOf = () => readFileSync(join(dir, 'args'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
  await waitUntil(() => startsOf().length >= 3, 10_000, 'the third proxy start');
  const starts = startsOf();
  assert.deepEqual(starts[2], starts[0]);
  f.proc.kill('SIGTERM');
  await f.exited;
  assert.match(f.output(), /\[web\] app: SIGTERM/);
});

test('clew run: a sidecar killed by a signal is restarted and the line names the signal', async () => {
  const dir = tempStateDir();
  const f = startFixture('fixture-run', [JSON.stringify(spec())], env(dir));
  await waitUntil(() => /app listening on/.test(f.output()), 10_000, 'the app to start');
  const first = readFileSync(join(dir, 'args'), 'utf8').trim().split('\n').length;
  const m = /\[web\/proxy\] fake proxy on [\d.]+ \(pid (\d+)\)/.exec(f.output());
  assert.ok(m, f.output());
  process.kill(Number(m[1]), 'SIGKILL');
  await waitUntil(() => /clew: the sidecar of web killed by SIGKILL; restarting it in 0\.5 s \(restart 1\)/.test(f.output()), 10_000, 'the restart line');
  await waitUntil(() => readFileSync(join(dir, 'args'), 'utf8').trim().split('\n').length > first, 10_000, 'a new proxy');
  f.proc.kill('SIGTERM');
  await f.exited;
});
