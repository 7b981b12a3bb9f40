/**
 * `clew proxy --concurrency 2`: two worker processes share the listeners. Connections are
 * handed out to both (seen in the kernel's socket tables), the control plane sees one proxy
 * (one ADS stream) and an update reaches both workers, the stats port answers once for the
 * proxy with the workers' requests summed, SIGTERM drains both and exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpRequest, waitFor } from '../helpers/harness.js';
import { INVENTORY_CLUSTER, spawnProxy, startInventoryXds } from '../helpers/proxy-process.js';
import { assignment } from '../helpers/resources.js';
import { ENDPOINT_TYPE } from '../helpers/static-xds.js';
import { startEcho } from '../helpers/upstreams.js';
import { alive, keptConnection, servedBy, type KeptConnection } from './socket-owner.js';

test('--concurrency 2: both workers serve, one ADS stream, updates reach both, stats summed, SIGTERM drains both', async (t) => {
  const { echo, xds, ports: { outbound, stats, ready, admin }, proxyArgs } = await startInventoryXds();
  const v2 = await startEcho('inventory-v2');
  const proxy = spawnProxy(['--concurrency', '2', ...proxyArgs, '--id', 'client.default', '--address', '127.0.0.1',
    '--drain-duration', '2s', '--parent-shutdown-duration', '5s', '--log-level', 'info']);
  const conns: KeptConnection[] = [];
  try {
    const m = await proxy.waitLog(/proxy epoch 0 starting \(pids (\d+),(\d+)\)/, 10_000);
    const pids = [Number(m[1]), Number(m[2])];
    await proxy.waitReady(ready, 30_000);

    // six connections, one after the other: the agent hands them out in turn
    let sent = 0;
    for (let i = 0; i < 6; i++) {
      const c = await keptConnection(outbound);
      conns.push(c);
      const r = await c.get(`http://inventory:9080/c${i}`, 'inventory:9080');
      sent++;
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-served-by'], 'inventory');
    }
    const owners = conns.map((c) => servedBy(c, outbound, pids));
    t.diagnostic(`connection owners: ${JSON.stringify(owners)} (workers ${pids.join(',')})`);
    for (const o of owners) assert.equal(o.length, 1, 'exactly one worker holds each connection');
    const perWorker = pids.map((p) => owners.filter((o) => o[0] === p).length);
    assert.ok(perWorker.every((n) => n >= 2), `both workers took connections: ${perWorker.join(' / ')}`);

    // the control plane sees one proxy: one stream, one node
    assert.equal(xds.connectedStreams, 1, 'one ADS stream for the two workers');
    assert.equal(xds.nodes.length, 1, 'one node announced');
    assert.match((xds.nodes[0] as { id: string }).id, /client\.default/);

    // an EDS update (ACKed once) reaches both workers: every kept connection now lands on v2
    xds.set(ENDPOINT_TYPE, [assignment(INVENTORY_CLUSTER, [['127.0.0.1', v2.port]])]);
    const version = xds.version(ENDPOINT_TYPE);
    await waitFor(() => xds.acks.some((a) => a.typeUrl === ENDPOINT_TYPE && a.version === version), 5000, 'EDS ACK');
    const servedNow = async (): Promise<string[]> =>
      Promise.all(conns.map(async (c, i) => {
        const r = await c.get(`http://inventory:9080/after${i}`, 'inventory:9080');
        sent++;
        return String(r.headers['x-served-by']);
      }));
    let names: string[] = [];
    await waitFor(async () => (names = await servedNow()).every((n) => n === 'inventory-v2'), 5000, `update on every worker (${names})`);
    assert.equal(xds.nacks.length, 0);
    assert.deepEqual(conns.map((c) => servedBy(c, outbound, pids)), owners, 'the same connections, still spread over both workers');

    // one stats port for the proxy: the upstream request counter is the sum over both workers
    // (workers 1..N-1 push every second), whichever connection asks
    const metric = `envoy_cluster_upstream_rq_total{cluster_name="${INVENTORY_CLUSTER}"}`;
    const total = async (): Promise<number> => {
      const body = (await httpRequest({ port: stats, path: '/stats/prometheus' })).body;
      const line = body.split('\n').find((l) => l.startsWith(metric + ' '));
      return line ? Number(line.slice(metric.length + 1)) : -1;
    };
    let seen = -1;
    await waitFor(async () => (seen = await total()) === sent, 5000, `summed upstream_rq_total ${sent} (seen ${seen})`);
    for (let i = 0; i < 4; i++) assert.equal(await total(), sent, 'every fresh connection to the stats port gets the summed value');

    const info = JSON.parse((await httpRequest({ port: admin, path: '/server_info' })).body);
    assert.equal(info.command_line_options.concurrency, 2, '/server_info reports the workers');

    // SIGTERM: both workers drain and exit, then the agent exits 0
    for (const c of conns) c.close();
    proxy.child.kill('SIGTERM');
    const exit = await proxy.exited;
    assert.equal(exit.code, 0, proxy.stderr);
    for (const p of pids) assert.ok(!alive(p), `worker ${p} exited with the agent`);
    assert.match(proxy.stderr, /drained/);
  } finally {
    for (const c of conns) c.close();
    proxy.child.kill('SIGKILL');
    await xds.stop();
    await echo.close();
    await v2.close();
  }
});

test('--concurrency 2: POST /quitquitquit on the admin port stops every worker and the agent (exit 0)', async () => {
  const { echo, xds, ports: { admin, ready }, proxyArgs } = await startInventoryXds();
  const proxy = spawnProxy(['--concurrency', '2', ...proxyArgs, '--id', 'client.default', '--address', '127.0.0.1', '--log-level', 'info']);
  try {
    const m = await proxy.waitLog(/proxy epoch 0 starting \(pids (\d+),(\d+)\)/, 10_000);
    const pids = [Number(m[1]), Number(m[2])];
    await proxy.waitReady(ready, 30_000);
    assert.equal((await httpRequest({ port: admin, path: '/quitquitquit', method: 'POST' })).status, 200);
    const exit = await proxy.exited;
    assert.equal(exit.code, 0, proxy.stderr);
    for (const p of pids) assert.ok(!alive(p), `worker ${p} is gone`);
  } finally {
    proxy.child.kill('SIGKILL');
    await xds.stop();
    await echo.close();
  }
});

test('clew proxy --concurrency takes a whole number from 1 (usage exit code otherwise)', async () => {
  for (const bad of ['0', '1.5', 'many']) {
    const proxy = spawnProxy(['--xds-address', '127.0.0.1:1', '--id', 'a.b', '--concurrency', bad]);
    const exit = await proxy.exited;
    assert.equal(exit.code, 2, `--concurrency ${bad}: ${proxy.stderr}`);
    assert.match(proxy.stderr, /--concurrency/);
  }
});
