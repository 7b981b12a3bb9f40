/**
 * Downstream HTTP/2 sessions are probed when idle (http2_protocol_options.connection_keepalive,
 * codec/h2-session-keepalive.ts). Found by the HTTP codec fuzz target: after a protocol error
 * (here DATA on an idle stream) node:http2 sends GOAWAY and then neither reads nor closes the
 * connection, even after the client's FIN, so every such connection stayed open for good (and
 * counted against the connection limit, never closed to make room). Now the unanswered PING
 * closes it; a healthy idle client answers the PINGs and keeps its session.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { boundHttpListener, route, routeConfig, routerFilter, staticCluster, vhost } from '../helpers/resources.js';
import { startHarness, withTimeout, type Harness } from '../helpers/harness.js';

let h: Harness;
let upstream: http.Server;

before(async () => {
  upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const keepalive = { http2_protocol_options: { connection_keepalive: { interval: { nanos: 200_000_000 }, timeout: { nanos: 300_000_000 } } } };
  h = await startHarness({
    clusters: [staticCluster('b', [['127.0.0.1', (upstream.address() as net.AddressInfo).port]])],
    listeners: [boundHttpListener('h2', '127.0.0.1', 0, 'r', undefined, keepalive), boundHttpListener('dflt', '127.0.0.1', 0, 'r')],
    routes: [routeConfig('r', [vhost('all', ['*'], [route({ prefix: '/' }, 'b')])])],
  });
});

after(async () => {
  await h?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(9);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(stream, 5);
  return Buffer.concat([b, payload]);
}
const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), frame(4, 0, 0, Buffer.alloc(0))]);

test('a session ended by a protocol error (GOAWAY) is closed by the keepalive probe, even after the client FIN', async () => {
  const s = net.connect(h.proxy.listenerPort('h2')!, '127.0.0.1');
  let got = Buffer.alloc(0);
  s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
  s.on('error', () => undefined);
  const closed = new Promise<number>((r) => s.on('close', () => r(Date.now())));
  const t0 = Date.now();
  s.write(Buffer.concat([PREFACE, frame(0, 0, 1, Buffer.from('ab'))]));
  setTimeout(() => s.end(), 50);
  const at = await withTimeout(closed, 5000, 'the proxy never closed a session after its GOAWAY');
  assert.ok(got.includes(Buffer.from('DATA: stream in idle')), 'the GOAWAY names the protocol error');
  // interval 200 ms + ack timeout 300 ms, with room for a loaded host
  assert.ok(at - t0 < 4000, `closed after ${at - t0} ms`);
});

test('a healthy idle HTTP/2 client answers the PINGs and keeps its session', async () => {
  const c = http2.connect(`http://127.0.0.1:${h.proxy.listenerPort('h2')!}`);
  c.on('error', () => undefined);
  try {
    const get = () => new Promise<number>((resolve, reject) => {
      const rq = c.request({ ':path': '/', ':authority': 'x' });
      rq.on('response', (hs) => resolve(Number(hs[':status'])));
      rq.on('error', reject);
      rq.resume();
      rq.end();
    });
    assert.equal(await get(), 200);
    let pings = 0;
    c.on('ping', () => pings++);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(pings >= 2, `the proxy probed the idle session (${pings} PINGs)`);
    assert.equal(c.closed || c.destroyed, false, 'the healthy session was closed');
    assert.equal(await get(), 200);
  } finally {
    c.destroy();
  }
});

test('without connection_keepalive the default probe still applies (10 s idle), and a bad interval is a NACK', async () => {
  const { parseHcm } = await import('../../../src/proxy/http/hcm-config.js');
  const ctx = { rdsProvider: () => { throw new Error('no rds'); }, resolveCluster: () => { throw new Error('no cluster'); }, perFilterParser: () => undefined } as never;
  const base = { stat_prefix: 'x', route_config: { name: 'r', virtual_hosts: [] }, http_filters: [routerFilter] };
  assert.deepEqual(parseHcm(base, ctx).h2Keepalive, { intervalMs: 10_000, timeoutMs: 5_000 });
  assert.deepEqual(parseHcm({ ...base, http2_protocol_options: { connection_keepalive: { interval: { seconds: 30 } } } }, ctx).h2Keepalive, { intervalMs: 30_000, timeoutMs: 20_000 });
  assert.throws(() => parseHcm({ ...base, http2_protocol_options: { connection_keepalive: {} } }, ctx), /connection_keepalive.interval/);
});
