import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusters, buildEndpoints, buildListeners, buildRoutes } from '../../../src/control-plane/builders/index.js';
import { encodeResource } from '../../../src/xds/codec.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../src/xds/type-urls.js';
import {
  assertRoundTrip, BOOKINFO_SERVICES, BOOKINFO_WORKLOADS, byName, kubeService, makePc, proxy, res, subsetsRule, vs, workloadProxy,
} from './fixtures.js';

const SEED_CONFIG = [
  ...BOOKINFO_SERVICES,
  kubeService('httpbin', [{ name: 'http', port: 8000, targetPort: 8080 }]),
  subsetsRule('productpage', ['v1']),
  subsetsRule('details', ['v1']),
  subsetsRule('reviews', ['v1', 'v2', 'v3']),
  subsetsRule('ratings', ['v1']),
  res('DestinationRule', 'httpbin', {
    host: 'httpbin',
    trafficPolicy: {
      connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 } },
      outlierDetection: { consecutiveErrors: 1, interval: '1s', baseEjectionTime: '3m', maxEjectionPercent: 100 },
    },
  }),
  res('Gateway', 'bookinfo-gateway', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }),
  vs('bookinfo', {
    hosts: ['*'], gateways: ['bookinfo-gateway'],
    http: [{
      match: [{ uri: { exact: '/productpage' } }, { uri: { exact: '/login' } }, { uri: { exact: '/logout' } }, { uri: { prefix: '/api/v1/products' } }],
      route: [{ destination: { host: 'productpage', port: { number: 9080 } } }],
    }],
  }),
  vs('reviews', {
    hosts: ['reviews'],
    http: [
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
      { route: [{ destination: { host: 'reviews', subset: 'v3' } }] },
    ],
  }),
  vs('ratings', {
    hosts: ['ratings'],
    http: [
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], fault: { delay: { percent: 100, fixedDelay: '7s' } }, route: [{ destination: { host: 'ratings', subset: 'v1' } }] },
      { route: [{ destination: { host: 'ratings', subset: 'v1' } }] },
    ],
  }),
  res('ServiceEntry', 'httpbin-ext', { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' }),
  vs('httpbin-ext', { hosts: ['httpbin.org'], http: [{ timeout: '3s', route: [{ destination: { host: 'httpbin.org' }, weight: 100 }] }] }),
];

test('Bookinfo from the seed: cluster names, endpoints, listeners and routes all encode', () => {
  const workloads = [...BOOKINFO_WORKLOADS, workloadProxy('httpbin-v1', 'httpbin', 'v1', '127.0.10.7', 8080)];
  const pc = makePc(SEED_CONFIG, workloads);
  const pp = proxy();
  const clusters = buildClusters(pc, pp);
  const names = clusters.map((c) => c.name as string);
  const fq = (s: string) => `${s}.default.svc.cluster.local`;
  const expected = [
    `outbound|9080||${fq('details')}`, `outbound|9080|v1|${fq('details')}`,
    `outbound|9080||${fq('productpage')}`, `outbound|9080|v1|${fq('productpage')}`,
    `outbound|9080||${fq('reviews')}`, `outbound|9080|v1|${fq('reviews')}`, `outbound|9080|v2|${fq('reviews')}`, `outbound|9080|v3|${fq('reviews')}`,
    `outbound|9080||${fq('ratings')}`, `outbound|9080|v1|${fq('ratings')}`,
    `outbound|8000||${fq('httpbin')}`, 'outbound|80||httpbin.org',
    'inbound|9080||', 'BlackHoleCluster', 'PassthroughCluster', 'InboundPassthroughCluster',
  ];
  assert.deepEqual([...names].sort(), [...expected].sort());
  for (const c of clusters) {
    assert.ok(encodeResource(CLUSTER_TYPE, c).length > 0);
    assertRoundTrip(CLUSTER_TYPE, c);
  }
  const httpbin = byName(clusters, `outbound|8000||${fq('httpbin')}`);
  assert.deepEqual(httpbin.circuit_breakers.thresholds[0].max_connections, { value: 1 });
  assert.deepEqual(httpbin.outlier_detection.consecutive_5xx, { value: 1 });

  const edsNames = clusters.filter((c) => c.type === 'EDS').map((c) => c.name as string);
  const endpoints = buildEndpoints(pc, pp, edsNames);
  assert.equal(endpoints.length, edsNames.length);
  for (const e of endpoints) assertRoundTrip(ENDPOINT_TYPE, e);
  const count = (n: string) => byName(endpoints, n).endpoints.flatMap((g: any) => g.lb_endpoints).length;
  assert.equal(count(`outbound|9080||${fq('reviews')}`), 3);
  assert.equal(count(`outbound|9080|v3|${fq('reviews')}`), 1);
  assert.equal(byName(endpoints, `outbound|8000||${fq('httpbin')}`).endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, 8080);

  const listeners = buildListeners(pc, pp);
  for (const l of listeners) assertRoundTrip(LISTENER_TYPE, l);
  assert.deepEqual(listeners.map((l) => l.name), ['virtualOutbound', '0.0.0.0_80', '0.0.0.0_8000', '0.0.0.0_9080', '127.0.10.1_9080']);

  const routes = buildRoutes(pc, pp, ['80', '8000', '9080']);
  for (const r of routes) assertRoundTrip(ROUTE_TYPE, r);
  const r9080 = byName(routes, '9080');
  const reviews = byName(r9080.virtual_hosts, `${fq('reviews')}:9080`).routes;
  assert.deepEqual(reviews.map((r: any) => r.route.cluster), [`outbound|9080|v2|${fq('reviews')}`, `outbound|9080|v3|${fq('reviews')}`]);
  const ratings = byName(r9080.virtual_hosts, `${fq('ratings')}:9080`).routes;
  assert.deepEqual(ratings[0].typed_per_filter_config['envoy.filters.http.fault'].delay.fixed_delay, { seconds: 7 });
  assert.equal(ratings[1].typed_per_filter_config, undefined);
  assert.deepEqual(byName(byName(routes, '80').virtual_hosts, 'httpbin.org:80').routes[0].route.timeout, { seconds: 3 });

  const gw = proxy({ type: 'router', name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, podPorts: [], address: '127.0.10.100' });
  const gwListeners = buildListeners(pc, gw);
  assert.deepEqual(gwListeners.map((l) => l.name), ['0.0.0.0_80']);
  const [gwRoutes] = buildRoutes(pc, gw, ['http.80']);
  assertRoundTrip(ROUTE_TYPE, gwRoutes);
  assert.equal(gwRoutes.virtual_hosts[0].routes.length, 4);
  assert.ok(!buildClusters(pc, gw).some((c) => String(c.name).startsWith('inbound|')));
});
