/** ADS client: node, subscriptions, ACK/NACK, readiness, reconnect and resync. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HCM_TYPE, ROUTER_TYPE } from '../../src/xds/type-urls.js';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, virtualOutbound, vhost } from './helpers/resources.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from './helpers/static-xds.js';
import { httpRequest, startHarness, viaProxy, waitFor, withTimeout } from './helpers/harness.js';
import { startEcho } from './helpers/upstreams.js';

const C = 'outbound|9080||svc.default.svc.cluster.local';

function mesh(port: number, extraRoutes: ReturnType<typeof route>[] = []) {
  return {
    clusters: [edsCluster(C), passthroughCluster()],
    endpoints: [assignment(C, [['127.0.0.1', port]])],
    listeners: [virtualOutbound(0), outboundHttpListener(9080)],
    routes: [routeConfig('9080', [vhost('svc', ['svc:9080'], [...extraRoutes, route({ prefix: '/' }, C)])])],
  };
}

test('readiness: 503 until LDS+CDS+EDS+RDS are applied, then 200; node metadata sent', async () => {
  const echo = await startEcho('svc');
  const m = mesh(echo.port);
  // No routes yet: the proxy cannot be ready.
  const h = await startHarness({ clusters: m.clusters, endpoints: m.endpoints, listeners: m.listeners }, { labels: { app: 'test', version: 'v1' }, ports: [9080] }, false);
  try {
    await waitFor(() => h.xds.acks.some((a) => a.typeUrl === LISTENER_TYPE));
    const r = await httpRequest({ port: h.proxy.ports.ready, path: '/healthz/ready' });
    assert.equal(r.status, 503);
    assert.equal((await h.admin('/ready')).status, 503);
    assert.equal(h.proxy.isReady(), false);
    // The proxy asked for exactly the route names its listeners reference, and the EDS names of its clusters.
    const rds = h.xds.requests.filter((q) => q.type_url === ROUTE_TYPE).pop();
    assert.deepEqual(rds?.resource_names, ['9080']);
    const eds = h.xds.requests.filter((q) => q.type_url === ENDPOINT_TYPE).pop();
    assert.deepEqual(eds?.resource_names, [C]);
    h.xds.set(ROUTE_TYPE, m.routes);
    await withTimeout(h.proxy.ready, 3000, 'ready');
    assert.equal((await httpRequest({ port: h.proxy.ports.ready, path: '/healthz/ready' })).status, 200);
    assert.equal((await h.admin('/ready')).body, 'LIVE\n');
    const node = h.xds.nodes[0] as { id: string; metadata: Record<string, unknown> };
    assert.equal(node.id, 'sidecar~127.0.0.1~test.default~default.svc.cluster.local');
    assert.equal(node.metadata.NAME, 'test');
    assert.equal(node.metadata.INTERCEPTION_MODE, 'NONE');
    // every type was ACKed with the version it was sent
    for (const t of [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE]) {
      assert.ok(h.xds.acks.some((a) => a.typeUrl === t && a.version === h.xds.version(t)), t);
    }
  } finally {
    await h.close();
    await echo.close();
  }
});

test('NACK: unknown non-optional HTTP filter keeps the old config serving; optional ones are skipped', async () => {
  const echo = await startEcho('svc');
  const m = mesh(echo.port);
  const h = await startHarness(m);
  try {
    const bad = outboundHttpListener(9080, [{ name: 'acme.filter', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Struct' } }, { name: 'r', typed_config: { '@type': ROUTER_TYPE } }]);
    const goodVersion = h.xds.version(LISTENER_TYPE);
    h.xds.set(LISTENER_TYPE, [virtualOutbound(0), bad]);
    await waitFor(() => h.xds.nacks.some((n) => n.typeUrl === LISTENER_TYPE));
    const nack = h.xds.nacks.find((n) => n.typeUrl === LISTENER_TYPE)!;
    assert.equal(nack.version, goodVersion);
    assert.match(nack.error!, /acme\.filter/);
    assert.equal((await viaProxy(h.outbound, 'http://svc:9080/')).status, 200);
    // optional unknown filter: accepted
    const opt = outboundHttpListener(9080, [{ name: 'acme.filter', is_optional: true, typed_config: { '@type': 'type.googleapis.com/google.protobuf.Struct' } }, { name: 'r', typed_config: { '@type': ROUTER_TYPE } }]);
    h.xds.set(LISTENER_TYPE, [virtualOutbound(0), opt]);
    await waitFor(() => h.xds.acks.some((a) => a.typeUrl === LISTENER_TYPE && a.version === h.xds.version(LISTENER_TYPE)));
    assert.equal((await viaProxy(h.outbound, 'http://svc:9080/')).status, 200);
    void HCM_TYPE;
  } finally {
    await h.close();
    await echo.close();
  }
});

test('NACK: a bad regex in RDS keeps the previous routes', async () => {
  const echo = await startEcho('svc');
  const m = mesh(echo.port);
  const h = await startHarness(m);
  try {
    h.xds.set(ROUTE_TYPE, [routeConfig('9080', [vhost('svc', ['svc:9080'], [route({ safe_regex: { regex: '(' } }, C)])])]);
    await waitFor(() => h.xds.nacks.some((n) => n.typeUrl === ROUTE_TYPE));
    assert.match(h.xds.nacks[0].error!, /invalid regex/);
    assert.equal((await viaProxy(h.outbound, 'http://svc:9080/x')).status, 200);
  } finally {
    await h.close();
    await echo.close();
  }
});

test('control plane restart: proxy keeps serving, reconnects and resyncs its versions', async () => {
  const echo = await startEcho('svc');
  const h = await startHarness(mesh(echo.port));
  try {
    const port = h.xds.port;
    const versions = h.xds.version(CLUSTER_TYPE);
    await h.xds.stop();
    assert.equal((await viaProxy(h.outbound, 'http://svc:9080/')).status, 200);
    const before = h.xds.requests.length;
    await h.xds.start(port);
    await waitFor(() => h.xds.connectedStreams > 0 && h.xds.requests.length > before, 4000, 'reconnect');
    const resync = h.xds.requests.slice(before).find((q) => q.type_url === CLUSTER_TYPE)!;
    assert.equal(resync.version_info, versions);
    assert.ok(resync.node, 'node is sent on the first request of the new stream');
    // and updates flow again
    const echo2 = await startEcho('svc2');
    h.xds.set(ENDPOINT_TYPE, [assignment(C, [['127.0.0.1', echo2.port]])]);
    await waitFor(async () => JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/')).body).name === 'svc2', 3000, 'new endpoints');
    await echo2.close();
  } finally {
    await h.close();
    await echo.close();
  }
});

test('initial fetch timeout: a route the server never sends does not keep the proxy unready forever', async () => {
  const echo = await startEcho('svc');
  const m = mesh(echo.port);
  const h = await startHarness({ clusters: m.clusters, endpoints: m.endpoints, listeners: m.listeners }, { initialFetchTimeoutMs: 300 }, false);
  try {
    await waitFor(() => h.xds.acks.some((a) => a.typeUrl === LISTENER_TYPE));
    assert.equal(h.proxy.isReady(), false);
    await withTimeout(h.proxy.ready, 3000, 'ready after the fetch timeout');
    assert.equal((await httpRequest({ port: h.proxy.ports.ready, path: '/healthz/ready' })).status, 200);
  } finally {
    await h.close();
    await echo.close();
  }
});
