/** The Istio circuit-breaking task shape: 1 connection, 1 pending request, 1 request per connection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { outboundHttpListener, passthroughCluster, route, routeConfig, staticCluster, virtualOutbound, vhost } from './helpers/resources.js';
import { startHarness, viaProxy } from './helpers/harness.js';
import { startEcho } from './helpers/upstreams.js';

const C = 'outbound|8000||httpbin.default.svc.cluster.local';

test('maxConnections 1 + http1MaxPendingRequests 1 + maxRequestsPerConnection 1: concurrent callers see 200s and 503 UO', async () => {
  const echo = await startEcho('httpbin');
  const h = await startHarness({
    clusters: [
      staticCluster(C, [['127.0.0.1', echo.port]], {
        circuit_breakers: { thresholds: [{ max_connections: { value: 1 }, max_pending_requests: { value: 1 }, max_requests: { value: 4294967295 }, max_retries: { value: 4294967295 } }] },
        typed_extension_protocol_options: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
            common_http_protocol_options: { max_requests_per_connection: { value: 1 } },
            explicit_http_config: { http_protocol_options: {} },
          },
        },
      }),
      passthroughCluster(),
    ],
    endpoints: [],
    listeners: [virtualOutbound(0), outboundHttpListener(8000)],
    routes: [routeConfig('8000', [vhost('httpbin', ['httpbin:8000'], [route({ prefix: '/' }, C)])])],
  });
  try {
    const codes: number[] = [];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
    await Promise.all([0, 1, 2].map(async () => {
      for (let i = 0; i < 15; i++) codes.push((await viaProxy(h.outbound, 'http://httpbin:8000/get', { agent })).status);
    }));
    agent.destroy();
    const ok = codes.filter((c) => c === 200).length;
    const uo = codes.filter((c) => c === 503).length;
    assert.equal(ok + uo, 45);
    assert.ok(ok > 0 && uo > 0, `200: ${ok}, 503: ${uo}`);
    assert.equal(h.proxy.clusterStats(C).upstream_rq_pending_overflow.value, uo);
    // every connection carried one request
    assert.equal(h.proxy.clusterStats(C).upstream_cx_total.value, ok);
  } finally {
    await h.close();
    await echo.close();
  }
});
