import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPushContext, gatewayKey } from '../../../src/control-plane/builders/index.js';
import { createLocalRegistry } from '../../../src/registry/index.js';
import { BOOKINFO_SERVICES, makePc, res, vs, workloadProxy } from './fixtures.js';

test('push context is frozen and indexes VirtualServices by resolved host and by gateway', () => {
  const pc = makePc([
    ...BOOKINFO_SERVICES,
    vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] }),
    vs('bookinfo', { hosts: ['*'], gateways: ['bookinfo-gateway'], http: [] }),
    vs('both', { hosts: ['ratings.default'], gateways: ['istio-system/gw', 'mesh'], http: [] }),
  ]);
  assert.ok(Object.isFrozen(pc));
  assert.ok(Object.isFrozen(pc.vsByHost));
  assert.ok(Object.isFrozen(pc.services));
  assert.deepEqual(Object.keys(pc.vsByHost).sort(), ['ratings.default.svc.cluster.local', 'reviews.default.svc.cluster.local']);
  assert.deepEqual(Object.keys(pc.vsByGateway).sort(), ['default/bookinfo-gateway', 'istio-system/gw']);
  assert.throws(() => { (pc.vsByHost as any).x = []; });
  assert.equal(pc.virtualServicesForHost('reviews.default.svc.cluster.local', { namespace: 'default', labels: {} })[0].resource.metadata.name, 'reviews');
});

test('instances are snapshotted: later registry changes do not leak into an existing push context', () => {
  const reg = createLocalRegistry();
  reg.setConfig(BOOKINFO_SERVICES);
  reg.upsertProxyWorkload('a', workloadProxy('reviews-v1', 'reviews', 'v1', '127.0.1.1'));
  const pc = createPushContext({ config: BOOKINFO_SERVICES, registry: reg });
  reg.upsertProxyWorkload('b', workloadProxy('reviews-v2', 'reviews', 'v2', '127.0.1.2'));
  assert.equal(pc.instances('reviews.default.svc.cluster.local', 9080).length, 1);
  const pc2 = createPushContext({ config: BOOKINFO_SERVICES, registry: reg });
  assert.equal(pc2.instances('reviews.default.svc.cluster.local', 9080).length, 2);
  assert.notEqual(pc.version, pc2.version);
});

test('gateway keys and sidecar/gateway selection', () => {
  assert.equal(gatewayKey('bookinfo-gateway', 'default'), 'default/bookinfo-gateway');
  assert.equal(gatewayKey('istio-system/gw', 'default'), 'istio-system/gw');
  assert.equal(gatewayKey('gw.istio-system.svc.cluster.local', 'default'), 'istio-system/gw');
  assert.equal(gatewayKey('mesh', 'default'), 'mesh');
  const pc = makePc([
    res('Gateway', 'gw', { selector: { istio: 'ingressgateway' }, servers: [] }),
    res('Sidecar', 'ns-default', {}, 'shop'),
    res('Sidecar', 'for-reviews', { workloadSelector: { labels: { app: 'reviews' } } }, 'shop'),
  ]);
  assert.equal(pc.gatewaysForProxy({ namespace: 'x', labels: { istio: 'ingressgateway' } }).length, 1);
  assert.equal(pc.gatewaysForProxy({ namespace: 'x', labels: { app: 'a' } }).length, 0);
  assert.equal(pc.sidecarForProxy({ namespace: 'shop', labels: { app: 'reviews' } })?.metadata.name, 'for-reviews');
  assert.equal(pc.sidecarForProxy({ namespace: 'shop', labels: { app: 'x' } })?.metadata.name, 'ns-default');
  assert.equal(pc.sidecarForProxy({ namespace: 'default', labels: {} }), undefined);
});
