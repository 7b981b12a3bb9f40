import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEndpoints } from '../../../src/control-plane/builders/index.js';
import { ENDPOINT_TYPE } from '../../../src/xds/type-urls.js';
import { assertRoundTrip, kubeService, makePc, proxy, res, subsetsRule, workloadProxy } from './fixtures.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const reviewsWorkloads = [
  workloadProxy('reviews-v1', 'reviews', 'v1', '127.0.10.3', 9080, { locality: { region: 'r1', zone: 'z1', sub_zone: 's1' } }),
  workloadProxy('reviews-v2', 'reviews', 'v2', '127.0.10.4', 9080, { locality: { region: 'r1', zone: 'z2' } }),
  workloadProxy('reviews-v3', 'reviews', 'v3', '127.0.10.5', 9080, { locality: { region: 'r2', zone: 'z1' } }),
];

function addrs(cla: any): string[] {
  return cla.endpoints.flatMap((g: any) => g.lb_endpoints.map((e: any) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`));
}

test('ClusterLoadAssignment: all endpoints for the service cluster, subset label filtering for subsets', () => {
  const pc = makePc([kubeService('reviews', [{ name: 'http', port: 9080 }]), subsetsRule('reviews', ['v1', 'v2', 'v3'])], reviewsWorkloads);
  const out = buildEndpoints(pc, proxy(), [`outbound|9080||${REVIEWS}`, `outbound|9080|v2|${REVIEWS}`, 'inbound|9080||', 'BlackHoleCluster']);
  assert.equal(out.length, 2);
  for (const cla of out) assertRoundTrip(ENDPOINT_TYPE, cla);
  assert.equal(out[0].cluster_name, `outbound|9080||${REVIEWS}`);
  assert.deepEqual(addrs(out[0]).sort(), ['127.0.10.3:9080', '127.0.10.4:9080', '127.0.10.5:9080']);
  assert.deepEqual(addrs(out[1]), ['127.0.10.4:9080']);
});

test('endpoints grouped by locality with weights, health status and workload metadata', () => {
  const pc = makePc([kubeService('reviews', [{ name: 'http', port: 9080 }])], reviewsWorkloads);
  const [cla] = buildEndpoints(pc, proxy(), [`outbound|9080||${REVIEWS}`]);
  assert.deepEqual(cla.endpoints.map((g: any) => g.locality), [
    { region: 'r1', zone: 'z1', sub_zone: 's1' }, { region: 'r1', zone: 'z2' }, { region: 'r2', zone: 'z1' },
  ]);
  const first = cla.endpoints[0];
  assert.deepEqual(first.load_balancing_weight, { value: 1 });
  assert.equal(first.lb_endpoints[0].health_status, 'HEALTHY');
  assert.deepEqual(first.lb_endpoints[0].load_balancing_weight, { value: 1 });
  assert.equal(first.lb_endpoints[0].metadata.filter_metadata.istio.fields.workload.stringValue, 'reviews-v1;default;reviews;v1;Kubernetes');
  assert.deepEqual(first.lb_endpoints[0].metadata.filter_metadata.istio.fields.labels.structValue.fields.version, { stringValue: 'v1' });
  assertRoundTrip(ENDPOINT_TYPE, cla);
});

test('unknown services, unknown subsets and non-EDS clusters give nothing or an empty assignment', () => {
  const pc = makePc([
    kubeService('reviews', [{ name: 'http', port: 9080 }]),
    res('ServiceEntry', 'ext', { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' }),
  ], reviewsWorkloads);
  assert.deepEqual(buildEndpoints(pc, proxy(), ['outbound|9080||nope.default.svc.cluster.local', 'outbound|80||httpbin.org', `outbound|1234||${REVIEWS}`]), []);
  assert.deepEqual(buildEndpoints(pc, proxy(), [`outbound|9080|v9|${REVIEWS}`]), [{ cluster_name: `outbound|9080|v9|${REVIEWS}`, endpoints: [] }]);
});

test('failover (outlier detection on): priorities by proximity to the proxy locality', () => {
  const pc = makePc([
    kubeService('reviews', [{ name: 'http', port: 9080 }]),
    res('DestinationRule', 'reviews', { host: 'reviews', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1 } } }),
  ], reviewsWorkloads);
  const near = proxy({ locality: { region: 'r1', zone: 'z1', sub_zone: 's1' } });
  const [cla] = buildEndpoints(pc, near, [`outbound|9080||${REVIEWS}`]);
  assert.deepEqual(cla.endpoints.map((g: any) => [g.locality.zone, g.priority ?? 0]), [['z1', 0], ['z2', 1], ['z1', 2]]);
  assertRoundTrip(ENDPOINT_TYPE, cla);
  // Without outlier detection there is no failover: every locality stays at priority 0.
  const plain = makePc([kubeService('reviews', [{ name: 'http', port: 9080 }])], reviewsWorkloads);
  const [cla2] = buildEndpoints(plain, near, [`outbound|9080||${REVIEWS}`]);
  assert.ok(cla2.endpoints.every((g: any) => g.priority === undefined));
});

test('localityLbSetting distribute sets locality weights and drops unlisted localities', () => {
  const pc = makePc([
    kubeService('reviews', [{ name: 'http', port: 9080 }]),
    res('DestinationRule', 'reviews', {
      host: 'reviews',
      trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: 'r1/z1/*', to: { 'r1/z1/*': 80, 'r1/z2/*': 20 } }] } } },
    }),
  ], reviewsWorkloads);
  const [cla] = buildEndpoints(pc, proxy({ locality: { region: 'r1', zone: 'z1', sub_zone: 's9' } }), [`outbound|9080||${REVIEWS}`]);
  assert.deepEqual(cla.endpoints.map((g: any) => [g.locality.zone, g.load_balancing_weight.value]), [['z1', 80], ['z2', 20]]);
});
