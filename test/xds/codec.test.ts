import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeResource, decodeResource, parseDurationMs, msToDuration, durationToString } from '../../src/xds/codec.js';
import { LISTENER_TYPE, HCM_TYPE, ROUTER_TYPE } from '../../src/xds/type-urls.js';
import { buildNode, parseNode } from '../../src/xds/node-metadata.js';

test('a Listener with nested Any typed_configs survives encode and decode', () => {
  const listener = {
    name: '0.0.0.0_9080',
    address: { socket_address: { address: '0.0.0.0', port_value: 9080 } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM_TYPE,
          stat_prefix: 'outbound_0.0.0.0_9080',
          rds: { route_config_name: '9080', config_source: { ads: {}, resource_api_version: 'V3' } },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
        },
      }],
    }],
  };
  const back = decodeResource(LISTENER_TYPE, encodeResource(LISTENER_TYPE, listener));
  assert.deepEqual(back, listener);
});

test('Istio duration strings convert to milliseconds and proto Durations', () => {
  assert.equal(parseDurationMs('1.5s'), 1500);
  assert.equal(parseDurationMs('100ms'), 100);
  assert.equal(parseDurationMs('1m30s'), 90000);
  assert.equal(parseDurationMs('3m'), 180000);
  assert.equal(parseDurationMs('abc'), undefined);
  assert.equal(parseDurationMs('5'), undefined);
  assert.deepEqual(msToDuration(2500), { seconds: 2, nanos: 500_000_000 });
  assert.deepEqual(msToDuration(3000), { seconds: 3 });
  assert.equal(durationToString({ seconds: 2, nanos: 500_000_000 }), '2.5s');
});

test('node metadata round-trips between proxy and control plane', () => {
  const node = buildNode({
    type: 'sidecar', name: 'reviews-v2', namespace: 'default', address: '127.0.1.5',
    labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'bookinfo-reviews',
    interceptionMode: 'NONE', podPorts: [{ name: 'http', containerPort: 9080, protocol: 'TCP' }],
    appPorts: { '9080': '127.0.1.5:41000' },
  });
  assert.equal(node.id, 'sidecar~127.0.1.5~reviews-v2.default~default.svc.cluster.local');
  const p = parseNode(node);
  assert.equal(p.name, 'reviews-v2');
  assert.equal(p.namespace, 'default');
  assert.deepEqual(p.labels, { app: 'reviews', version: 'v2' });
  assert.equal(p.interceptionMode, 'NONE');
  assert.deepEqual(p.appPorts, { '9080': '127.0.1.5:41000' });
  const bare = parseNode({ id: 'router~10.0.0.1~ingress-gw.istio-system~istio-system.svc.cluster.local' });
  assert.equal(bare.type, 'router');
  assert.equal(bare.namespace, 'istio-system');
  assert.equal(bare.name, 'ingress-gw');
});
