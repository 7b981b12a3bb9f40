/**
 * Issue 23 item 9 edges in the router: a request body is buffered for retries only up to the
 * buffer limit (the route's or virtual host's per_request_buffer_limit_bytes, else the listener's
 * per_connection_buffer_limit_bytes, Envoy's default 1 MiB); a bigger body streams to the upstream
 * and the retry is given up (`retry_or_shadow_abandoned`) instead of the whole body being held in
 * memory. And an upstream answer that is not HTTP is an upstream protocol error: 503 with flag UPE
 * (Envoy's protocol_error), not UC.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import type { StreamInfo } from '../../src/proxy/core/stream-info.js';
import { LOCAL_REPLY } from '../../src/proxy/core/local-reply.js';
import { boundHttpListener, route, routeConfig, staticCluster, vhost } from './helpers/resources.js';
import { httpRequest, startHarness, type Harness } from './helpers/harness.js';

const C = 'backend';
const BAD = 'bad';
let upstream: http.Server;
let bad: net.Server;
let h: Harness;
let failing = 0;
/** body bytes each upstream attempt received */
const attempts: number[] = [];
const infos: StreamInfo[] = [];
const RETRY = { retry_policy: { retry_on: '5xx', num_retries: { value: 2 } } };

before(async () => {
  upstream = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      attempts.push(n);
      if (failing > 0) {
        failing--;
        res.writeHead(503).end('failed');
      } else res.end(String(n));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  // answers every request with a head llhttp rejects
  bad = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.write('HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n'));
  });
  await new Promise<void>((r) => bad.listen(0, '127.0.0.1', () => r()));
  const port = (upstream.address() as net.AddressInfo).port;
  const badPort = (bad.address() as net.AddressInfo).port;
  h = await startHarness(
    {
      clusters: [staticCluster(C, [['127.0.0.1', port]]), staticCluster(BAD, [['127.0.0.1', badPort]])],
      listeners: [boundHttpListener('gw', '127.0.0.1', 0, 'r')],
      routes: [
        routeConfig('r', [
          vhost('all', ['*'], [
            route({ prefix: '/small-limit' }, C, RETRY, { per_request_buffer_limit_bytes: { value: 1024 } }),
            route({ prefix: '/bad' }, BAD),
            route({ prefix: '/' }, C, RETRY),
          ]),
        ]),
      ],
    },
    { observer: { onRequestComplete: (i) => infos.push(i) } },
  );
});

after(async () => {
  await h?.close();
  upstream?.closeAllConnections();
  upstream?.close();
  bad?.close();
});

async function stat(name: string): Promise<number> {
  const text = (await h.admin('/stats')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}: `));
  return line ? Number(line.slice(name.length + 2)) : 0;
}

function post(path: string, size: number, headers: http.OutgoingHttpHeaders = {}) {
  return httpRequest({ port: h.proxy.listenerPort('gw')!, path, method: 'POST', body: 'x'.repeat(size), headers });
}

test('a 9 MiB body on a route with retries reaches the upstream whole (streamed past the 1 MiB buffer limit); the retry is given up and counted', async () => {
  attempts.length = 0;
  const size = 9 * 1024 * 1024;
  const before = await stat(`cluster.${C}.retry_or_shadow_abandoned`);
  const r = await post('/big', size);
  assert.equal(r.status, 200);
  assert.equal(r.body, String(size));
  assert.deepEqual(attempts, [size]);
  assert.equal(await stat(`cluster.${C}.retry_or_shadow_abandoned`), before + 1);
});

test('a chunked body (no content-length) over the limit streams too', async () => {
  attempts.length = 0;
  const size = 3 * 1024 * 1024 + 7;
  const r = await post('/big-chunked', size, { 'transfer-encoding': 'chunked' });
  assert.equal(r.status, 200);
  assert.equal(r.body, String(size));
});

test('a body under the limit is buffered: a 503 is retried with the whole body', async () => {
  attempts.length = 0;
  failing = 1;
  const r = await post('/small', 500);
  assert.equal(r.status, 200);
  assert.equal(r.body, '500');
  assert.deepEqual(attempts, [500, 500]);
});

test("a route's per_request_buffer_limit_bytes: a 2 KB body over its 1 KB limit is not retried", async () => {
  attempts.length = 0;
  failing = 1;
  const before = await stat(`cluster.${C}.retry_or_shadow_abandoned`);
  const r = await post('/small-limit', 2048);
  assert.equal(r.status, 503);
  assert.deepEqual(attempts, [2048]);
  assert.equal(await stat(`cluster.${C}.retry_or_shadow_abandoned`), before + 1);
  failing = 0;
});

test('an upstream answer llhttp rejects: 503, flag UPE, protocol_error details', async () => {
  const n = infos.length;
  const r = await httpRequest({ port: h.proxy.listenerPort('gw')!, path: '/bad' });
  assert.equal(r.status, 503);
  assert.equal(r.body, LOCAL_REPLY.protocolError);
  const info = infos.slice(n).find((i) => i.path === '/bad');
  assert.ok(info, 'no report for /bad');
  assert.deepEqual([...info.responseFlags], ['UPE']);
  assert.equal(info.responseCodeDetails, 'upstream_reset_before_response_started{protocol_error}');
});
