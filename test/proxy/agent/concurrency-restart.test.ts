/**
 * `clew proxy --concurrency 2` and SIGHUP: a new generation of two workers starts, and once
 * both are ready both old workers hand over and drain, under load and a stream of fresh
 * connections: nothing fails or is refused, the new workers share the connections, the control
 * plane still sees one stream, SIGTERM then drains and exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { runLoad } from '../../../src/load/load-runner.js';
import { httpRequest, waitFor } from '../helpers/harness.js';
import { spawnProxy, startInventoryXds } from '../helpers/proxy-process.js';
import { alive, keptConnection, servedBy, type KeptConnection } from './socket-owner.js';

test('--concurrency 2, SIGHUP under load: both new workers take over, both old ones drain; nothing fails', async (t) => {
  const { echo, xds, ports: { outbound, admin, ready }, proxyArgs } = await startInventoryXds();
  const proxy = spawnProxy(['--concurrency', '2', ...proxyArgs, '--id', 'client.default', '--address', '127.0.0.1',
    '--drain-duration', '3s', '--parent-shutdown-duration', '6s', '--log-level', 'info']);
  const conns: KeptConnection[] = [];
  try {
    await proxy.waitReady(ready, 30_000);

    const fresh: Array<number | string> = [];
    const inFlight: Array<Promise<unknown>> = [];
    let loadDone = false;
    const freshLoop = (async () => {
      while (!loadDone) {
        inFlight.push(httpRequest({ port: outbound, path: 'http://inventory:9080/fresh', host: 'inventory:9080', headers: { connection: 'close' } })
          .then((r) => fresh.push(r.status), (e: NodeJS.ErrnoException) => fresh.push(e.code ?? e.message)));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const stopLoad = new AbortController();
    setMaxListeners(100, stopLoad.signal);
    const restart = (async () => {
      await new Promise((r) => setTimeout(r, 1000));
      proxy.child.kill('SIGHUP');
      const m = await proxy.waitLog(/epoch 1 \(pids (\d+),(\d+)\) serving; epoch 0 \(pids (\d+),(\d+)\) draining/, 30_000);
      await proxy.waitLog(/proxy epoch 0 worker 0 \(pid \d+\) exited \(code 0\)/, 15_000);
      await proxy.waitLog(/proxy epoch 0 worker 1 \(pid \d+\) exited \(code 0\)/, 15_000);
      return { next: [Number(m[1]), Number(m[2])], old: [Number(m[3]), Number(m[4])], at: Date.now() };
    })().finally(() => setTimeout(() => stopLoad.abort(), 1000));
    const result = await runLoad({ url: 'http://inventory:9080/delay/20', proxy: `http://127.0.0.1:${outbound}`, connections: 20, qps: 100, durationMs: 30_000, headers: [], timeoutMs: 5000 }, { signal: stopLoad.signal });
    const loadEnd = Date.now();
    loadDone = true;
    await freshLoop;
    const { next, old, at } = await restart;
    await Promise.all(inFlight);

    t.diagnostic(`${result.stats.count} load requests over ${result.sockets} sockets, ${fresh.length} fresh connections; old generation gone ${loadEnd - at} ms before the load ended`);
    assert.ok(at < loadEnd, 'the whole hand-over happened under load');
    assert.deepEqual(result.stats.sortedCodes(), [[200, result.stats.count]], `every request succeeded: ${JSON.stringify(result.stats.sortedCodes())}`);
    assert.ok(result.stats.count >= 150, `the load kept going (${result.stats.count} requests)`);
    assert.ok(fresh.length >= 50, `fresh connections kept coming (${fresh.length})`);
    const failures = fresh.filter((x) => x !== 200);
    assert.deepEqual(failures, [], `fresh connections: ${fresh.length}, failures ${JSON.stringify(failures.slice(0, 5))}`);
    for (const p of old) assert.ok(!alive(p), `old worker ${p} is gone`);
    for (const p of next) assert.ok(alive(p), `new worker ${p} serves`);

    // the new generation: epoch 1 on the admin port, one ADS stream, connections on both new workers
    const info = JSON.parse((await httpRequest({ port: admin, path: '/server_info' })).body);
    assert.equal(info.command_line_options.restart_epoch, 1);
    await waitFor(() => xds.connectedStreams === 1, 5000, 'one ADS stream after the hand-over');
    for (let i = 0; i < 4; i++) {
      const c = await keptConnection(outbound);
      conns.push(c);
      assert.equal((await c.get(`http://inventory:9080/new${i}`, 'inventory:9080')).status, 200);
    }
    const owners = conns.map((c) => servedBy(c, outbound, next));
    assert.deepEqual([...new Set(owners.map((o) => o[0]))].sort(), [...next].sort(), `both new workers serve: ${JSON.stringify(owners)}`);

    for (const c of conns) c.close();
    proxy.child.kill('SIGTERM');
    const exit = await proxy.exited;
    assert.equal(exit.code, 0, proxy.stderr);
    for (const p of next) assert.ok(!alive(p), `worker ${p} went with the agent`);
  } finally {
    for (const c of conns) c.close();
    proxy.child.kill('SIGKILL');
    await xds.stop();
    await echo.close();
  }
});
