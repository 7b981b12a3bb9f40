/**
 * Drains inside one proxy: POST /drain_listeners?graceful / ?inboundonly (Envoy's admin
 * endpoint), and the whole-proxy drain behind SIGTERM and hot restart: HTTP/1.1 `connection:
 * close`, idle keep-alive connections closed, HTTP/2 GOAWAY with in-flight streams completing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { boundHttpListener, passthroughCluster, route, routeConfig, staticCluster, vhost, virtualOutbound } from './helpers/resources.js';
import { httpRequest, startHarness, viaProxy, waitFor, type Harness } from './helpers/harness.js';
import { LISTENER_TYPE } from './helpers/static-xds.js';
import { closedPort, startEcho, type EchoServer } from './helpers/upstreams.js';
import type { ProxyOptions } from '../../src/proxy/proxy.js';

const APP = 'inbound|8080||';

/** One keep-alive HTTP/1.1 connection, requests written by hand. */
class RawConn {
  private buf = '';
  closed = false;
  readonly sock: net.Socket;
  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('data', (d) => (this.buf += d.toString()));
    this.sock.on('close', () => (this.closed = true));
    this.sock.on('error', () => undefined);
  }
  async get(path: string): Promise<{ head: string; body: string }> {
    this.sock.write(`GET ${path} HTTP/1.1\r\nHost: app\r\n\r\n`);
    let out: { head: string; body: string } | undefined;
    await waitFor(() => {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i < 0) return this.closed ? Promise.reject(new Error('closed before a response')) : false;
      const head = this.buf.slice(0, i);
      const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buf.length < i + 4 + len) return false;
      out = { head, body: this.buf.slice(i + 4, i + 4 + len) };
      this.buf = this.buf.slice(i + 4 + len);
      return true;
    }, 3000, `response to ${path}`);
    return out!;
  }
}

async function refused(port: number): Promise<boolean> {
  try {
    await httpRequest({ port, path: '/', host: 'app' });
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  }
}

async function setup(opts: Partial<ProxyOptions>): Promise<{ h: Harness; app: EchoServer; port: number }> {
  const app = await startEcho('app');
  const port = await closedPort();
  // a listener on the proxy's own address is inbound (local mode); virtualOutbound is outbound
  const h = await startHarness({
    clusters: [staticCluster(APP, [['127.0.0.1', app.port]]), passthroughCluster()],
    endpoints: [],
    listeners: [virtualOutbound(0), boundHttpListener('127.0.0.1_8080', '127.0.0.1', port, 'inbound-routes')],
    routes: [routeConfig('inbound-routes', [vhost('app', ['*'], [route({ prefix: '/' }, APP)])])],
  }, { drainQuietMs: 200, ...opts });
  return { h, app, port };
}

test('/drain_listeners?graceful keeps accepting but tells every connection to close, closes idle ones, stops accepting after the drain time', async () => {
  const { h, app, port } = await setup({ drainTimeMs: 800 });
  try {
    const busy = new RawConn(port);
    const idle = new RawConn(port);
    assert.doesNotMatch((await busy.get('/one')).head, /connection: close/i);
    await idle.get('/one');
    const t0 = Date.now();
    assert.equal((await h.admin('/drain_listeners?graceful', 'POST')).status, 200);
    // an established connection: served, then told to close
    const r = await busy.get('/two');
    assert.match(r.body, /"name":"app"/);
    assert.match(r.head, /connection: close/i);
    // a new connection is still accepted, and told to close too
    const fresh = await httpRequest({ port, path: '/fresh', host: 'app' });
    assert.equal(fresh.status, 200);
    assert.equal(fresh.headers.connection, 'close');
    // the idle keep-alive connection is closed once it stayed idle (200 ms) while draining
    await waitFor(() => idle.closed, 2000, 'idle connection closed');
    assert.ok(Date.now() - t0 >= 150, 'the idle connection got its idle period first');
    // after the drain time the listener stops accepting
    await waitFor(() => refused(port), 3000, 'listener closed after the drain time');
    assert.ok(Date.now() - t0 >= 700, `closed after ${Date.now() - t0} ms, drain time 800 ms`);
  } finally {
    await h.close();
    await app.close();
  }
});

test('/drain_listeners?inboundonly stops inbound listeners at once and leaves outbound ones alone', async () => {
  const { h, app, port } = await setup({ drainTimeMs: 60_000 });
  try {
    assert.equal((await h.admin('/drain_listeners?inboundonly', 'POST')).status, 200);
    assert.ok(await refused(port), 'the inbound listener stopped accepting');
    const agent = new http.Agent({ keepAlive: true });
    const out = await viaProxy(h.outbound, `http://127.0.0.1:${app.port}/out`, { agent });
    agent.destroy();
    assert.equal(out.status, 200);
    assert.notEqual(out.headers.connection, 'close', 'outbound connections are not drained (HTTP/1.1 keep-alive needs no Connection header)');
  } finally {
    await h.close();
    await app.close();
  }
});

test('graceful proxy drain: HTTP/2 gets GOAWAY, its in-flight stream completes, readiness fails, the drain ends once quiet', async () => {
  const { h, app, port } = await setup({ drainTimeMs: 10_000 });
  try {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    const goaway = new Promise<number>((r) => session.once('goaway', (code: number) => r(code)));
    const stream = session.request({ ':path': '/delay/500', ':authority': 'app' });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      let status = 0;
      let body = '';
      stream.on('response', (hd) => (status = Number(hd[':status'])));
      stream.on('data', (d: Buffer) => (body += d));
      stream.on('end', () => resolve({ status, body }));
      stream.on('error', reject);
    });
    await waitFor(() => app.requests.some((r) => r.url === '/delay/500'), 2000, 'stream in flight');
    const t0 = Date.now();
    const drained = h.proxy.drain('graceful');
    assert.equal(await goaway, 0, 'GOAWAY with NO_ERROR');
    assert.equal((await httpRequest({ port: h.proxy.ports.ready, path: '/healthz/ready' })).status, 503);
    const info = JSON.parse((await h.admin('/server_info')).body);
    assert.equal(info.state, 'DRAINING');
    const r = await response;
    assert.equal(r.status, 200);
    assert.match(r.body, /"name":"app"/);
    const result = await drained;
    assert.equal(result.reason, 'quiescent');
    // the stream took ~500 ms, then 200 ms of quiet: far from the 10 s drain duration
    assert.ok(result.elapsedMs >= 500 && result.elapsedMs < 3000, `drained in ${result.elapsedMs} ms`);
    assert.ok(Date.now() - t0 < 3000);
    assert.ok(await refused(port), 'the proxy is closed after the drain');
    session.destroy();
  } finally {
    await h.close();
    await app.close();
  }
});

test('hand-over drain: listeners stop accepting at once, an in-flight request finishes with connection: close', async () => {
  const { h, app, port } = await setup({ drainTimeMs: 10_000 });
  try {
    const conn = new RawConn(port);
    await conn.get('/warm');
    const inflight = conn.get('/delay/400');
    await waitFor(() => app.requests.some((r) => r.url === '/delay/400'), 2000, 'request in flight');
    const drained = h.proxy.drain('handover');
    assert.ok(await refused(port), 'not accepting any more');
    const r = await inflight;
    assert.match(r.head, /^HTTP\/1.1 200/);
    assert.match(r.head, /connection: close/i);
    const result = await drained;
    assert.equal(result.reason, 'quiescent');
    assert.ok(result.elapsedMs < 2000, `drained in ${result.elapsedMs} ms`);
  } finally {
    await h.close();
    await app.close();
  }
});

test('the drain ends at the parent shutdown deadline, closing what is still open', async () => {
  const { h, app, port } = await setup({ drainTimeMs: 200, parentShutdownMs: 600 });
  try {
    const conn = new RawConn(port);
    const inflight = conn.get('/delay/5000').then(() => 'answered', (e: Error) => e.message);
    await waitFor(() => app.requests.some((r) => r.url === '/delay/5000'), 2000, 'request in flight');
    const t0 = Date.now();
    const result = await h.proxy.drain('graceful');
    assert.equal(result.reason, 'deadline');
    assert.equal(result.closedAtDeadline, 1);
    assert.ok(Date.now() - t0 >= 550 && Date.now() - t0 < 1500, `ended after ${Date.now() - t0} ms`);
    // the listener had closed at the drain time already
    assert.ok(await refused(port));
    assert.match(await inflight, /closed before a response/, 'the request still in flight at the deadline was cut');
  } finally {
    await h.close();
    await app.close();
  }
});

test('a listener replaced by LDS during a whole-proxy drain is draining too', async () => {
  const { h, app, port } = await setup({ drainTimeMs: 10_000, drainQuietMs: 2000 });
  try {
    // a request in flight keeps the drain going (a proxy with no connection at all exits at once)
    const conn = new RawConn(port);
    const slow = conn.get('/delay/1000');
    await waitFor(() => app.requests.some((r) => r.url === '/delay/1000'), 2000, 'request in flight');
    const drained = h.proxy.drain('graceful');
    h.xds.set(LISTENER_TYPE, [virtualOutbound(0), boundHttpListener('127.0.0.1_8080', '127.0.0.1', port, 'inbound-routes', undefined, { stat_prefix: 'changed' })]);
    await waitFor(() => h.xds.acks.some((x) => x.typeUrl === LISTENER_TYPE && x.version === h.xds.version(LISTENER_TYPE)), 3000, `LDS update applied (nacks ${JSON.stringify(h.xds.nacks)})`);
    const agent = new http.Agent({ keepAlive: true });
    const r = await httpRequest({ port, path: '/after-update', host: 'app', agent });
    agent.destroy();
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, 'close');
    assert.match((await slow).head, /connection: close/i);
    void drained;
  } finally {
    await h.close();
    await app.close();
  }
});
