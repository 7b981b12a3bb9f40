/**
 * mTLS builders: auto mTLS transport-socket matches and endpoint tlsMode (Istio's mtls_checker),
 * DestinationRule TLS modes (a DR mode always wins), ISTIO_MUTUAL contexts (SDS default/ROOTCA,
 * ALPN, SNI, SAN from service accounts or subjectAltNames), TLS origination, PeerAuthentication
 * precedence and the inbound filter chains per mode, anonymous clients. Everything encodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusters, buildEndpoints, buildListeners } from '../../../src/control-plane/builders/index.js';
import { effectivePeerAuthentication } from '../../../src/control-plane/builders/build-peer-authentication.js';
import { anonymousView } from '../../../src/control-plane/control-plane-security.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { structToJson } from '../../../src/xds/struct.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import type { PeerAuthentication } from '../../../src/config/types.js';
import { assertRoundTrip, BOOKINFO_SERVICES, byName, kubeService, makePc, proxy, res, workloadProxy } from './fixtures.js';

const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
const SA = (sa: string, ns = 'default') => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
const reviewsV1 = workloadProxy('reviews-v1', 'reviews', 'v1', '127.0.10.3', 9080, { serviceAccount: 'bookinfo-reviews' });
const pp = proxy({ serviceAccount: 'bookinfo-productpage' });

function pa(name: string, spec: unknown, namespace = 'default', creationTimestamp?: string): PeerAuthentication {
  const r = res('PeerAuthentication', name, spec, namespace) as PeerAuthentication;
  r.apiVersion = 'security.istio.io/v1';
  if (creationTimestamp) r.metadata.creationTimestamp = creationTimestamp;
  return r;
}

function tlsCtx(c: EnvoyResource): EnvoyResource {
  return c.typed_config;
}

test('auto mTLS: tlsMode-istio → ISTIO_MUTUAL (SDS default/ROOTCA, SNI, SAN of the service accounts), else raw_buffer', () => {
  const pc = makePc([...BOOKINFO_SERVICES], [pp, reviewsV1]);
  const c = byName(buildClusters(pc, pp), REVIEWS);
  assert.equal(c.transport_socket, undefined);
  assert.deepEqual(c.transport_socket_matches.map((m: EnvoyResource) => [m.name, structToJson(m.match)]), [['tlsMode-istio', { tlsMode: 'istio' }], ['tlsMode-disabled', {}]]);
  const up = tlsCtx(c.transport_socket_matches[0].transport_socket);
  assert.equal(up['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
  assert.equal(up.sni, 'outbound_.9080_._.reviews.default.svc.cluster.local');
  const common = up.common_tls_context;
  assert.deepEqual(common.alpn_protocols, ['istio-peer-exchange', 'istio']);
  assert.equal(common.tls_certificate_sds_secret_configs[0].name, 'default');
  assert.equal(common.tls_certificate_sds_secret_configs[0].sds_config.api_config_source.grpc_services[0].envoy_grpc.cluster_name, 'sds-grpc');
  assert.equal(common.combined_validation_context.validation_context_sds_secret_config.name, 'ROOTCA');
  assert.deepEqual(common.combined_validation_context.default_validation_context.match_subject_alt_names, [{ exact: SA('bookinfo-reviews') }]);
  assert.deepEqual(common.tls_params, { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' });
  assert.equal(c.transport_socket_matches[1].transport_socket.typed_config['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer');
  assertRoundTrip(CLUSTER_TYPE, c);
  // the endpoint with a sidecar carries the match metadata
  const eds = byName(buildEndpoints(pc, pp, [REVIEWS]), REVIEWS);
  const md = eds.endpoints[0].lb_endpoints[0].metadata.filter_metadata['envoy.transport_socket_match'];
  assert.deepEqual(structToJson(md), { tlsMode: 'istio' });
  assertRoundTrip(ENDPOINT_TYPE, eds);
  // a gRPC port offers h2 too
  const grpcPc = makePc([kubeService('echo', [{ name: 'grpc', port: 7070 }])], [workloadProxy('echo-v1', 'echo', 'v1', '127.0.10.9', 7070)]);
  const g = byName(buildClusters(grpcPc, pp), 'outbound|7070||echo.default.svc.cluster.local');
  assert.deepEqual(tlsCtx(g.transport_socket_matches[0].transport_socket).common_tls_context.alpn_protocols, ['istio-peer-exchange', 'istio', 'h2']);
});

test('auto mTLS off: enableAutoMtls false, an anonymous client, a MESH_EXTERNAL ServiceEntry; endpoints without a sidecar get no tlsMode', () => {
  const off = makePc([...BOOKINFO_SERVICES], [pp, reviewsV1], { enableAutoMtls: false });
  assert.equal(byName(buildClusters(off, pp), REVIEWS).transport_socket_matches, undefined);
  const pc = makePc([
    ...BOOKINFO_SERVICES,
    res('ServiceEntry', 'ext', { hosts: ['api.example.com'], ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }], resolution: 'DNS', location: 'MESH_EXTERNAL' }),
    res('WorkloadEntry', 'legacy', { address: '127.0.10.50', labels: { app: 'ratings', version: 'v9' } }),
  ], [pp, reviewsV1]);
  const anon = anonymousView(pp);
  assert.equal(byName(buildClusters(pc, anon), REVIEWS).transport_socket_matches, undefined);
  assert.equal(byName(buildClusters(pc, pp), 'outbound|443||api.example.com').transport_socket_matches, undefined);
  const ratings = byName(buildEndpoints(pc, pp, ['outbound|9080||ratings.default.svc.cluster.local']), 'outbound|9080||ratings.default.svc.cluster.local');
  assert.equal(ratings.endpoints[0].lb_endpoints[0].metadata?.filter_metadata?.['envoy.transport_socket_match'], undefined, 'no sidecar: plaintext');
});

test('an endpoint whose PeerAuthentication is DISABLE (workload or port level) gets no tlsMode', () => {
  const pc = makePc([
    ...BOOKINFO_SERVICES,
    pa('reviews-off', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'DISABLE' } }),
  ], [pp, reviewsV1]);
  const eds = byName(buildEndpoints(pc, pp, [REVIEWS]), REVIEWS);
  assert.equal(eds.endpoints[0].lb_endpoints[0].metadata.filter_metadata['envoy.transport_socket_match'], undefined);
  const port = makePc([
    ...BOOKINFO_SERVICES,
    pa('reviews-port', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 9080: { mode: 'DISABLE' } } }),
  ], [pp, reviewsV1]);
  assert.equal(byName(buildEndpoints(port, pp, [REVIEWS]), REVIEWS).endpoints[0].lb_endpoints[0].metadata.filter_metadata['envoy.transport_socket_match'], undefined);
});

test('a DestinationRule TLS mode always wins: DISABLE, ISTIO_MUTUAL with subset SNI and subjectAltNames', () => {
  const pc = makePc([
    ...BOOKINFO_SERVICES,
    res('DestinationRule', 'reviews', {
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'DISABLE' } },
      subsets: [{ name: 'v1', labels: { version: 'v1' }, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL', subjectAltNames: [SA('custom')] } } }],
    }),
  ], [pp, reviewsV1]);
  const clusters = buildClusters(pc, pp);
  const base = byName(clusters, REVIEWS);
  assert.equal(base.transport_socket, undefined);
  assert.equal(base.transport_socket_matches, undefined);
  const v1 = byName(clusters, 'outbound|9080|v1|reviews.default.svc.cluster.local');
  const up = tlsCtx(v1.transport_socket);
  assert.equal(up.sni, 'outbound_.9080_.v1_.reviews.default.svc.cluster.local');
  assert.deepEqual(up.common_tls_context.combined_validation_context.default_validation_context.match_subject_alt_names, [{ exact: SA('custom') }]);
  assertRoundTrip(CLUSTER_TYPE, v1);
});

test('TLS origination: SIMPLE to a ServiceEntry (SNI = host, system CA or caCertificates, SANs), MUTUAL files, credentialName at a gateway', () => {
  const se = res('ServiceEntry', 'httpbin-ext', { hosts: ['httpbin.example.com'], ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }], resolution: 'DNS', location: 'MESH_EXTERNAL' });
  const pc = makePc([se, res('DestinationRule', 'httpbin-ext', {
    host: 'httpbin.example.com',
    trafficPolicy: {
      tls: { mode: 'SIMPLE', caCertificates: '/etc/ca.pem', subjectAltNames: ['httpbin.example.com'] },
      portLevelSettings: [{ port: { number: 8443 }, tls: { mode: 'MUTUAL', clientCertificate: '/c.pem', privateKey: '/k.pem', sni: 'x.example.com', insecureSkipVerify: true } }],
    },
  })], [pp]);
  const c = byName(buildClusters(pc, pp), 'outbound|443||httpbin.example.com');
  const up = tlsCtx(c.transport_socket);
  assert.equal(up.sni, 'httpbin.example.com');
  assert.deepEqual(up.common_tls_context.validation_context, { trusted_ca: { filename: '/etc/ca.pem' }, match_subject_alt_names: [{ exact: 'httpbin.example.com' }] });
  assertRoundTrip(CLUSTER_TYPE, c);

  const se2 = res('ServiceEntry', 'mtls-ext', { hosts: ['m.example.com'], ports: [{ number: 8443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS', location: 'MESH_EXTERNAL' });
  const pc2 = makePc([se2, res('DestinationRule', 'm', { host: 'm.example.com', trafficPolicy: { tls: { mode: 'MUTUAL', clientCertificate: '/c.pem', privateKey: '/k.pem', sni: 'x.example.com', insecureSkipVerify: true } } })], [pp]);
  const m = tlsCtx(byName(buildClusters(pc2, pp), 'outbound|8443||m.example.com').transport_socket);
  assert.deepEqual(m.common_tls_context.tls_certificates, [{ certificate_chain: { filename: '/c.pem' }, private_key: { filename: '/k.pem' } }]);
  assert.equal(m.common_tls_context.validation_context, undefined, 'insecureSkipVerify: no verification');
  assert.equal(m.sni, 'x.example.com');

  // credentialName: SDS over ADS at a gateway; ignored at a sidecar without workloadSelector
  const pc3 = makePc([se2, res('DestinationRule', 'm', { host: 'm.example.com', trafficPolicy: { tls: { mode: 'MUTUAL', credentialName: 'client-cred' } } })], [pp]);
  const gw = proxy({ type: 'router', name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, podPorts: [] });
  const g = tlsCtx(byName(buildClusters(pc3, gw), 'outbound|8443||m.example.com').transport_socket).common_tls_context;
  assert.deepEqual(g.tls_certificate_sds_secret_configs.map((s: EnvoyResource) => [s.name, Object.keys(s.sds_config)]), [['kubernetes://client-cred', ['ads', 'initial_fetch_timeout', 'resource_api_version']]]);
  assert.equal(g.combined_validation_context.validation_context_sds_secret_config.name, 'kubernetes://client-cred-cacert');
  const sidecar = tlsCtx(byName(buildClusters(pc3, pp), 'outbound|8443||m.example.com').transport_socket).common_tls_context;
  assert.equal(sidecar.tls_certificate_sds_secret_configs, undefined);
});

test('PeerAuthentication precedence: workload > namespace > mesh, UNSET inherits, oldest wins within a scope, selector in root ignored', () => {
  const w = { namespace: 'default', labels: { app: 'reviews' } };
  assert.equal(effectivePeerAuthentication([], w).mode, 'PERMISSIVE');
  const mesh = pa('mesh', { mtls: { mode: 'STRICT' } }, 'istio-system');
  assert.equal(effectivePeerAuthentication([mesh], w).mode, 'STRICT');
  assert.equal(effectivePeerAuthentication([mesh, pa('ns', { mtls: { mode: 'DISABLE' } })], w).mode, 'DISABLE');
  assert.equal(effectivePeerAuthentication([mesh, pa('ns', { mtls: { mode: 'UNSET' } })], w).mode, 'STRICT', 'UNSET inherits');
  const wl = pa('wl', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 9080: { mode: 'DISABLE' }, 9090: {} } });
  const eff = effectivePeerAuthentication([mesh, wl], w);
  assert.equal(eff.mode, 'PERMISSIVE');
  assert.deepEqual([...eff.ports], [[9080, 'DISABLE'], [9090, 'PERMISSIVE']]);
  // a selector policy in the root namespace is ignored
  assert.equal(effectivePeerAuthentication([pa('root-sel', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'DISABLE' } }, 'istio-system')], w).mode, 'PERMISSIVE');
  // two namespace policies: the older one wins, whatever their names
  const older = pa('zzz', { mtls: { mode: 'STRICT' } }, 'default', '2024-01-01T00:00:00Z');
  const newer = pa('aaa', { mtls: { mode: 'DISABLE' } }, 'default', '2025-01-01T00:00:00Z');
  assert.equal(effectivePeerAuthentication([newer, older], w).mode, 'STRICT');
  // other namespaces do not apply
  assert.equal(effectivePeerAuthentication([pa('other', { mtls: { mode: 'STRICT' } }, 'prod')], w).mode, 'PERMISSIVE');
});

function inbound(pc: ReturnType<typeof makePc>, p = reviewsV1): EnvoyResource {
  const l = buildListeners(pc, p).find((x) => x.name === `${p.address}_9080`);
  assert.ok(l, 'the inbound listener');
  assertRoundTrip(LISTENER_TYPE, l);
  return l;
}

const summary = (l: EnvoyResource): string[][] => l.filter_chains.map((c: EnvoyResource) => [
  c.filter_chain_match?.transport_protocol ?? '*',
  (c.filter_chain_match?.application_protocols ?? []).join(','),
  c.filters[c.filters.length - 1].name.endsWith('http_connection_manager') ? 'http' : 'tcp',
  c.transport_socket ? 'mtls' : 'plain',
]);

test('inbound chains: PERMISSIVE (http port) has mTLS and plaintext, STRICT mTLS only, DISABLE plaintext only; XFCC SANITIZE_SET', () => {
  const permissive = inbound(makePc([...BOOKINFO_SERVICES], [reviewsV1]));
  assert.deepEqual(summary(permissive), [
    ['tls', 'istio-peer-exchange,istio,istio-http/1.0,istio-http/1.1,istio-h2', 'http', 'mtls'],
    ['raw_buffer', '', 'http', 'plain'],
  ]);
  assert.deepEqual(permissive.listener_filters.map((f: EnvoyResource) => f.name), ['envoy.filters.listener.tls_inspector']);
  const ctx = permissive.filter_chains[0].transport_socket.typed_config;
  assert.equal(ctx['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
  assert.deepEqual(ctx.require_client_certificate, { value: true });
  assert.deepEqual(ctx.common_tls_context.alpn_protocols, ['h2', 'http/1.1']);
  assert.equal(ctx.common_tls_context.tls_params.tls_minimum_protocol_version, 'TLSv1_2');
  assert.equal(ctx.common_tls_context.tls_params.cipher_suites.length, 6);
  const hcm = permissive.filter_chains[0].filters[0].typed_config;
  assert.equal(hcm.forward_client_cert_details, 'SANITIZE_SET');
  assert.deepEqual(hcm.set_current_client_cert_details, { subject: { value: true }, uri: true, dns: true });

  const strict = inbound(makePc([...BOOKINFO_SERVICES, pa('ns', { mtls: { mode: 'STRICT' } })], [reviewsV1]));
  assert.deepEqual(summary(strict).map((s) => s[3]), ['mtls'], 'no plaintext chain');
  const disable = inbound(makePc([...BOOKINFO_SERVICES, pa('mesh', { mtls: { mode: 'DISABLE' } }, 'istio-system')], [reviewsV1]));
  assert.deepEqual(summary(disable), [['*', '', 'http', 'plain']]);
  assert.equal(disable.listener_filters, undefined);
  // port-level override: workload STRICT, port 9080 DISABLE
  const override = inbound(makePc([...BOOKINFO_SERVICES, pa('wl', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 9080: { mode: 'DISABLE' } } })], [reviewsV1]));
  assert.deepEqual(summary(override), [['*', '', 'http', 'plain']]);
  // meshMTLS.minProtocolVersion
  const tls13 = inbound(makePc([...BOOKINFO_SERVICES], [reviewsV1], { meshMTLS: { minProtocolVersion: 'TLSV1_3' } }));
  assert.equal(tls13.filter_chains[0].transport_socket.typed_config.common_tls_context.tls_params.tls_minimum_protocol_version, 'TLSv1_3');
});

test('inbound chains of a sniffed port (PERMISSIVE: Istio\'s five chains) and a TCP port; STRICT keeps only the TLS ones', () => {
  const svc = kubeService('raw', [{ name: 'raw', port: 7000 }]);
  const w = workloadProxy('raw-v1', 'raw', 'v1', '127.0.10.20', 7000);
  const l = buildListeners(makePc([svc], [w]), w).find((x) => x.name === '127.0.10.20_7000')!;
  assertRoundTrip(LISTENER_TYPE, l);
  assert.deepEqual(summary(l), [
    ['tls', 'istio-http/1.0,istio-http/1.1,istio-h2', 'http', 'mtls'],
    ['tls', 'istio-peer-exchange,istio', 'tcp', 'mtls'],
    ['raw_buffer', 'http/1.0,http/1.1,h2c', 'http', 'plain'],
    ['raw_buffer', '', 'tcp', 'plain'],
    ['tls', '', 'tcp', 'plain'],
  ]);
  assert.deepEqual(l.listener_filters.map((f: EnvoyResource) => f.name), ['envoy.filters.listener.tls_inspector', 'envoy.filters.listener.http_inspector']);
  const strict = buildListeners(makePc([svc, pa('s', { mtls: { mode: 'STRICT' } })], [w]), w).find((x) => x.name === '127.0.10.20_7000')!;
  assert.deepEqual(summary(strict).map((s) => s[3]), ['mtls', 'mtls']);
  const tcpSvc = kubeService('db', [{ name: 'tcp-db', port: 5432 }]);
  const dbw = workloadProxy('db-v1', 'db', 'v1', '127.0.10.21', 5432);
  const db = buildListeners(makePc([tcpSvc], [dbw]), dbw).find((x) => x.name === '127.0.10.21_5432')!;
  assert.deepEqual(summary(db), [
    ['tls', 'istio-peer-exchange,istio,istio-http/1.0,istio-http/1.1,istio-h2', 'tcp', 'mtls'],
    ['tls', '', 'tcp', 'plain'],
    ['raw_buffer', '', 'tcp', 'plain'],
  ]);
  assert.deepEqual(db.filter_chains[0].transport_socket.typed_config.common_tls_context.alpn_protocols, ['istio-peer-exchange', 'h2', 'http/1.1']);
});

test('virtualInbound (capture): chains per port and a catch-all per the workload mode', () => {
  const w = workloadProxy('reviews-v1', 'reviews', 'v1', '10.0.0.3', 9080, { interceptionMode: 'REDIRECT', serviceAccount: 'bookinfo-reviews' });
  const vi = buildListeners(makePc([...BOOKINFO_SERVICES, pa('s', { mtls: { mode: 'STRICT' } })], [w]), w).find((x) => x.name === 'virtualInbound')!;
  assertRoundTrip(LISTENER_TYPE, vi);
  assert.deepEqual(vi.listener_filters.map((f: EnvoyResource) => f.name), ['envoy.filters.listener.original_dst', 'envoy.filters.listener.tls_inspector']);
  assert.deepEqual(vi.filter_chains.map((c: EnvoyResource) => [c.name, c.filter_chain_match?.destination_port?.value ?? '*', c.transport_socket ? 'mtls' : 'plain']), [
    ['0.0.0.0_9080', 9080, 'mtls'],
    ['virtualInbound-catchall-tls', '*', 'mtls'],
  ]);
});

test('an anonymous client gets no inbound listener and no registration-bound config', () => {
  const pc = makePc([...BOOKINFO_SERVICES], [reviewsV1]);
  const anon = anonymousView(reviewsV1);
  const names = buildListeners(pc, anon).map((l) => l.name);
  assert.ok(!names.some((n) => String(n).includes('127.0.10.3') || n === 'virtualInbound'), String(names));
  assert.ok(names.includes('0.0.0.0_9080'), 'outbound listeners stay');
});
