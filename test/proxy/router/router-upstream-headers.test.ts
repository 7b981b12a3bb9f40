/**
 * What the upstream receives: connection-specific request fields are not forwarded (Envoy's
 * rule), `te: trailers` is, HTTP/2 pseudo headers never reach an HTTP/1.1 upstream, and host is
 * the authority; the access log and metrics see the same map (it is forwarded in place).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { outboundHttpListener, passthroughCluster, route, routeConfig, staticCluster, virtualOutbound, vhost } from '../helpers/resources.js';
import { startHarness } from '../helpers/harness.js';

const C = 'outbound|8000||up.default.svc.cluster.local';

async function echoUpstream() {
  const seen: http.IncomingHttpHeaders[] = [];
  const raw: string[][] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    raw.push(req.rawHeaders);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-length': '2' }).end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, seen, raw, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** one raw HTTP/1.1 request, returns the status line */
function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(head));
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n\r\nok')) {
        s.destroy();
        resolve(buf.slice(0, buf.indexOf('\r\n')));
      }
    });
    s.on('error', reject);
  });
}

test('connection-specific request headers stay behind; te: trailers and the rest go upstream', async () => {
  const up = await echoUpstream();
  const h = await startHarness({
    clusters: [staticCluster(C, [['127.0.0.1', up.port]]), passthroughCluster()],
    endpoints: [],
    listeners: [virtualOutbound(0), outboundHttpListener(8000)],
    routes: [routeConfig('8000', [vhost('up', ['up:8000'], [route({ prefix: '/' }, C)])])],
  });
  try {
    const status = await rawRequest(h.outbound, [
      'GET /a HTTP/1.1', 'Host: up:8000', 'Connection: keep-alive', 'Keep-Alive: timeout=5', 'Proxy-Connection: keep-alive',
      'TE: gzip', 'HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA', 'X-App: 1', '', '',
    ].join('\r\n'));
    assert.equal(status, 'HTTP/1.1 200 OK');
    const got = up.seen[0];
    for (const k of ['keep-alive', 'proxy-connection', 'te', 'http2-settings']) assert.equal(got[k], undefined, `${k} forwarded`);
    // node's client codec answers `connection: keep-alive` itself; the caller's value is not copied
    assert.notEqual(got.connection, 'keep-alive, x-app');
    assert.equal(got['x-app'], '1');
    assert.equal(got.host, 'up:8000');

    await rawRequest(h.outbound, 'GET /b HTTP/1.1\r\nHost: up:8000\r\nTE: trailers\r\n\r\n');
    assert.equal(up.seen[1].te, 'trailers');

    // HTTP/2 caller: no pseudo header is sent as an HTTP/1.1 field, host is the :authority
    const session = http2.connect(`http://127.0.0.1:${h.outbound}`);
    await new Promise<void>((resolve, reject) => {
      const s = session.request({ ':method': 'GET', ':path': '/c', ':authority': 'up:8000', 'x-app': '2' });
      s.on('response', () => undefined);
      s.resume();
      s.on('end', () => resolve());
      s.on('error', reject);
      s.end();
    });
    session.close();
    const names = up.raw[2].filter((_, i) => i % 2 === 0);
    assert.ok(!names.some((n) => n.startsWith(':')), `pseudo headers forwarded: ${names.join(', ')}`);
    assert.equal(up.seen[2].host, 'up:8000');
    assert.equal(up.seen[2]['x-app'], '2');
  } finally {
    await h.close();
    await up.close();
  }
});
