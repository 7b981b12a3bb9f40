import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildListeners } from '../../../src/control-plane/builders/index.js';
import { LISTENER_TYPE, HCM_TYPE, TCP_PROXY_TYPE } from '../../../src/xds/type-urls.js';
import { structToJson } from '../../../src/xds/struct.js';
import { assertRoundTrip, BOOKINFO_SERVICES, byName, kubeService, makePc, proxy, res, subsetsRule, vs } from './fixtures.js';

// Istio's stats filter sits right before the router on every sidecar and gateway HCM.
const FILTER_NAMES = ['envoy.filters.http.fault', 'envoy.filters.http.cors', 'istio.stats', 'envoy.filters.http.router'];

test('sidecar: virtualOutbound on 15001 with use_original_dst and a passthrough chain', () => {
  const ls = buildListeners(makePc(BOOKINFO_SERVICES), proxy());
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  const vo = byName(ls, 'virtualOutbound');
  assert.deepEqual(vo.address, { socket_address: { address: '0.0.0.0', port_value: 15001 } });
  assert.deepEqual(vo.use_original_dst, { value: true });
  // istio.stats (network) first, then the tcp_proxy to PassthroughCluster
  assert.deepEqual(vo.filter_chains[0].filters.map((f: any) => f.name), ['istio.stats', 'envoy.filters.network.tcp_proxy']);
  assert.equal(vo.filter_chains[0].filters[1].typed_config.cluster, 'PassthroughCluster');
});

test('sidecar: HTTP service port → 0.0.0.0_<port>, bind_to_port false, HCM with RDS <port> and istio.alpn, fault, cors, istio.stats, router', () => {
  const ls = buildListeners(makePc(BOOKINFO_SERVICES), proxy());
  const l = byName(ls, '0.0.0.0_9080');
  assert.deepEqual(l.bind_to_port, { value: false });
  assert.deepEqual(l.address, { socket_address: { address: '0.0.0.0', port_value: 9080 } });
  const hcm = l.filter_chains[0].filters[0];
  assert.equal(hcm.name, 'envoy.filters.network.http_connection_manager');
  assert.equal(hcm.typed_config['@type'], HCM_TYPE);
  assert.deepEqual(hcm.typed_config.rds, { route_config_name: '9080', config_source: { ads: {}, resource_api_version: 'V3' } });
  assert.deepEqual(hcm.typed_config.http_filters.map((f: any) => f.name), ['istio.alpn', ...FILTER_NAMES]);
  // istio.alpn (a TypedStruct, as Istio sends it): mTLS HTTP connections announce their version
  const alpn = hcm.typed_config.http_filters[0].typed_config;
  assert.equal(alpn['@type'], 'type.googleapis.com/udpa.type.v1.TypedStruct');
  assert.equal(alpn.type_url, 'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig');
  assert.deepEqual(structToJson(alpn.value), { alpn_override: [
    { upstream_protocol: 'HTTP10', alpn_override: ['istio-http/1.0', 'istio'] },
    { upstream_protocol: 'HTTP11', alpn_override: ['istio-http/1.1', 'istio'] },
    { upstream_protocol: 'HTTP2', alpn_override: ['istio-h2', 'istio'] },
  ] });
  // as Istio: WebSocket upgrades are carried (the proxy refuses any other upgrade type)
  assert.deepEqual(hcm.typed_config.upgrade_configs, [{ upgrade_type: 'websocket' }]);
  // The fault filter has an empty HTTPFault so per-route configs decide.
  assert.deepEqual(hcm.typed_config.http_filters[1].typed_config, { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' });
});

test('sidecar: TCP service port → TcpProxy to the service cluster, or the weighted tcp route destinations', () => {
  const config = [
    kubeService('mongo', [{ name: 'mongo', port: 27017 }]),
    kubeService('db', [{ name: 'tcp', port: 3306 }]),
    subsetsRule('db', ['v1', 'v2']),
    vs('db', { hosts: ['db'], tcp: [{ match: [{ port: 3306 }], route: [{ destination: { host: 'db', subset: 'v1' }, weight: 80 }, { destination: { host: 'db', subset: 'v2' }, weight: 20 }] }] }),
  ];
  const ls = buildListeners(makePc(config), proxy());
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  const mongoFilters = byName(ls, '0.0.0.0_27017').filter_chains[0].filters;
  assert.equal(mongoFilters[0].name, 'istio.stats');
  const mongo = mongoFilters[1];
  assert.equal(mongo.name, 'envoy.filters.network.tcp_proxy');
  assert.deepEqual(mongo.typed_config, {
    '@type': TCP_PROXY_TYPE, stat_prefix: 'outbound|27017||mongo.default.svc.cluster.local', cluster: 'outbound|27017||mongo.default.svc.cluster.local',
  });
  const db = byName(ls, '0.0.0.0_3306').filter_chains[0].filters[1].typed_config;
  assert.deepEqual(db.weighted_clusters, {
    clusters: [
      { name: 'outbound|3306|v1|db.default.svc.cluster.local', weight: 80 },
      { name: 'outbound|3306|v2|db.default.svc.cluster.local', weight: 20 },
    ],
  });
});

test('inbound INTERCEPTION_MODE NONE: <address>_<port> bound to the workload address, inline route to inbound|<port>||', () => {
  const config = [...BOOKINFO_SERVICES, kubeService('pp-tcp', [{ name: 'tcp', port: 7000 }], { app: 'productpage' })];
  const p = proxy({ podPorts: [{ name: 'http', containerPort: 9080 }, { name: 'tcp', containerPort: 7000 }] });
  const ls = buildListeners(makePc(config), p);
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  const l = byName(ls, '127.0.10.1_9080');
  assert.deepEqual(l.address, { socket_address: { address: '127.0.10.1', port_value: 9080 } });
  assert.equal(l.bind_to_port, undefined);
  assert.equal(l.traffic_direction, 'INBOUND');
  const hcm = l.filter_chains[0].filters[0].typed_config;
  assert.equal(hcm.route_config.name, 'inbound|9080||');
  assert.deepEqual(hcm.route_config.virtual_hosts[0].domains, ['*']);
  assert.equal(hcm.route_config.virtual_hosts[0].routes[0].route.cluster, 'inbound|9080||');
  assert.deepEqual(hcm.http_filters.map((f: any) => f.name), ['istio.stats', 'envoy.filters.http.router']);
  assert.deepEqual(hcm.upgrade_configs, [{ upgrade_type: 'websocket' }]);
  const tcp = byName(ls, '127.0.10.1_7000').filter_chains[0].filters[1].typed_config;
  assert.equal(tcp.cluster, 'inbound|7000||');
  assert.ok(!ls.some((x) => x.name === 'virtualInbound'));
});

test('inbound REDIRECT: virtualInbound on 15006 with a filter chain per port and a passthrough chain', () => {
  const ls = buildListeners(makePc(BOOKINFO_SERVICES), proxy({ interceptionMode: 'REDIRECT' }));
  const vi = byName(ls, 'virtualInbound');
  assertRoundTrip(LISTENER_TYPE, vi);
  assert.deepEqual(vi.address, { socket_address: { address: '0.0.0.0', port_value: 15006 } });
  // PERMISSIVE (nothing configured): the mTLS chain, then the plaintext one, both to inbound|9080||
  assert.deepEqual(vi.filter_chains[0].filter_chain_match, {
    destination_port: { value: 9080 }, transport_protocol: 'tls',
    application_protocols: ['istio-peer-exchange', 'istio', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'],
  });
  assert.deepEqual(vi.filter_chains[1].filter_chain_match, { destination_port: { value: 9080 }, transport_protocol: 'raw_buffer' });
  for (const i of [0, 1]) assert.equal(vi.filter_chains[i].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster, 'inbound|9080||');
  assert.equal(vi.filter_chains.at(-1).filters.at(-1).typed_config.cluster, 'InboundPassthroughCluster');
  assert.ok(!ls.some((x) => x.name === '127.0.10.1_9080'));
});

test('router proxy: a listener per server port of the Gateways selecting it, bind_to_port true, RDS http.<port>', () => {
  const config = [
    ...BOOKINFO_SERVICES,
    res('Gateway', 'bookinfo-gateway', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }),
    res('Gateway', 'egress', { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 81, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }),
  ];
  const gw = proxy({ type: 'router', name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, podPorts: [] });
  const ls = buildListeners(makePc(config), gw);
  assert.deepEqual(ls.map((l) => l.name), ['0.0.0.0_80']);
  const l = ls[0];
  assertRoundTrip(LISTENER_TYPE, l);
  assert.deepEqual(l.bind_to_port, { value: true });
  const hcm = l.filter_chains[0].filters[0].typed_config;
  assert.equal(hcm.rds.route_config_name, 'http.80');
  assert.deepEqual(hcm.http_filters.map((f: any) => f.name), FILTER_NAMES);
});

test('proxyless gRPC: api_listener named exactly as requested, RDS of the same name, named filters with router last', () => {
  const pc = makePc(BOOKINFO_SERVICES);
  const client = proxy({ name: 'grpc-client', address: '', podPorts: [] });
  const names = ['reviews.default.svc.cluster.local:9080', 'ratings.default:9080', 'nope.default:9080'];
  const ls = buildListeners(pc, client, names);
  assert.deepEqual(ls.map((l) => l.name), names.slice(0, 2));
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  assert.deepEqual(ls[1], {
    name: 'ratings.default:9080',
    api_listener: {
      api_listener: {
        '@type': HCM_TYPE,
        rds: { route_config_name: 'ratings.default:9080', config_source: { ads: {}, resource_api_version: 'V3' } },
        http_filters: [
          { name: 'envoy.filters.http.fault', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } },
          { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
        ],
      },
    },
  });
});

test('named listener requests filter the sidecar set', () => {
  const ls = buildListeners(makePc(BOOKINFO_SERVICES), proxy(), ['virtualOutbound', '0.0.0.0_9080']);
  assert.deepEqual(ls.map((l) => l.name), ['virtualOutbound', '0.0.0.0_9080']);
});
