/**
 * max_headers_count holds for HTTP/2 too (issue 23 item 9: 10,000 request headers were
 * forwarded; Envoy's default limit is 100): a request with more fields is refused (the stream is
 * reset, as Envoy's HTTP/2 codec does) and never reaches the upstream; one within the limit is
 * served.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { boundHttpListener, route, routeConfig, staticCluster, vhost } from '../helpers/resources.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let upstream: http.Server;
const seen: string[] = [];

before(async () => {
  upstream = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  h = await startHarness({
    clusters: [staticCluster('b', [['127.0.0.1', (upstream.address() as net.AddressInfo).port]])],
    listeners: [boundHttpListener('gw', '127.0.0.1', 0, 'r')],
    routes: [routeConfig('r', [vhost('all', ['*'], [route({ prefix: '/' }, 'b')])])],
  });
});

after(async () => {
  await h?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

function get(path: string, fields: number): Promise<{ status?: number; error?: string }> {
  const c = http2.connect(`http://127.0.0.1:${h.proxy.listenerPort('gw')!}`);
  c.on('error', () => undefined);
  const headers: http2.OutgoingHttpHeaders = { ':path': path, ':authority': 'x' };
  for (let i = 0; i < fields; i++) headers[`x-f${i}`] = 'v';
  return new Promise((resolve) => {
    const rq = c.request(headers);
    rq.on('response', (hs) => resolve({ status: Number(hs[':status']) }));
    rq.on('error', (e: Error) => resolve({ error: e.message }));
    rq.on('close', () => resolve({ error: `closed (rst ${rq.rstCode})` }));
    rq.resume();
    rq.end();
  }).finally(() => c.destroy()) as Promise<{ status?: number; error?: string }>;
}

test('HTTP/2: 96 fields are served; 150 and 10,000 are refused and never forwarded', async () => {
  assert.deepEqual(await get('/within', 96), { status: 200 });
  for (const n of [150, 10_000]) {
    const r = await get(`/over-${n}`, n);
    assert.equal(r.status === 200, false, `${n} fields: ${JSON.stringify(r)}`);
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(seen, ['/within']);
});
