/** Listener manager: bound listeners, updates that keep established connections, removal, drain. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { EnvoyResource } from '../../src/xds/codec.js';
import { ROUTER_TYPE } from '../../src/xds/type-urls.js';
import { assignment, boundHttpListener, edsCluster, passthroughCluster, route, routeConfig, staticCluster, virtualOutbound, vhost } from './helpers/resources.js';
import { LISTENER_TYPE } from './helpers/static-xds.js';
import { httpRequest, startHarness, waitFor } from './helpers/harness.js';
import { closedPort, startEcho } from './helpers/upstreams.js';

/** A keep-alive raw HTTP/1.1 connection: send one request at a time, read one response. */
class RawConn {
  private buf = '';
  private waiter: (() => void) | undefined;
  readonly sock: net.Socket;
  closed = false;
  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('data', (d) => {
      this.buf += d.toString();
      this.waiter?.();
    });
    this.sock.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }
  async get(path: string, host: string): Promise<{ head: string; body: string }> {
    this.sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    const end = Date.now() + 3000;
    for (;;) {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i >= 0) {
        const head = this.buf.slice(0, i);
        const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (this.buf.length >= i + 4 + len) {
          const body = this.buf.slice(i + 4, i + 4 + len);
          this.buf = this.buf.slice(i + 4 + len);
          return { head, body };
        }
      }
      if (this.closed || Date.now() > end) throw new Error(`no response (closed=${this.closed})`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 50);
      });
    }
  }
}

const A = 'outbound|80||a.default.svc.cluster.local';
const B = 'outbound|80||b.default.svc.cluster.local';

function gateway(port: number, cluster: string): EnvoyResource {
  const l = boundHttpListener('0.0.0.0_8080', '127.0.0.1', port, 'http.8080');
  const tc = l.filter_chains[0].filters[0].typed_config;
  delete tc.rds;
  tc.route_config = routeConfig('inline', [vhost('all', ['*'], [route({ prefix: '/' }, cluster)])]);
  tc.http_filters = [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }];
  return l;
}

test('a bound listener update keeps established keep-alive connections; new ones get the new config', async () => {
  const a = await startEcho('a');
  const b = await startEcho('b');
  const port = await closedPort();
  const h = await startHarness({
    clusters: [edsCluster(A), edsCluster(B), passthroughCluster()],
    endpoints: [assignment(A, [['127.0.0.1', a.port]]), assignment(B, [['127.0.0.1', b.port]])],
    listeners: [virtualOutbound(0), gateway(port, A)],
    routes: [],
  });
  try {
    assert.equal(h.proxy.listenerPort('0.0.0.0_8080'), port);
    const conn = new RawConn(port);
    const r1 = await conn.get('/one', 'gw');
    assert.match(r1.body, /"name":"a"/);
    h.xds.set(LISTENER_TYPE, [virtualOutbound(0), gateway(port, B)]);
    await waitFor(() => h.xds.acks.some((x) => x.typeUrl === LISTENER_TYPE && x.version === h.xds.version(LISTENER_TYPE)));
    // the established connection is still served (old config), and told to close afterwards
    const r2 = await conn.get('/two', 'gw');
    assert.match(r2.body, /"name":"a"/);
    assert.match(r2.head, /connection: close/i);
    // a new connection gets the new config
    const r3 = await httpRequest({ port, path: '/three', host: 'gw' });
    assert.equal(JSON.parse(r3.body).name, 'b');
    // removing the listener stops accepting
    h.xds.set(LISTENER_TYPE, [virtualOutbound(0)]);
    await waitFor(() => h.xds.acks.some((x) => x.typeUrl === LISTENER_TYPE && x.version === h.xds.version(LISTENER_TYPE)));
    await waitFor(async () => {
      try {
        await httpRequest({ port, path: '/', host: 'gw' });
        return false;
      } catch {
        return true;
      }
    }, 2000, 'listener closed');
  } finally {
    await h.close();
    await a.close();
    await b.close();
  }
});

test('inbound listener on the workload address forwards to inbound|<port>|| (the app)', async () => {
  const app = await startEcho('app');
  const port = await closedPort();
  const inbound = `inbound|${port}||`;
  const l = boundHttpListener(`127.0.0.1_${port}`, '127.0.0.1', port, `inbound|${port}||`);
  l.traffic_direction = 'INBOUND';
  const infos: string[] = [];
  const h = await startHarness(
    {
      clusters: [staticCluster(inbound, [['127.0.0.1', app.port]]), passthroughCluster()],
      endpoints: [],
      listeners: [virtualOutbound(0), l],
      routes: [routeConfig(inbound, [vhost('inbound', ['*'], [route({ prefix: '/' }, inbound)])])],
    },
    { observer: { onRequestComplete: (i) => infos.push(`${i.direction} ${i.listenerName} ${i.responseCode}`) } },
  );
  try {
    const r = await httpRequest({ port, path: '/productpage', host: 'productpage:9080' });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).url, '/productpage');
    await waitFor(() => infos.length > 0);
    assert.equal(infos[0], `inbound 127.0.0.1_${port} 200`);
  } finally {
    await h.close();
    await app.close();
  }
});

test('unknown destination port with ALLOW_ANY passthrough goes straight to the destination', async () => {
  const direct = await startEcho('direct');
  const h = await startHarness({ clusters: [passthroughCluster()], endpoints: [], listeners: [virtualOutbound(0)], routes: [] });
  try {
    const r = await httpRequest({ port: h.outbound, path: `http://127.0.0.1:${direct.port}/pass`, host: `127.0.0.1:${direct.port}` });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).name, 'direct');
  } finally {
    await h.close();
    await direct.close();
  }
});

test('POST /drain_listeners stops accepting on bound listeners', async () => {
  const h = await startHarness({ clusters: [passthroughCluster()], endpoints: [], listeners: [virtualOutbound(0)], routes: [] });
  try {
    const port = h.outbound;
    assert.equal((await h.admin('/drain_listeners', 'POST')).status, 200);
    await assert.rejects(httpRequest({ port, path: '/', host: 'x' }));
  } finally {
    await h.close();
  }
});
