/**
 * The HTTP/1.1 codecs through the whole proxy, for behaviour the direct socket I/O rework must
 * keep: a streamed response reaches the caller as it is written, a malformed response on a
 * reused upstream connection fails at once, an upstream named by host name whose first address
 * refuses still answers, and hash policies see the request's own Host.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { outboundHttpListener, passthroughCluster, route, routeConfig, staticCluster, virtualOutbound, vhost } from '../helpers/resources.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { httpRequest, startHarness, viaProxy } from '../helpers/harness.js';

const C = 'outbound|8000||up.default.svc.cluster.local';
const closers: Array<() => unknown> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** a raw TCP upstream; `onConn` gets each accepted socket */
async function rawUpstream(onConn: (s: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

async function proxyTo(port: number, routeExtra: EnvoyResource = {}) {
  const h = await startHarness({
    clusters: [staticCluster(C, [['127.0.0.1', port]]), passthroughCluster()],
    endpoints: [],
    listeners: [virtualOutbound(0), outboundHttpListener(8000)],
    routes: [routeConfig('8000', [vhost('up', ['up:8000'], [route({ prefix: '/' }, C, routeExtra)])])],
  });
  closers.push(() => h.close());
  return h;
}

/** a raw client: everything it reads, and a wait for a condition on it */
function rawClient(port: number) {
  const s = net.connect(port, '127.0.0.1');
  const c = { s, data: '' };
  s.on('data', (d: Buffer) => (c.data += d.toString('latin1')));
  s.on('error', () => undefined);
  closers.push(() => s.destroy());
  const waitFor = async (pred: () => boolean, ms: number): Promise<boolean> => {
    const end = Date.now() + ms;
    while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return pred();
  };
  return { ...c, get data() { return c.data; }, waitFor, write: (x: string) => s.write(x) };
}

test('a streamed response reaches the caller chunk by chunk while it stays open; so does a content-length body in parts', async () => {
  let up: net.Socket | undefined;
  const port = await rawUpstream((s) => {
    s.on('data', (d: Buffer) => {
      up = s;
      if (d.toString().startsWith('GET /stream')) {
        s.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n');
        setTimeout(() => s.write('6\r\nevent1\r\n'), 100);
        setTimeout(() => s.write('6\r\nevent2\r\n'), 200);
      } else {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n');
        setTimeout(() => s.write('hello'), 100);
      }
    });
  });
  const h = await proxyTo(port);
  const c = rawClient(h.outbound);
  c.write('GET /stream HTTP/1.1\r\nhost: up:8000\r\n\r\n');
  assert.ok(await c.waitFor(() => c.data.includes('event1'), 2000), `event1 not forwarded: ${JSON.stringify(c.data)}`);
  assert.ok(await c.waitFor(() => c.data.includes('event2'), 2000), 'event2 not forwarded');
  up!.write('0\r\n\r\n');
  const c2 = rawClient(h.outbound);
  c2.write('GET /parts HTTP/1.1\r\nhost: up:8000\r\n\r\n');
  assert.ok(await c2.waitFor(() => c2.data.includes('hello'), 2000), `first part held back: ${JSON.stringify(c2.data)}`);
  up!.write('world');
  assert.ok(await c2.waitFor(() => c2.data.endsWith('helloworld'), 2000));
});

for (const [name, second] of [
  ['content-length and transfer-encoding', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
  ['a header name with a space', 'HTTP/1.1 200 OK\r\nbad header: x\r\ncontent-length: 2\r\n\r\nok'],
]) {
  test(`after a content-length response, a second response with ${name} on the same connection fails at once`, async () => {
    const port = await rawUpstream((s) => {
      let n = 0;
      s.on('data', (d: Buffer) => {
        const heads = d.toString('latin1').split('\r\n\r\n').length - 1;
        for (let i = 0; i < heads; i++) s.write(++n === 1 ? 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello' : second);
      });
    });
    const h = await proxyTo(port, { timeout: { seconds: 4 } });
    assert.equal((await httpRequest({ port: h.outbound, path: '/1', host: 'up:8000' })).body, 'hello');
    const t0 = Date.now();
    const b = await httpRequest({ port: h.outbound, path: '/2', host: 'up:8000' }).catch(() => ({ status: 0 }));
    assert.ok(b.status !== 200, 'a malformed response passed as a success');
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms: waited for the route timeout`);
  });
}

test('an upstream named by a host name whose first address refuses: the next address answers', async () => {
  const server = http.createServer((_q, s) => s.writeHead(200, { 'content-length': '5' }).end('hello'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(() => server.close());
  const port = (server.address() as AddressInfo).port;
  // app.test has two addresses; the first refuses, so net.connect moves on with a new handle
  const real = dns.lookup;
  (dns as { lookup: unknown }).lookup = function (host: string, opts: unknown, cb?: unknown) {
    const callback = (typeof opts === 'function' ? opts : cb) as (...a: unknown[]) => void;
    const o = (typeof opts === 'object' && opts !== null ? opts : {}) as { all?: boolean };
    if (host !== 'app.test') return (real as (...a: unknown[]) => void).call(dns, host, opts, cb);
    const all = [{ address: '127.0.0.2', family: 4 }, { address: '127.0.0.1', family: 4 }];
    if (o.all) process.nextTick(callback, null, all);
    else process.nextTick(callback, null, all[0].address, 4);
  };
  closers.push(() => ((dns as { lookup: unknown }).lookup = real));
  const h = await startHarness({ clusters: [passthroughCluster()], endpoints: [], listeners: [virtualOutbound(0)], routes: [] });
  closers.push(() => h.close());
  const r = await viaProxy(h.outbound, `http://app.test:${port}/x`);
  assert.deepEqual([r.status, r.body], [200, 'hello']);
});

test('a hash policy on host hashes the request\'s Host, not the rewritten one', async () => {
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = http.createServer((_q, res) => res.writeHead(200, { 'content-length': '1' }).end(String(i)));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    closers.push(() => s.close());
    ports.push((s.address() as AddressInfo).port);
  }
  const h = await startHarness({
    clusters: [staticCluster(C, ports.map((p) => ['127.0.0.1', p] as [string, number]), { lb_policy: 'RING_HASH' }), passthroughCluster()],
    endpoints: [],
    listeners: [virtualOutbound(0), outboundHttpListener(8000)],
    routes: [routeConfig('8000', [vhost('any', ['*'], [route({ prefix: '/' }, C, { host_rewrite_literal: 'backend.internal', hash_policy: [{ header: { header_name: 'host' } }] })])])],
  });
  closers.push(() => h.close());
  const hits = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const host = `tenant-${i}.example:8000`;
    const a = await httpRequest({ port: h.outbound, path: '/', host });
    const b = await httpRequest({ port: h.outbound, path: '/', host });
    assert.equal(a.body, b.body, 'one Host, one endpoint');
    hits.add(a.body);
  }
  assert.ok(hits.size > 1, '30 Hosts all hashed to one endpoint');
});
