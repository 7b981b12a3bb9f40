/**
 * Issue 23 item 9, as reported: a flood of idle connections used up the proxy's file descriptors
 * and every new client was reset. A real `clew proxy` under a descriptor limit of 256 (default
 * global connection limit: 256 less a reserve of 64) takes 400 idle connections: those over the
 * limit are closed and counted, the proxy logs why, and new clients are still served (idle
 * connections make room; descriptors are left for the upstream connections). Listener stats are
 * named by address, as Envoy's (`listener.0.0.0.0_15001.*`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { httpRequest, waitFor } from '../helpers/harness.js';
import { spawnProxy, startInventoryXds } from '../helpers/proxy-process.js';

const FLOOD = 400;

test('400 idle connections against a proxy limited to 256 descriptors: new clients are still served', { timeout: 90_000 }, async (t) => {
  const { echo, xds, ports, proxyArgs } = await startInventoryXds();
  const proxy = spawnProxy([...proxyArgs, '--id', 'client.default', '--address', '127.0.0.1', '--log-level', 'warn'], ['prlimit', '--nofile=256:256']);
  const flood: net.Socket[] = [];
  try {
    await proxy.waitReady(ports.ready, 30_000);
    let closedByProxy = 0;
    for (let i = 0; i < FLOOD; i++) {
      const s = net.connect(ports.outbound, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closedByProxy++);
      flood.push(s);
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => closedByProxy >= FLOOD - 192, 15_000, `connections over the limit closed (${closedByProxy} so far)`);
    // the idle ones become old enough to be closed for new clients
    await new Promise((r) => setTimeout(r, 1200));
    for (let i = 0; i < 20; i++) {
      const r = await httpRequest({ port: ports.outbound, path: `http://inventory:9080/after-flood/${i}`, host: 'inventory:9080' });
      assert.equal(r.status, 200, `request ${i} after the flood: ${r.status} ${r.body}; proxy stderr:\n${proxy.stderr}`);
    }
    assert.equal(echo.requests.filter((r) => r.url.startsWith('/after-flood/')).length, 20);
    const stats = (await httpRequest({ port: ports.admin, path: '/stats' })).body;
    const overflow = Number(/^listener\.0\.0\.0\.0_15001\.downstream_global_cx_overflow: (\d+)$/m.exec(stats)?.[1] ?? 0);
    const evicted = Number(/^listener\.0\.0\.0\.0_15001\.downstream_cx_idle_evicted: (\d+)$/m.exec(stats)?.[1] ?? 0);
    t.diagnostic(`${closedByProxy} of ${FLOOD} flood connections closed, overflow ${overflow}, idle evicted ${evicted}`);
    assert.ok(overflow >= FLOOD - 192, `overflow counter ${overflow}`);
    assert.ok(evicted >= 1, `idle connections closed to make room: ${evicted}`);
    assert.match(proxy.stderr, /downstream connections open, the limit \(--max-downstream-connections 192\)/);
    assert.equal(proxy.child.exitCode, null, 'the proxy is still running');
  } finally {
    for (const s of flood) s.destroy();
    proxy.child.kill('SIGKILL');
    await proxy.exited;
    await xds.stop();
    await echo.close();
  }
});
