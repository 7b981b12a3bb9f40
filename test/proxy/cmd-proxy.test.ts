/** `clew proxy` as a child process: flags, readiness, proxying, /quitquitquit, usage errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { httpRequest, viaProxy, waitFor } from './helpers/harness.js';
import { startInventoryXds } from './helpers/proxy-process.js';
import { CLEW_BIN as CLEW } from '../helpers/paths.js';


test('clew proxy serves the control plane config and quits on POST /quitquitquit', async () => {
  const { echo, xds, ports: { outbound, admin, ready }, proxyArgs } = await startInventoryXds();
  const child = spawn(process.execPath, [CLEW, 'proxy', ...proxyArgs, '--id', 'client.default', '--labels', 'app=client,version=v1',
    '--address', '127.0.0.1', '--port', '9080', '--app-port', '9080=127.0.0.1:19080', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await waitFor(async () => {
      try {
        return (await httpRequest({ port: ready, path: '/healthz/ready' })).status === 200;
      } catch {
        return false;
      }
    }, 8000, `ready (${stderr})`);
    const r = await viaProxy(outbound, 'http://inventory:9080/items');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).url, '/items');
    const node = xds.nodes[0] as { metadata: Record<string, unknown> };
    assert.deepEqual(node.metadata.LABELS, { app: 'client', version: 'v1' });
    assert.equal(node.metadata.CLEW_APP_PORTS, JSON.stringify({ 9080: '127.0.0.1:19080' }));
    assert.equal((await httpRequest({ port: admin, path: '/quitquitquit', method: 'POST' })).status, 200);
    assert.equal(await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 5000))]), 0);
  } finally {
    child.kill();
    await xds.stop();
    await echo.close();
  }
});

test('clew proxy rejects bad flags with the usage exit code', async () => {
  const child = spawn(process.execPath, [CLEW, 'proxy', '--xds-address', '127.0.0.1:1', '--id', 'a.b', '--type', 'bogus'], { stdio: 'ignore' });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 2);
});

test('clew proxy rejects bad drain durations with the usage exit code', async () => {
  const run = (extra: string[]): Promise<number | null> => {
    const child = spawn(process.execPath, [CLEW, 'proxy', '--xds-address', '127.0.0.1:1', '--id', 'a.b', ...extra], { stdio: 'ignore' });
    return new Promise((r) => child.on('exit', (c) => r(c)));
  };
  assert.equal(await run(['--drain-duration', 'soon']), 2);
  assert.equal(await run(['--drain-duration', '30s', '--parent-shutdown-duration', '10s']), 2);
});
