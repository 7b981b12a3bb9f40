/**
 * A listener the proxy binds on another port than its resource's (`--remap-port`: local mode with
 * per-pod ports binds workload port 9080 on a port of its own; the gateway's 80 on 8080): its
 * connections report the resource's port, so an AuthorizationPolicy on the pod's port 9080 means
 * the same as with the pod on its own address, and the real port means nothing to it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RBAC_TYPE } from '../../../src/xds/type-urls.js';
import { freePorts } from '../../../src/local/local-ports.js';
import { assignment, boundHttpListener, edsCluster, route, routeConfig, routerFilter, vhost } from '../helpers/resources.js';
import { httpRequest, startHarness, type Harness } from '../helpers/harness.js';
import { startEcho, type EchoServer } from '../helpers/upstreams.js';

const C = 'inbound|9080||';
let echo: EchoServer;
let h: Harness;
let real9080 = 0;
let real9081 = 0;

const allowPort = (port: number) => ({
  name: 'envoy.filters.http.rbac',
  typed_config: { '@type': RBAC_TYPE, rules: { policies: { [`ns[default]-policy[port-${port}]-rule[0]`]: { permissions: [{ destination_port: port }], principals: [{ any: true }] } } } },
});

before(async () => {
  echo = await startEcho('app');
  [real9080, real9081] = await freePorts('127.0.0.1', 2);
  h = await startHarness({
    clusters: [edsCluster(C)],
    endpoints: [assignment(C, [['127.0.0.1', echo.port]])],
    listeners: [
      // allows the pod's own port: served
      boundHttpListener('127.0.0.1_9080', '127.0.0.1', 9080, 'in', [allowPort(9080), routerFilter]),
      // allows only the port it really binds, which is not the pod's: refused
      boundHttpListener('127.0.0.1_9081', '127.0.0.1', 9081, 'in', [allowPort(real9081), routerFilter]),
    ],
    routes: [routeConfig('in', [vhost('in', ['*'], [route({ prefix: '/' }, C)])])],
  }, { remapPorts: { 9080: real9080, 9081: real9081 } });
});

after(async () => {
  await h?.close();
  await echo?.close();
});

test('a remapped listener binds the remapped port; RBAC destination_port sees the resource port', async () => {
  assert.equal(h.proxy.listenerPort('127.0.0.1_9080'), real9080);
  const ok = await httpRequest({ port: real9080, path: '/hello' });
  assert.equal(ok.status, 200, ok.body);
  const denied = await httpRequest({ port: real9081, path: '/hello' });
  assert.equal(denied.status, 403, denied.body);
  assert.equal(denied.body, 'RBAC: access denied');
});
