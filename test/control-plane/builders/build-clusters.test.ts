import { structToJson } from '../../../src/xds/struct.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusters } from '../../../src/control-plane/builders/index.js';
import { CLUSTER_TYPE } from '../../../src/xds/type-urls.js';
import {
  assertRoundTrip, byName, kubeService, makePc, proxy, res, subsetsRule,
} from './fixtures.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const MAX = 4294967295;

function clusterWith(trafficPolicy: unknown, port: { name: string; port: number } = { name: 'http', port: 9080 }, subsets?: unknown[]) {
  const pc = makePc([
    kubeService('reviews', [port]),
    res('DestinationRule', 'reviews', { host: 'reviews', trafficPolicy, ...(subsets ? { subsets } : {}) }),
  ]);
  const clusters = buildClusters(pc, proxy());
  for (const c of clusters) assertRoundTrip(CLUSTER_TYPE, c);
  return clusters;
}

test('outbound EDS cluster: exact shape with Istio defaults', () => {
  // auto mTLS adds transport_socket_matches (build-mtls.test.ts); the rest of the shape is this
  const pc = makePc([kubeService('reviews', [{ name: 'http', port: 9080 }])], [], { enableAutoMtls: false });
  const c = byName(buildClusters(pc, proxy()), `outbound|9080||${REVIEWS}`);
  assert.deepEqual(c, {
    name: `outbound|9080||${REVIEWS}`,
    type: 'EDS',
    eds_cluster_config: { service_name: `outbound|9080||${REVIEWS}`, eds_config: { ads: {}, resource_api_version: 'V3' } },
    connect_timeout: { seconds: 10 },
    lb_policy: 'ROUND_ROBIN',
    circuit_breakers: {
      thresholds: [{
        max_connections: { value: MAX }, max_pending_requests: { value: MAX }, max_requests: { value: MAX },
        max_retries: { value: MAX }, track_remaining: true,
      }],
    },
  });
  assertRoundTrip(CLUSTER_TYPE, c);
});

test('fixed clusters: BlackHole, Passthrough (ORIGINAL_DST, CLUSTER_PROVIDED), InboundPassthrough', () => {
  const clusters = buildClusters(makePc([]), proxy({ podPorts: [] }));
  assert.deepEqual(clusters.map((c) => c.name), ['BlackHoleCluster', 'PassthroughCluster', 'InboundPassthroughCluster']);
  const pt = byName(clusters, 'PassthroughCluster');
  assert.equal(pt.type, 'ORIGINAL_DST');
  assert.equal(pt.lb_policy, 'CLUSTER_PROVIDED');
  assert.equal(byName(clusters, 'InboundPassthroughCluster').type, 'ORIGINAL_DST');
  assert.equal(byName(clusters, 'BlackHoleCluster').type, 'STATIC');
  for (const c of clusters) assertRoundTrip(CLUSTER_TYPE, c);
});

test('inbound clusters point at the app: CLEW_APP_PORTS address, else 127.0.0.1:<port>', () => {
  const pc = makePc([kubeService('productpage', [{ name: 'http', port: 9080 }]), kubeService('pp-admin', [{ name: 'http', port: 9090 }], { app: 'productpage' })]);
  const p = proxy({ appPorts: { 9080: '127.0.10.1:41234' }, podPorts: [{ name: 'http', containerPort: 9080 }, { name: 'admin', containerPort: 9090 }] });
  const clusters = buildClusters(pc, p);
  const c = byName(clusters, 'inbound|9080||');
  assert.equal(c.type, 'STATIC');
  assert.deepEqual(c.load_assignment, {
    cluster_name: 'inbound|9080||',
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.10.1', port_value: 41234 } } } }] }],
  });
  assert.deepEqual(byName(clusters, 'inbound|9090||').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address,
    { address: '127.0.0.1', port_value: 9090 });
  assertRoundTrip(CLUSTER_TYPE, c);
});

test('inbound clusters name the services behind the port in istio metadata (destination_service on the server side)', () => {
  const pc = makePc([kubeService('productpage', [{ name: 'http', port: 9080 }])]);
  const p = proxy({ podPorts: [{ name: 'http', containerPort: 9080 }, { name: 'metrics', containerPort: 9999 }] });
  const clusters = buildClusters(pc, p);
  assert.deepEqual(structToJson(byName(clusters, 'inbound|9080||').metadata.filter_metadata.istio), {
    services: [{ host: 'productpage.default.svc.cluster.local', name: 'productpage', namespace: 'default' }],
  });
  // a pod port no service targets carries no service metadata
  assert.equal(byName(clusters, 'inbound|9999||').metadata, undefined);
  assertRoundTrip(CLUSTER_TYPE, byName(clusters, 'inbound|9080||'));
});

test('router proxies get no inbound clusters; names filter the output', () => {
  const pc = makePc([kubeService('reviews', [{ name: 'http', port: 9080 }])]);
  const gw = proxy({ type: 'router', labels: { istio: 'ingressgateway' } });
  assert.ok(!buildClusters(pc, gw).some((c) => String(c.name).startsWith('inbound|')));
  assert.deepEqual(buildClusters(pc, proxy(), [`outbound|9080||${REVIEWS}`, 'nope']).map((c) => c.name), [`outbound|9080||${REVIEWS}`]);
});

test('a cluster per DestinationRule subset', () => {
  const pc = makePc([kubeService('reviews', [{ name: 'http', port: 9080 }]), subsetsRule('reviews', ['v1', 'v2', 'v3'])]);
  const names = buildClusters(pc, proxy()).map((c) => c.name).filter((n) => String(n).includes(REVIEWS));
  assert.deepEqual(names, [`outbound|9080||${REVIEWS}`, `outbound|9080|v1|${REVIEWS}`, `outbound|9080|v2|${REVIEWS}`, `outbound|9080|v3|${REVIEWS}`]);
  const v2 = byName(buildClusters(pc, proxy()), `outbound|9080|v2|${REVIEWS}`);
  assert.equal(v2.eds_cluster_config.service_name, `outbound|9080|v2|${REVIEWS}`);
});

test('ServiceEntry resolutions: DNS → STRICT_DNS, DNS_ROUND_ROBIN → LOGICAL_DNS, STATIC → STATIC, NONE → ORIGINAL_DST', () => {
  const pc = makePc([
    res('ServiceEntry', 'dns', { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' }),
    res('ServiceEntry', 'rr', { hosts: ['rr.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS_ROUND_ROBIN' }),
    res('ServiceEntry', 'st', { hosts: ['st.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address: '10.0.0.9' }] }),
    res('ServiceEntry', 'none', { hosts: ['none.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'NONE' }),
  ]);
  const clusters = buildClusters(pc, proxy());
  for (const c of clusters) assertRoundTrip(CLUSTER_TYPE, c);
  const dns = byName(clusters, 'outbound|80||httpbin.org');
  assert.equal(dns.type, 'STRICT_DNS');
  assert.equal(dns.eds_cluster_config, undefined);
  assert.deepEqual(dns.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: 'httpbin.org', port_value: 80 });
  assert.equal(byName(clusters, 'outbound|443||rr.example.com').type, 'LOGICAL_DNS');
  const st = byName(clusters, 'outbound|80||st.example.com');
  assert.equal(st.type, 'STATIC');
  assert.deepEqual(st.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: '10.0.0.9', port_value: 80 });
  const none = byName(clusters, 'outbound|80||none.example.com');
  assert.equal(none.type, 'ORIGINAL_DST');
  assert.equal(none.lb_policy, 'CLUSTER_PROVIDED');
});

test('loadBalancer simple: ROUND_ROBIN, LEAST_REQUEST (and LEAST_CONN), RANDOM', () => {
  for (const [simple, want] of [['ROUND_ROBIN', 'ROUND_ROBIN'], ['LEAST_REQUEST', 'LEAST_REQUEST'], ['LEAST_CONN', 'LEAST_REQUEST'], ['RANDOM', 'RANDOM']]) {
    const c = byName(clusterWith({ loadBalancer: { simple } }), `outbound|9080||${REVIEWS}`);
    assert.equal(c.lb_policy, want, simple);
  }
});

test('consistentHash → RING_HASH with ring_hash_lb_config (default and explicit ring size)', () => {
  const c = byName(clusterWith({ loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } }), `outbound|9080||${REVIEWS}`);
  assert.equal(c.lb_policy, 'RING_HASH');
  assert.deepEqual(c.ring_hash_lb_config, { minimum_ring_size: { value: 1024 } });
  const c2 = byName(clusterWith({ loadBalancer: { consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 64 } } } }), `outbound|9080||${REVIEWS}`);
  assert.deepEqual(c2.ring_hash_lb_config, { minimum_ring_size: { value: 64 } });
});

test('connectionPool → circuit_breakers thresholds, connect_timeout, tcp keepalive', () => {
  const c = byName(clusterWith({
    connectionPool: {
      tcp: { maxConnections: 1, connectTimeout: '250ms', tcpKeepalive: { probes: 3, time: '600s', interval: '75s' } },
      http: { http1MaxPendingRequests: 2, http2MaxRequests: 3, maxRetries: 4 },
    },
  }), `outbound|9080||${REVIEWS}`);
  assert.deepEqual(c.circuit_breakers, {
    thresholds: [{
      max_connections: { value: 1 }, max_pending_requests: { value: 2 }, max_requests: { value: 3 },
      max_retries: { value: 4 }, track_remaining: true,
    }],
  });
  assert.deepEqual(c.connect_timeout, { seconds: 0, nanos: 250_000_000 });
  assert.deepEqual(c.upstream_connection_options, {
    tcp_keepalive: { keepalive_probes: { value: 3 }, keepalive_time: { value: 600 }, keepalive_interval: { value: 75 } },
  });
});

test('connectionPool http → HttpProtocolOptions (idle timeout, max requests per connection, HTTP/1)', () => {
  const c = byName(clusterWith({ connectionPool: { http: { idleTimeout: '30s', maxRequestsPerConnection: 1 } } }), `outbound|9080||${REVIEWS}`);
  assert.deepEqual(c.typed_extension_protocol_options, {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      common_http_protocol_options: { idle_timeout: { seconds: 30 }, max_requests_per_connection: { value: 1 } },
      explicit_http_config: { http_protocol_options: {} },
    },
  });
});

test('HTTP/2 upstream for grpc/http2 ports and for h2UpgradePolicy UPGRADE', () => {
  const grpc = byName(clusterWith(undefined, { name: 'grpc', port: 9080 }), `outbound|9080||${REVIEWS}`);
  assert.deepEqual(grpc.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config,
    { http2_protocol_options: {} });
  const up = byName(clusterWith({ connectionPool: { http: { h2UpgradePolicy: 'UPGRADE' } } }), `outbound|9080||${REVIEWS}`);
  assert.deepEqual(up.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config,
    { http2_protocol_options: {} });
  const plain = byName(clusterWith(undefined), `outbound|9080||${REVIEWS}`);
  assert.equal(plain.typed_extension_protocol_options, undefined);
  const tcp = byName(clusterWith({ connectionPool: { http: { idleTimeout: '1s' } } }, { name: 'tcp', port: 9080 }), `outbound|9080||${REVIEWS}`);
  assert.equal(tcp.typed_extension_protocol_options, undefined);
});

test('outlierDetection → outlier_detection with Istio enforcement and panic threshold', () => {
  const c = byName(clusterWith({
    outlierDetection: {
      consecutive5xxErrors: 5, consecutiveGatewayErrors: 2, interval: '1s', baseEjectionTime: '3m', maxEjectionPercent: 100,
      splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 4,
    },
  }), `outbound|9080||${REVIEWS}`);
  assert.deepEqual(c.outlier_detection, {
    enforcing_success_rate: { value: 0 },
    consecutive_5xx: { value: 5 }, enforcing_consecutive_5xx: { value: 100 },
    consecutive_gateway_failure: { value: 2 }, enforcing_consecutive_gateway_failure: { value: 100 },
    interval: { seconds: 1 }, base_ejection_time: { seconds: 180 }, max_ejection_percent: { value: 100 },
    split_external_local_origin_errors: true,
    consecutive_local_origin_failure: { value: 4 }, enforcing_consecutive_local_origin_failure: { value: 100 },
    enforcing_local_origin_success_rate: { value: 0 },
  });
  assert.deepEqual(c.common_lb_config, { healthy_panic_threshold: { value: 0 }, locality_weighted_lb_config: {} });
});

test('deprecated consecutiveErrors maps to consecutive_5xx (the seed circuit breaker)', () => {
  const c = byName(clusterWith({
    connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 } },
    outlierDetection: { consecutiveErrors: 1, interval: '1s', baseEjectionTime: '3m', maxEjectionPercent: 100 },
  }), `outbound|9080||${REVIEWS}`);
  assert.deepEqual(c.outlier_detection.consecutive_5xx, { value: 1 });
  assert.deepEqual(c.outlier_detection.enforcing_consecutive_5xx, { value: 100 });
  assert.deepEqual(c.circuit_breakers.thresholds[0].max_connections, { value: 1 });
  assert.deepEqual(c.circuit_breakers.thresholds[0].max_pending_requests, { value: 1 });
});

test('subset traffic policy overrides the top level; port-level settings override for their port', () => {
  const pc = makePc([
    kubeService('reviews', [{ name: 'http', port: 9080 }, { name: 'http-admin', port: 9090 }]),
    res('DestinationRule', 'reviews', {
      host: 'reviews',
      trafficPolicy: {
        loadBalancer: { simple: 'RANDOM' },
        connectionPool: { tcp: { maxConnections: 10 } },
        portLevelSettings: [{ port: { number: 9090 }, loadBalancer: { simple: 'LEAST_REQUEST' } }],
      },
      subsets: [
        { name: 'v1', labels: { version: 'v1' }, trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 } } } },
        { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
      ],
    }),
  ]);
  const cs = buildClusters(pc, proxy());
  assert.equal(byName(cs, `outbound|9080||${REVIEWS}`).lb_policy, 'RANDOM');
  assert.equal(byName(cs, `outbound|9090||${REVIEWS}`).lb_policy, 'LEAST_REQUEST');
  const v1 = byName(cs, `outbound|9080|v1|${REVIEWS}`);
  assert.equal(v1.lb_policy, 'RANDOM');
  assert.deepEqual(v1.circuit_breakers.thresholds[0].max_connections, { value: 1 });
  const v2 = byName(cs, `outbound|9080|v2|${REVIEWS}`);
  assert.equal(v2.lb_policy, 'ROUND_ROBIN');
  assert.deepEqual(v2.circuit_breakers.thresholds[0].max_connections, { value: 10 });
  assert.equal(byName(cs, `outbound|9090|v1|${REVIEWS}`).lb_policy, 'LEAST_REQUEST');
});

test('localityLbSetting distribute turns on locality-weighted LB; enabled:false keeps it off', () => {
  const on = byName(clusterWith({ loadBalancer: { localityLbSetting: { distribute: [{ from: 'r1/*', to: { 'r1/*': 80, 'r2/*': 20 } }] } } }), `outbound|9080||${REVIEWS}`);
  assert.deepEqual(on.common_lb_config, { locality_weighted_lb_config: {} });
  const off = byName(clusterWith({ loadBalancer: { localityLbSetting: { enabled: false } }, outlierDetection: { consecutive5xxErrors: 1 } }), `outbound|9080||${REVIEWS}`);
  assert.deepEqual(off.common_lb_config, { healthy_panic_threshold: { value: 0 } });
});

test('DestinationRule precedence: the proxy namespace first, then the service namespace; same-namespace rules merge', () => {
  const config = [
    kubeService('reviews', [{ name: 'http', port: 9080 }]),
    res('DestinationRule', 'reviews-a', { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'RANDOM' } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] }),
    res('DestinationRule', 'reviews-b', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'x' } }, { name: 'v2', labels: { version: 'v2' } }] }),
    res('DestinationRule', 'reviews-shop', { host: 'reviews.default.svc.cluster.local', trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }, 'shop'),
  ];
  const pc = makePc(config);
  const inDefault = buildClusters(pc, proxy());
  assert.equal(byName(inDefault, `outbound|9080||${REVIEWS}`).lb_policy, 'RANDOM');
  assert.ok(byName(inDefault, `outbound|9080|v2|${REVIEWS}`));
  assert.deepEqual(pc.destinationRule(REVIEWS, { namespace: 'default', labels: {} })?.spec.subsets?.map((s) => s.labels?.version), ['v1', 'v2']);
  const inShop = buildClusters(pc, proxy({ namespace: 'shop' }));
  assert.equal(byName(inShop, `outbound|9080||${REVIEWS}`).lb_policy, 'LEAST_REQUEST');
  assert.ok(!inShop.some((c) => c.name === `outbound|9080|v1|${REVIEWS}`));
});

test('exportTo "." hides a DestinationRule from other namespaces', () => {
  const pc = makePc([
    kubeService('reviews', [{ name: 'http', port: 9080 }]),
    res('DestinationRule', 'r', { host: 'reviews', exportTo: ['.'], trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }),
  ]);
  assert.equal(byName(buildClusters(pc, proxy()), `outbound|9080||${REVIEWS}`).lb_policy, 'RANDOM');
  assert.equal(byName(buildClusters(pc, proxy({ namespace: 'shop' })), `outbound|9080||${REVIEWS}`).lb_policy, 'ROUND_ROBIN');
});

test('inbound clusters of grpc/http2 ports speak HTTP/2 to the app; http ports do not set it', () => {
  const pc = makePc([kubeService('echo', [{ name: 'grpc-echo', port: 7070 }, { name: 'http2-h2c', port: 8081 }, { name: 'http-web', port: 8080 }], { app: 'productpage' })]);
  const p = proxy({ podPorts: [7070, 8081, 8080].map((containerPort) => ({ containerPort, protocol: 'TCP' })) });
  const clusters = buildClusters(pc, p);
  for (const port of [7070, 8081]) {
    const c = byName(clusters, `inbound|${port}||`);
    assert.deepEqual(c.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config, { http2_protocol_options: {} });
    assertRoundTrip(CLUSTER_TYPE, c);
  }
  assert.equal(byName(clusters, 'inbound|8080||').typed_extension_protocol_options, undefined);
});
