/** Sidecar egress host scoping: what a proxy's CDS, RDS, LDS and name table hold, and which changes reach it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusters, buildListeners, buildNameTable, buildRoutes } from '../../../src/control-plane/builders/index.js';
import { proxyNeedsPush } from '../../../src/control-plane/push-affected.js';
import type { ConfigResource } from '../../../src/config/types.js';
import { kubeService, makePc, proxy, res, subsetsRule, vs } from './fixtures.js';

const svc = (name: string, ns: string, port = 9080) => kubeService(name, [{ name: 'http', port }], { app: name }, ns);
const fqdn = (name: string, ns: string) => `${name}.${ns}.svc.cluster.local`;

const MESH: ConfigResource[] = [
  svc('reviews', 'shop'), svc('cart', 'shop'),
  svc('istiod', 'istio-system', 15014),
  svc('ledger', 'payments'), svc('fraud', 'payments'),
  svc('reviews', 'other'),
];
const SCOPED = res('Sidecar', 'default', { egress: [{ hosts: ['./*', 'istio-system/*'] }] }, 'shop');
const SHOP = proxy({ name: 'cart-v1', namespace: 'shop', labels: { app: 'cart' } });

const outboundHosts = (clusters: any[]) =>
  [...new Set(clusters.map((c) => c.name as string).filter((n) => n.startsWith('outbound|')).map((n) => n.split('|')[3]))].sort();
const routeHosts = (rc: any) => rc.virtual_hosts.map((v: any) => v.name as string).filter((n: string) => n !== 'allow_any' && n !== 'block_all').sort();

test('Sidecar egress ["./*", "istio-system/*"]: CDS, RDS, LDS and the name table hold only those namespaces\' hosts', () => {
  const pc = makePc([...MESH, SCOPED]);
  assert.deepEqual(outboundHosts(buildClusters(pc, SHOP)), [fqdn('istiod', 'istio-system'), fqdn('cart', 'shop'), fqdn('reviews', 'shop')].sort());
  const [rc] = buildRoutes(pc, SHOP, ['9080']);
  assert.deepEqual(routeHosts(rc), [`${fqdn('cart', 'shop')}:9080`, `${fqdn('reviews', 'shop')}:9080`]);
  const listeners = buildListeners(pc, SHOP).map((l) => l.name as string);
  assert.ok(listeners.includes('0.0.0.0_9080') && listeners.includes('0.0.0.0_15014'), listeners.join());
  assert.deepEqual(Object.keys(buildNameTable(pc, SHOP)[0].table as object).sort(), []); // no VIPs without the allocator
  // a proxy of another namespace (no Sidecar there) still sees everything
  const other = proxy({ namespace: 'other' });
  assert.equal(outboundHosts(buildClusters(pc, other)).length, 6);
  // a gateway is never scoped by a Sidecar
  const gw = proxy({ type: 'router', namespace: 'shop', labels: { istio: 'ingressgateway' }, podPorts: [] });
  assert.equal(outboundHosts(buildClusters(pc, gw)).length, 6);
});

test('Sidecar scope: workload selector wins, root-namespace default applies mesh-wide, explicit namespace hides */, port trimming', () => {
  const config = [
    ...MESH,
    res('Sidecar', 'mesh-default', { egress: [{ hosts: ['istio-system/*'] }] }, 'istio-system'),
    res('Sidecar', 'cart-only', { workloadSelector: { labels: { app: 'cart' } }, egress: [{ hosts: ['payments/ledger.payments.svc.cluster.local', '*/*'] }] }, 'shop'),
    res('Sidecar', 'one-port', { egress: [{ port: { number: 15014, protocol: 'HTTP', name: 'http' }, hosts: ['*/*'] }] }, 'other'),
  ];
  const pc = makePc(config);
  // payments/ names ledger only: the */* entry does not add fraud back (Istio: explicit namespace first)
  assert.deepEqual(outboundHosts(buildClusters(pc, SHOP)), [
    fqdn('istiod', 'istio-system'), fqdn('ledger', 'payments'), fqdn('reviews', 'other'), fqdn('cart', 'shop'), fqdn('reviews', 'shop'),
  ].sort());
  // the root namespace's Sidecar for a namespace without one
  assert.deepEqual(outboundHosts(buildClusters(pc, proxy({ namespace: 'payments' }))), [fqdn('istiod', 'istio-system')]);
  // a port on the listener: only services with that port, with only that port
  const oneport = buildClusters(pc, proxy({ namespace: 'other' })).map((c) => c.name as string).filter((n) => n.startsWith('outbound|'));
  assert.deepEqual(oneport, [`outbound|15014||${fqdn('istiod', 'istio-system')}`]);
});

test('Sidecar scope: VirtualServices imported by namespace and host, their destinations come with them; exportTo hides the rest', () => {
  const config = [
    ...MESH, SCOPED,
    subsetsRule('ledger', ['v1'], 'payments'),
    // a shop VirtualService sending to payments: imported, and ledger with it
    vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'ledger.payments.svc.cluster.local', subset: 'v1' } }] }] }, 'shop'),
    // a payments VirtualService for a shop host: payments/ is not imported, so neither is it
    vs('cart-hijack', { hosts: ['cart.shop.svc.cluster.local'], http: [{ route: [{ destination: { host: 'fraud.payments.svc.cluster.local' } }] }] }, 'payments'),
    // exported to payments only
    res('Service', 'hidden', { selector: { app: 'hidden' }, ports: [{ name: 'http', port: 9080 }] }, 'shop'),
  ];
  (config[config.length - 1].metadata as any).annotations = { 'networking.istio.io/exportTo': 'payments' };
  const pc = makePc(config);
  const hosts = outboundHosts(buildClusters(pc, SHOP));
  assert.deepEqual(hosts, [fqdn('istiod', 'istio-system'), fqdn('ledger', 'payments'), fqdn('cart', 'shop'), fqdn('reviews', 'shop')].sort());
  assert.ok(buildClusters(pc, SHOP).some((c) => c.name === `outbound|9080|v1|${fqdn('ledger', 'payments')}`), 'the subset cluster of the DR for the inferred destination');
  const [rc] = buildRoutes(pc, SHOP, ['9080']);
  const cart = rc.virtual_hosts.find((v: any) => v.name === `${fqdn('cart', 'shop')}:9080`);
  assert.equal(cart.routes[0].name, 'default', 'the payments VirtualService is not imported');
  const reviews = rc.virtual_hosts.find((v: any) => v.name === `${fqdn('reviews', 'shop')}:9080`);
  assert.equal(reviews.routes[0].route.cluster, `outbound|9080|v1|${fqdn('ledger', 'payments')}`);
  const scope = pc.sidecarScope(SHOP);
  assert.ok(scope.configKeys.has('VirtualService/shop/reviews') && scope.configKeys.has('DestinationRule/payments/ledger') && scope.configKeys.has('Sidecar/shop/default'));
  assert.ok(!scope.configKeys.has('VirtualService/payments/cart-hijack'));
});

test('proxyNeedsPush: a change in an unrelated namespace does not reach a scoped sidecar; an imported one does', () => {
  const before = makePc([...MESH, SCOPED]);
  const unrelatedVs = vs('ledger', { hosts: ['ledger'], http: [{ route: [{ destination: { host: 'ledger' } }] }] }, 'payments');
  const after = makePc([...MESH, SCOPED, unrelatedVs]);
  const pcs = [before, after];
  const change = (...keys: string[]) => ({ configKeys: keys, hostnames: [] });
  assert.equal(proxyNeedsPush(pcs, SHOP, change('VirtualService/payments/ledger')), false);
  assert.equal(proxyNeedsPush(pcs, SHOP, change('Service/payments/ledger')), false);
  assert.equal(proxyNeedsPush(pcs, SHOP, change('Sidecar/payments/x')), false);
  assert.equal(proxyNeedsPush(pcs, SHOP, { configKeys: [], hostnames: [fqdn('fraud', 'payments')] }), false);
  // the unscoped proxy of another namespace gets it
  assert.equal(proxyNeedsPush(pcs, proxy({ namespace: 'other' }), change('VirtualService/payments/ledger')), true);
  // imported config, services and endpoints reach it
  assert.equal(proxyNeedsPush(pcs, SHOP, change('Service/istio-system/istiod')), true);
  assert.equal(proxyNeedsPush(pcs, SHOP, change('Sidecar/shop/default')), true);
  assert.equal(proxyNeedsPush(pcs, SHOP, change('Sidecar/istio-system/default')), true);
  assert.equal(proxyNeedsPush(pcs, SHOP, { configKeys: [], hostnames: [fqdn('cart', 'shop')] }), true);
  // a kind the scope does not track reaches everyone
  assert.equal(proxyNeedsPush(pcs, SHOP, change('AuthorizationPolicy/payments/x')), true);
  // a new shop VirtualService (imported after the change) and a deleted one (imported before)
  const withShopVs = makePc([...MESH, SCOPED, vs('cart', { hosts: ['cart'], http: [{ route: [{ destination: { host: 'cart' } }] }] }, 'shop')]);
  assert.equal(proxyNeedsPush([before, withShopVs], SHOP, change('VirtualService/shop/cart')), true);
  assert.equal(proxyNeedsPush([withShopVs, before], SHOP, change('VirtualService/shop/cart')), true);
  // a new service in an imported namespace
  const withNew = makePc([...MESH, SCOPED, svc('wishlist', 'shop')]);
  assert.equal(proxyNeedsPush([before, withNew], SHOP, change('Service/shop/wishlist')), true);
});
