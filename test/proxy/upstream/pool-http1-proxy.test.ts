/**
 * The HTTP/1.1 pool under the router, end to end through the proxy: bodiless responses (HEAD,
 * 204, 304) reported with endStream reach HTTP/1.1 and HTTP/2 callers intact, trailers of a
 * chunked upstream response pass through, and a streamed chunked request body arrives whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { outboundHttpListener, passthroughCluster, route, routeConfig, staticCluster, virtualOutbound, vhost } from '../helpers/resources.js';
import { httpRequest, startHarness, viaProxy } from '../helpers/harness.js';

const C = 'outbound|8000||up.default.svc.cluster.local';

async function upstream() {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/head') res.writeHead(200, { 'content-length': '1234', 'x-kind': 'head' }).end();
      else if (req.url === '/204') res.writeHead(204, { 'x-kind': 'no-content' }).end();
      else if (req.url === '/304') res.writeHead(304, { etag: '"v1"' }).end();
      else if (req.url === '/trailers') {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
        res.write('chunk1,');
        res.addTrailers({ 'x-checksum': 'abc123' });
        res.end('chunk2');
      } else {
        const body = Buffer.concat(chunks);
        res.writeHead(200, { 'content-length': String(body.length), 'x-te': req.headers['transfer-encoding'] ?? '' }).end(body);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

function harness(port: number) {
  return startHarness({
    clusters: [staticCluster(C, [['127.0.0.1', port]]), passthroughCluster()],
    endpoints: [],
    listeners: [virtualOutbound(0), outboundHttpListener(8000)],
    routes: [routeConfig('8000', [vhost('up', ['up:8000'], [route({ prefix: '/' }, C)])])],
  });
}

function h2Request(port: number, headers: http2.OutgoingHttpHeaders): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const s = session.request({ ':authority': 'up:8000', ...headers });
    let status = 0;
    let h: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    s.on('response', (rh) => {
      status = Number(rh[':status']);
      h = rh;
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      session.close();
      resolve({ status, headers: h, body: Buffer.concat(chunks).toString() });
    });
    s.on('error', reject);
    s.end();
  });
}

test('HEAD, 204 and 304 through the proxy: status and headers intact, no body, for HTTP/1.1 and HTTP/2 callers', async () => {
  const up = await upstream();
  const h = await harness(up.port);
  try {
    const head = await viaProxy(h.outbound, 'http://up:8000/head', { method: 'HEAD' });
    assert.deepEqual([head.status, head.headers['content-length'], head.headers['x-kind'], head.body], [200, '1234', 'head', '']);
    const nc = await viaProxy(h.outbound, 'http://up:8000/204');
    assert.deepEqual([nc.status, nc.headers['x-kind'], nc.body], [204, 'no-content', '']);
    const nm = await viaProxy(h.outbound, 'http://up:8000/304');
    assert.deepEqual([nm.status, nm.headers.etag, nm.body], [304, '"v1"', '']);
    const h2head = await h2Request(h.outbound, { ':method': 'HEAD', ':path': '/head' });
    assert.deepEqual([h2head.status, h2head.headers['content-length'], h2head.body], [200, '1234', '']);
    const h2nc = await h2Request(h.outbound, { ':method': 'GET', ':path': '/204' });
    assert.deepEqual([h2nc.status, h2nc.headers['x-kind'], h2nc.body], [204, 'no-content', '']);
    // the same upstream connection served every request
    assert.equal(h.proxy.clusterStats(C).upstream_cx_total.value, 1);
  } finally {
    await h.close();
    await up.close();
  }
});

test('trailers of a chunked upstream response reach the caller; a chunked request body arrives whole', async () => {
  const up = await upstream();
  const h = await harness(up.port);
  try {
    const t = await viaProxy(h.outbound, 'http://up:8000/trailers', { headers: { te: 'trailers' } });
    assert.equal(t.body, 'chunk1,chunk2');
    assert.equal(t.trailers?.['x-checksum'], 'abc123');
    const body = await new Promise<{ status: number; te: string; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: h.outbound, method: 'POST', path: 'http://up:8000/echo', headers: { host: 'up:8000' }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, te: String(res.headers['x-te']), body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.write('part-one;');
      setTimeout(() => req.end('part-two'), 30);
    });
    assert.deepEqual(body, { status: 200, te: 'chunked', body: 'part-one;part-two' });
    const plain = await httpRequest({ port: h.outbound, path: 'http://up:8000/echo', method: 'PUT', host: 'up:8000', body: 'fixed' });
    assert.deepEqual([plain.status, plain.body, plain.headers['x-te']], [200, 'fixed', '']);
  } finally {
    await h.close();
    await up.close();
  }
});

/** An HTTP/1.1 upstream written by hand: a duplicated single-value header and a `connection` trailer. */
async function rawUpstream() {
  const net = await import('node:net');
  const server = net.createServer((s) => {
    s.on('data', (d: Buffer) => {
      const text = d.toString();
      if (text.includes('/slow')) {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n' + 'x'.repeat(1000));
        return; // the rest never comes
      }
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nconnection: close\r\nx-sum: 1\r\n\r\n');
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('HTTP/2 callers: HTTP/1.1-only fields from the upstream (duplicate content-type, a connection trailer) are dropped, not fatal', async () => {
  const up = await rawUpstream();
  const h = await harness(up.port);
  try {
    for (let i = 0; i < 2; i++) {
      const r = await h2Request(h.outbound, { ':method': 'GET', ':path': '/dup', te: 'trailers' });
      assert.deepEqual([i, r.status, r.body, r.headers["content-type"]], [i, 200, "hello", "text/plain"]);
    }
    const again = await viaProxy(h.outbound, 'http://up:8000/dup');
    assert.equal(again.status, 200, 'the proxy is still up');
  } finally {
    await h.close();
    await up.close();
  }
});

test('an HTTP/2 caller that resets mid-response is logged DR, as an HTTP/1.1 caller is', async () => {
  const up = await rawUpstream();
  const infos: Array<{ path?: string; flags: string[] }> = [];
  const h = await startHarness(
    {
      clusters: [staticCluster(C, [['127.0.0.1', up.port]]), passthroughCluster()],
      endpoints: [],
      listeners: [virtualOutbound(0), outboundHttpListener(8000)],
      routes: [routeConfig('8000', [vhost('up', ['up:8000'], [route({ prefix: '/' }, C)])])],
    },
    { observer: { onRequestComplete: (i) => infos.push({ path: i.path, flags: [...i.responseFlags] }) } },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const session = http2.connect(`http://127.0.0.1:${h.outbound}`);
      session.on('error', reject);
      const s = session.request({ ':authority': 'up:8000', ':path': '/slow', ':method': 'GET' });
      s.on('data', () => {
        s.close(http2.constants.NGHTTP2_CANCEL);
        session.close();
        resolve();
      });
      s.on('error', () => undefined);
    });
    const { waitFor } = await import('../helpers/harness.js');
    await waitFor(() => infos.some((i) => i.path === '/slow'), 3000, 'the stream completes');
    assert.ok(infos.find((i) => i.path === '/slow')!.flags.includes('DR'));
  } finally {
    await h.close();
    await up.close();
  }
});
