/**
 * `clew proxy` drains on SIGTERM (real process, real load): it keeps serving while discouraging
 * every connection (`connection: close`), readiness fails, and it exits 0 once its callers have
 * gone quiet, not after the whole drain duration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { runLoad } from '../../src/load/load-runner.js';
import type { StaticXds } from './helpers/static-xds.js';
import { httpRequest, waitFor } from './helpers/harness.js';
import type { EchoServer } from './helpers/upstreams.js';
import { spawnProxy, startInventoryXds, type ProxyProcess } from './helpers/proxy-process.js';

async function setup(drain: string, parentShutdown: string): Promise<{ echo: EchoServer; xds: StaticXds; proxy: ProxyProcess; outbound: number; ready: number }> {
  const { echo, xds, ports: { outbound, ready }, proxyArgs } = await startInventoryXds();
  const proxy = spawnProxy([...proxyArgs, '--id', 'client.default', '--address', '127.0.0.1',
    '--drain-duration', drain, '--parent-shutdown-duration', parentShutdown, '--log-level', 'warn']);
  await proxy.waitReady(ready, 30_000);
  return { echo, xds, proxy, outbound, ready };
}

test('SIGTERM under 200 rps: no failed request, connections told to close, exit 0 once callers are quiet', async (t) => {
  const { echo, xds, proxy, outbound, ready } = await setup('20s', '30s');
  try {
    let sigtermAt = 0;
    const readyDuringDrain: number[] = [];
    const term = setTimeout(() => {
      sigtermAt = Date.now();
      proxy.child.kill('SIGTERM');
      void (async () => {
        await new Promise((r) => setTimeout(r, 300));
        // a refused probe is recorded (-1), so the assertion below shows the proxy's stderr
        readyDuringDrain.push(await httpRequest({ port: ready, path: '/healthz/ready' }).then((r) => r.status, () => -1));
      })();
    }, 1000);
    // 3 s at 200 rps over 40 keep-alive connections, 100 ms per request (~20 in flight at SIGTERM);
    // the load goes on for 2 s after SIGTERM, then the callers stop
    const result = await runLoad({ url: 'http://inventory:9080/delay/100', proxy: `http://127.0.0.1:${outbound}`, connections: 40, qps: 200, durationMs: 3000, headers: [], timeoutMs: 5000 });
    const loadEnd = Date.now();
    clearTimeout(term);
    assert.ok(sigtermAt > 0, 'SIGTERM was sent during the load');
    assert.deepEqual(result.stats.sortedCodes(), [[200, result.stats.count]], `every request succeeded: ${JSON.stringify(result.stats.sortedCodes())}; proxy stderr:\n${proxy.stderr}`);
    // 600 at 200 rps on a quiet machine; fewer on a loaded one (the load generator is closed-loop)
    assert.ok(result.stats.count >= 150, `hundreds of requests sent, got ${result.stats.count}`);
    // after SIGTERM every response said `connection: close`: every later request opened a
    // connection (~400 on a quiet machine), and was served
    assert.ok(result.sockets > 40 + 50, `connections were told to close while draining (${result.sockets} sockets opened)`);
    assert.deepEqual(readyDuringDrain, [503], `readiness while draining (-1: refused); proxy stderr:\n${proxy.stderr}`);
    const exit = await proxy.exited;
    assert.equal(exit.code, 0, proxy.stderr);
    // exits about one quiet period (1 s) after the last request, long before the 20 s drain duration
    const afterLoad = exit.at - loadEnd;
    t.diagnostic(`${result.stats.count} requests, ${result.sockets} sockets, exit ${afterLoad} ms after the load, ${exit.at - sigtermAt} ms after SIGTERM`);
    assert.ok(afterLoad >= 700 && afterLoad < 6000, `exit ${afterLoad} ms after the load ended`);
    assert.ok(exit.at - sigtermAt < 10_000, `exit ${exit.at - sigtermAt} ms after SIGTERM`);
  } finally {
    proxy.child.kill('SIGKILL');
    await xds.stop();
    await echo.close();
  }
});

test('SIGTERM with slow requests in flight: they finish (connection: close), then the process exits', async (t) => {
  const { echo, xds, proxy, outbound } = await setup('20s', '30s');
  try {
    const done: Array<{ status: number; connection: string | undefined; at: number }> = [];
    const slow = Array.from({ length: 5 }, () =>
      new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: outbound, path: 'http://inventory:9080/delay/1500', headers: { host: 'inventory:9080' }, agent: new http.Agent({ keepAlive: true }) }, (res) => {
          res.resume();
          res.on('end', () => {
            done.push({ status: res.statusCode ?? 0, connection: res.headers.connection, at: Date.now() });
            resolve();
          });
        });
        req.on('error', reject);
        req.end();
      }),
    );
    await waitFor(() => echo.requests.filter((r) => r.url === '/delay/1500').length === 5, 3000, 'requests in flight');
    const sigtermAt = Date.now();
    proxy.child.kill('SIGTERM');
    await Promise.all(slow);
    assert.deepEqual(done.map((d) => d.status), [200, 200, 200, 200, 200]);
    assert.deepEqual(done.map((d) => d.connection), ['close', 'close', 'close', 'close', 'close']);
    const exit = await proxy.exited;
    assert.equal(exit.code, 0, proxy.stderr);
    const last = Math.max(...done.map((d) => d.at));
    t.diagnostic(`last response ${last - sigtermAt} ms after SIGTERM, exit ${exit.at - last} ms after it`);
    assert.ok(last - sigtermAt >= 1000, 'the requests were in flight when SIGTERM came');
    assert.ok(exit.at - last >= 700 && exit.at - last < 6000, `exit ${exit.at - last} ms after the last response (drain duration 20 s)`);
  } finally {
    proxy.child.kill('SIGKILL');
    await xds.stop();
    await echo.close();
  }
});
