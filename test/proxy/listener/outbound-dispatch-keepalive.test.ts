/**
 * Local mode routes every request by its own Host: on one keep-alive connection, requests for
 * different services reach their own upstreams in any order, and a listener update (a new
 * route for the same Host) takes effect for the next request on a connection that is already
 * open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { outboundHttpListener, outboundTcpListener, passthroughCluster, route, routeConfig, staticCluster, virtualOutbound, vhost } from '../helpers/resources.js';
import { setAll, startHarness } from '../helpers/harness.js';
import { startEcho } from '../helpers/upstreams.js';

const A = 'outbound|9080||a.default.svc.cluster.local';
const B = 'outbound|8000||b.default.svc.cluster.local';

/** one keep-alive connection; each call sends a request and resolves with the x-served-by header */
function keepAlive(port: number): { get(host: string): Promise<string>; close(): void } {
  const s = net.connect(port, '127.0.0.1');
  let buf = '';
  let waiting: ((served: string) => void) | undefined;
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
    if (buf.length < end + 4 + len) return;
    const served = /x-served-by: ([^\r]+)/i.exec(buf.slice(0, end))?.[1] ?? `(${buf.slice(0, buf.indexOf('\r\n'))})`;
    buf = buf.slice(end + 4 + len);
    const w = waiting;
    waiting = undefined;
    w?.(served);
  });
  return {
    get: (host) =>
      new Promise((resolve) => {
        waiting = resolve;
        s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      }),
    close: () => s.destroy(),
  };
}

test('one keep-alive connection: each request goes where its Host says; a listener update applies to the next request', async () => {
  const a = await startEcho('a');
  const b = await startEcho('b');
  const listeners = [virtualOutbound(0), outboundHttpListener(9080), outboundHttpListener(8000)];
  const routes = [
    routeConfig('9080', [vhost('a', ['a:9080'], [route({ prefix: '/' }, A)])]),
    routeConfig('8000', [vhost('b', ['b:8000'], [route({ prefix: '/' }, B)])]),
  ];
  const h = await startHarness({
    clusters: [staticCluster(A, [['127.0.0.1', a.port]]), staticCluster(B, [['127.0.0.1', b.port]]), passthroughCluster()],
    endpoints: [],
    listeners,
    routes,
  });
  const c = keepAlive(h.outbound);
  try {
    assert.deepEqual([await c.get('a:9080'), await c.get('a:9080'), await c.get('b:8000'), await c.get('a:9080'), await c.get('b:8000')], ['a', 'a', 'b', 'a', 'b']);
    // LDS: port 9080 becomes a TCP chain to b; the open connection's next a:9080 request follows it
    setAll(h.xds, { listeners: [virtualOutbound(0), outboundTcpListener(9080, B), outboundHttpListener(8000)] });
    const end = Date.now() + 3000;
    let served = await c.get('a:9080');
    while (served !== 'b' && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      served = await c.get('a:9080');
    }
    assert.equal(served, 'b');
    assert.equal(await c.get('b:8000'), 'b');
  } finally {
    c.close();
    await h.close();
    await a.close();
    await b.close();
  }
});
