/** Connection options from the cluster reach the pools: idle_timeout closes idle upstream connections; max_requests_per_connection for HTTP/2. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { outboundHttpListener, passthroughCluster, route, routeConfig, staticCluster, virtualOutbound, vhost } from '../helpers/resources.js';
import { startHarness, viaProxy, waitFor } from '../helpers/harness.js';

const C = 'outbound|8000||up.default.svc.cluster.local';

async function upstream(h2: boolean) {
  const opened: number[] = [];
  const closed: number[] = [];
  const server: net.Server = h2
    ? http2.createServer((_req, res) => res.end('ok'))
    : http.createServer((_req, res) => res.writeHead(200, { 'content-length': '2' }).end('ok'));
  if (!h2) (server as http.Server).keepAliveTimeout = 60_000;
  server.on('connection', (s: net.Socket) => {
    opened.push(Date.now());
    s.on('close', () => closed.push(Date.now()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, opened, closed, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function proxied(port: number, h2: boolean, common: Record<string, unknown>) {
  return startHarness({
    clusters: [
      staticCluster(C, [['127.0.0.1', port]], {
        typed_extension_protocol_options: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
            common_http_protocol_options: common,
            explicit_http_config: h2 ? { http2_protocol_options: {} } : { http_protocol_options: {} },
          },
        },
      }),
      passthroughCluster(),
    ],
    endpoints: [],
    listeners: [virtualOutbound(0), outboundHttpListener(8000)],
    routes: [routeConfig('8000', [vhost('up', ['up:8000'], [route({ prefix: '/' }, C)])])],
  });
}

for (const h2 of [false, true]) {
  test(`idle_timeout closes an idle upstream ${h2 ? 'HTTP/2' : 'HTTP/1.1'} connection`, async () => {
    const up = await upstream(h2);
    const h = await proxied(up.port, h2, { idle_timeout: { nanos: 300_000_000 } });
    try {
      const done = Date.now();
      assert.equal((await viaProxy(h.outbound, 'http://up:8000/')).status, 200);
      await waitFor(() => up.closed.length === 1, 3000, 'upstream connection closed');
      const idle = up.closed[0] - done;
      assert.ok(idle >= 250 && idle < 2500, `closed after ${idle} ms idle (idle_timeout 300 ms)`);
    } finally {
      await h.close();
      await up.close();
    }
  });
}

test('max_requests_per_connection 2 on HTTP/2: four requests use two connections', async () => {
  const up = await upstream(true);
  const h = await proxied(up.port, true, { max_requests_per_connection: { value: 2 } });
  try {
    for (let i = 0; i < 4; i++) assert.equal((await viaProxy(h.outbound, 'http://up:8000/')).status, 200);
    assert.equal(up.opened.length, 2);
  } finally {
    await h.close();
    await up.close();
  }
});
