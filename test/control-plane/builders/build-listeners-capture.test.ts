/**
 * Listeners for transparent capture, keyed as Istio keys them: `<vip>_<port>` for TCP services
 * with a virtual IP, `0.0.0.0_<port>` for HTTP ports and TCP services without one; sniffing
 * chains on undeclared ports (outbound and inbound); virtualInbound matching original ports,
 * transparent with TPROXY; inbound clusters binding 127.0.0.6 under capture; REGISTRY_ONLY from
 * MeshConfig or a Sidecar sending unknown destinations to BlackHoleCluster.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusters, buildListeners, buildRoutes } from '../../../src/control-plane/builders/index.js';
import { CLUSTER_TYPE, LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import { assertRoundTrip, byName, makePc, proxy, res } from './fixtures.js';

const svc = (name: string, clusterIP: string | undefined, ports: Array<{ name?: string; port: number; appProtocol?: string }>) =>
  res('Service', name, { ...(clusterIP ? { clusterIP } : {}), selector: { app: name }, ports });

const SERVICES = [
  svc('web', '10.96.0.10', [{ name: 'http', port: 80 }]),
  svc('redis', '10.96.0.11', [{ name: 'tcp-redis', port: 6379 }]),
  svc('cache', '10.96.0.12', [{ name: 'redis', port: 6379 }]),
  svc('legacy', undefined, [{ name: 'tcp', port: 5000 }]),
  svc('plain', '10.96.0.13', [{ port: 8090 }]),
  svc('named', '10.96.0.14', [{ name: 'whatever', port: 8091, appProtocol: 'http' }]),
];

const tcpCluster = (l: any, chain = 0): string => l.filter_chains[chain].filters.at(-1).typed_config.cluster;

test('outbound listeners: <vip>_<port> per TCP service, 0.0.0.0_<port> for HTTP and VIP-less TCP', () => {
  const ls = buildListeners(makePc(SERVICES), proxy({ interceptionMode: 'REDIRECT', address: '10.0.0.5' }));
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  const names = ls.map((l) => l.name);
  assert.ok(names.includes('0.0.0.0_80'));
  assert.ok(names.includes('10.96.0.11_6379') && names.includes('10.96.0.12_6379'), names.join(' '));
  assert.ok(!names.includes('0.0.0.0_6379'), 'TCP services with VIPs do not share the wildcard');
  assert.ok(names.includes('0.0.0.0_5000'));
  const redis = byName(ls, '10.96.0.11_6379');
  assert.deepEqual(redis.address, { socket_address: { address: '10.96.0.11', port_value: 6379 } });
  assert.deepEqual(redis.bind_to_port, { value: false });
  assert.equal(tcpCluster(redis), 'outbound|6379||redis.default.svc.cluster.local');
  assert.equal(tcpCluster(byName(ls, '10.96.0.12_6379')), 'outbound|6379||cache.default.svc.cluster.local');
  assert.equal(tcpCluster(byName(ls, '0.0.0.0_5000')), 'outbound|5000||legacy.default.svc.cluster.local');
});

test('an undeclared port is sniffed: an HTTP chain for http/1.x and h2c beside the TCP chain, and a route config', () => {
  const pc = makePc(SERVICES);
  const ls = buildListeners(pc, proxy({ interceptionMode: 'REDIRECT' }));
  const plain = byName(ls, '10.96.0.13_8090');
  assert.equal(plain.filter_chains.length, 2);
  assert.deepEqual(plain.filter_chains[0].filter_chain_match, { application_protocols: ['http/1.0', 'http/1.1', 'h2c'] });
  assert.equal(plain.filter_chains[0].filters.at(-1).typed_config.rds.route_config_name, '8090');
  assert.equal(tcpCluster(plain, 1), 'outbound|8090||plain.default.svc.cluster.local');
  const rc = buildRoutes(pc, proxy(), ['8090'])[0];
  assert.ok(rc.virtual_hosts.some((v: any) => v.name === 'plain.default.svc.cluster.local:8090' && v.domains.includes('10.96.0.13')));
  // appProtocol declares: plain HTTP, no sniffing
  const named = byName(ls, '0.0.0.0_8091');
  assert.equal(named.filter_chains.length, 1);
  assert.equal(named.filter_chains[0].filter_chain_match, undefined);
});

test('inbound under capture: original ports, sniffed ports, 127.0.0.6, TPROXY transparent', () => {
  // mTLS DISABLE: the plaintext chains alone (the mTLS chains per mode: build-mtls.test.ts)
  const disable = res('PeerAuthentication', 'mesh', { mtls: { mode: 'DISABLE' } }, 'istio-system');
  const pc = makePc([svc('app', undefined, [{ name: 'http', port: 9080 }, { port: 7000 }]), disable]);
  const me = proxy({ interceptionMode: 'REDIRECT', labels: { app: 'app' }, podPorts: [{ name: 'http', containerPort: 9080 }, { containerPort: 7000 }] });
  const vi = byName(buildListeners(pc, me), 'virtualInbound');
  assert.deepEqual(vi.listener_filters.map((f: any) => f.name), ['envoy.filters.listener.original_dst', 'envoy.filters.listener.http_inspector']);
  assert.equal(vi.transparent, undefined);
  const chains = vi.filter_chains.map((c: any) => [c.name, c.filter_chain_match]);
  assert.deepEqual(chains, [
    ['0.0.0.0_7000', { destination_port: { value: 7000 }, application_protocols: ['http/1.0', 'http/1.1', 'h2c'] }],
    ['0.0.0.0_7000', { destination_port: { value: 7000 } }],
    ['0.0.0.0_9080', { destination_port: { value: 9080 } }],
    ['virtualInbound-catchall-tcp', undefined],
  ]);
  const clusters = buildClusters(pc, me);
  for (const c of clusters) assertRoundTrip(CLUSTER_TYPE, c);
  assert.deepEqual(byName(clusters, 'inbound|9080||').upstream_bind_config, { source_address: { address: '127.0.0.6', port_value: 0 } });
  assert.deepEqual(byName(clusters, 'InboundPassthroughCluster').upstream_bind_config, { source_address: { address: '127.0.0.6', port_value: 0 } });
  // local mode: no 127.0.0.6 (the app is reached on the pod's loopback address)
  assert.equal(byName(buildClusters(pc, { ...me, interceptionMode: 'NONE' }), 'inbound|9080||').upstream_bind_config, undefined);
  assert.deepEqual(byName(buildListeners(pc, { ...me, interceptionMode: 'TPROXY' }), 'virtualInbound').transparent, { value: true });
});

test('REGISTRY_ONLY from MeshConfig (or a Sidecar): BlackHoleCluster catch-all and the 502 route', () => {
  const me = proxy({ interceptionMode: 'REDIRECT' });
  const allow = byName(buildListeners(makePc(SERVICES), me), 'virtualOutbound');
  assert.equal(tcpCluster(allow), 'PassthroughCluster');
  const pc = makePc(SERVICES, [], { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
  assert.equal(tcpCluster(byName(buildListeners(pc, me), 'virtualOutbound')), 'BlackHoleCluster');
  const rc = buildRoutes(pc, me, ['80'])[0];
  assert.deepEqual(rc.virtual_hosts.at(-1).routes[0].direct_response, { status: 502 });
  // a Sidecar's own policy wins over the mesh's
  const sidecar = res('Sidecar', 'default', { outboundTrafficPolicy: { mode: 'ALLOW_ANY' } });
  const both = makePc([...SERVICES, sidecar], [], { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
  assert.equal(tcpCluster(byName(buildListeners(both, me), 'virtualOutbound')), 'PassthroughCluster');
});
