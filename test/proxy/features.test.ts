/** Smaller features end to end: CORS, XFF with use_remote_address, STRICT_DNS, HTTP/1 -> HTTP/2 upstream, TCP prefix ranges. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { CORS_POLICY_TYPE, CORS_TYPE } from '../../src/xds/type-urls.js';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, routerFilter, staticCluster, virtualOutbound, vhost } from './helpers/resources.js';
import { startHarness, viaProxy, type Harness } from './helpers/harness.js';
import { startEcho, type EchoServer } from './helpers/upstreams.js';

const C = 'outbound|9080||svc.default.svc.cluster.local';
const DNS = 'outbound|9080||dns.default.svc.cluster.local';
const H2 = 'outbound|9080||h2.default.svc.cluster.local';
let echo: EchoServer;
let h2srv: http2.Http2Server;
let h: Harness;

before(async () => {
  echo = await startEcho('svc');
  h2srv = http2.createServer((req, res) => {
    res.setHeader('x-proto', String(req.httpVersion));
    res.end(`h2:${req.url}:${req.headers[':authority']}`);
  });
  await new Promise<void>((r) => h2srv.listen(0, '127.0.0.1', () => r()));
  const cors = { name: 'envoy.filters.http.cors', typed_config: { '@type': CORS_TYPE } };
  h = await startHarness({
    clusters: [
      edsCluster(C),
      { name: DNS, type: 'STRICT_DNS', connect_timeout: { seconds: 1 }, load_assignment: assignment(DNS, [['localhost', echo.port]]), dns_lookup_family: 'V4_ONLY' },
      staticCluster(H2, [['127.0.0.1', (h2srv.address() as AddressInfo).port]], { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } }),
      passthroughCluster(),
    ],
    endpoints: [assignment(C, [['127.0.0.1', echo.port]])],
    listeners: [virtualOutbound(0), outboundHttpListener(9080, [cors, routerFilter], { use_remote_address: { value: true } })],
    routes: [
      routeConfig('9080', [
        vhost('svc', ['svc:9080'], [
          route({ prefix: '/dns' }, DNS),
          route({ prefix: '/h2' }, H2),
          route({ prefix: '/' }, C, {}, {
            typed_per_filter_config: {
              'envoy.filters.http.cors': {
                '@type': CORS_POLICY_TYPE,
                allow_origin_string_match: [{ exact: 'https://ok.example' }],
                allow_methods: 'GET,POST',
                allow_headers: 'x-a',
                max_age: '60',
              },
            },
          }),
        ]),
      ]),
    ],
  });
});

after(async () => {
  await h.close();
  await echo.close();
  h2srv.close();
});

test('CORS: preflight answered locally for an allowed origin; headers added on actual requests', async () => {
  const before = echo.requests.length;
  const pre = await viaProxy(h.outbound, 'http://svc:9080/x', { method: 'OPTIONS', headers: { origin: 'https://ok.example', 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://ok.example');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
  assert.equal(pre.headers['access-control-max-age'], '60');
  assert.equal(echo.requests.length, before);
  const r = await viaProxy(h.outbound, 'http://svc:9080/x', { headers: { origin: 'https://ok.example' } });
  assert.equal(r.headers['access-control-allow-origin'], 'https://ok.example');
  const bad = await viaProxy(h.outbound, 'http://svc:9080/x', { headers: { origin: 'https://evil.example' } });
  assert.equal(bad.headers['access-control-allow-origin'], undefined);
});

test('use_remote_address appends the peer to x-forwarded-for', async () => {
  const body = JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/xff', { headers: { 'x-forwarded-for': '10.9.9.9' } })).body);
  assert.equal(body.headers['x-forwarded-for'], '10.9.9.9, 127.0.0.1');
});

test('STRICT_DNS cluster resolves its hostname', async () => {
  const r = await viaProxy(h.outbound, 'http://svc:9080/dns');
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).name, 'svc');
});

test('HTTP/1.1 downstream to an HTTP/2 cluster (HttpProtocolOptions explicit http2)', async () => {
  const r = await viaProxy(h.outbound, 'http://svc:9080/h2/a?b=1');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'h2:/h2/a?b=1:svc:9080');
  assert.equal(r.headers['x-proto'], '2.0');
});
