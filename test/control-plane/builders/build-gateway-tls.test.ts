import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusters, buildListeners, buildRoutes } from '../../../src/control-plane/builders/index.js';
import { CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../src/xds/type-urls.js';
import { structToJson } from '../../../src/xds/struct.js';
import { assertRoundTrip, byName, kubeService, makePc, proxy, res, vs } from './fixtures.js';

const GW = proxy({ type: 'router', name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, podPorts: [] });
const DOWNSTREAM = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

function config(): ReturnType<typeof res>[] {
  return [
    kubeService('web', [{ name: 'http', port: 8080 }]),
    kubeService('pass', [{ name: 'tls', port: 8443 }]),
    res('Gateway', 'gw', {
      selector: { istio: 'ingressgateway' },
      servers: [
        { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*/web.example.com'], tls: { httpsRedirect: true } },
        { port: { number: 443, name: 'https-files', protocol: 'HTTPS' }, hosts: ['*/web.example.com'], tls: { mode: 'SIMPLE', serverCertificate: '/c/web.pem', privateKey: '/c/web.key' } },
        { port: { number: 443, name: 'https-cred', protocol: 'HTTPS' }, hosts: ['*/cred.example.com'], tls: { mode: 'MUTUAL', credentialName: 'cred' } },
        { port: { number: 9443, name: 'tls', protocol: 'TLS' }, hosts: ['*/pass.example.com'], tls: { mode: 'PASSTHROUGH' } },
      ],
    }, 'istio-system'),
    vs('web', { hosts: ['web.example.com', 'cred.example.com'], gateways: ['istio-system/gw'], http: [{ route: [{ destination: { host: 'web', port: { number: 8080 } } }] }] }),
    vs('pass', {
      hosts: ['pass.example.com'], gateways: ['istio-system/gw'],
      tls: [{ match: [{ sniHosts: ['pass.example.com'], port: 9443 }], route: [{ destination: { host: 'pass', port: { number: 8443 } } }] }],
    }),
  ];
}

test('gateway HTTPS: one chain per server, matched by SNI, with its DownstreamTlsContext (files or credentialName) and its own routes', () => {
  const pc = makePc(config());
  const l = byName(buildListeners(pc, GW), '0.0.0.0_443');
  assertRoundTrip(LISTENER_TYPE, l);
  assert.deepEqual(l.listener_filters.map((f: any) => f.name), ['envoy.filters.listener.tls_inspector']);
  const [files, cred] = l.filter_chains;
  assert.deepEqual(files.filter_chain_match, { server_names: ['web.example.com'] });
  assert.equal(files.transport_socket.typed_config['@type'], DOWNSTREAM);
  assert.deepEqual(files.transport_socket.typed_config.common_tls_context.tls_certificates, [{ certificate_chain: { filename: '/c/web.pem' }, private_key: { filename: '/c/web.key' } }]);
  assert.deepEqual(files.transport_socket.typed_config.require_client_certificate, { value: false });
  assert.equal(files.filters[0].typed_config.rds.route_config_name, 'https.443.https-files.gw.istio-system');
  // MUTUAL with a credential: the certificate and the CA come over ADS, the client certificate is required
  const ctx = cred.transport_socket.typed_config;
  assert.deepEqual(cred.filter_chain_match, { server_names: ['cred.example.com'] });
  assert.equal(ctx.common_tls_context.tls_certificate_sds_secret_configs[0].name, 'kubernetes://cred');
  assert.deepEqual(ctx.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.ads, {});
  assert.equal(ctx.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name, 'kubernetes://cred-cacert');
  assert.deepEqual(ctx.require_client_certificate, { value: true });
  // each HTTPS server's route configuration holds its own hosts only
  const [rFiles, rCred] = buildRoutes(pc, GW, ['https.443.https-files.gw.istio-system', 'https.443.https-cred.gw.istio-system']);
  assertRoundTrip(ROUTE_TYPE, rFiles);
  assert.deepEqual(rFiles.virtual_hosts.map((v: any) => v.name), ['web.example.com:443']);
  assert.deepEqual(rCred.virtual_hosts.map((v: any) => v.name), ['cred.example.com:443']);
  assert.equal(rFiles.virtual_hosts[0].routes[0].route.cluster, 'outbound|8080||web.default.svc.cluster.local');
});

test('gateway httpsRedirect: the plain HTTP server\'s virtual host requires TLS (the proxy answers 301)', () => {
  const pc = makePc(config());
  const l = byName(buildListeners(pc, GW), '0.0.0.0_80');
  assert.equal(l.filter_chains.length, 1);
  assert.equal(l.filter_chains[0].transport_socket, undefined);
  const [rc] = buildRoutes(pc, GW, ['http.80']);
  assert.equal(rc.virtual_hosts[0].require_tls, 'ALL');
});

test('gateway PASSTHROUGH: VirtualService tls routes become SNI-matched TCP chains, nothing terminated', () => {
  const l = byName(buildListeners(makePc(config()), GW), '0.0.0.0_9443');
  assertRoundTrip(LISTENER_TYPE, l);
  assert.equal(l.filter_chains.length, 1);
  const c = l.filter_chains[0];
  assert.deepEqual(c.filter_chain_match, { server_names: ['pass.example.com'] });
  assert.equal(c.transport_socket, undefined);
  assert.equal(c.filters.at(-1).typed_config.cluster, 'outbound|8443||pass.default.svc.cluster.local');
});

test('TLS origination (DestinationRule SIMPLE): the cluster opts out of istio.alpn (alpn_override "false"), as Istio marks it', () => {
  const pc = makePc([
    res('ServiceEntry', 'ext', { hosts: ['api.example.com'], location: 'MESH_EXTERNAL', resolution: 'DNS', ports: [{ number: 443, name: 'http', protocol: 'HTTP' }] }),
    res('DestinationRule', 'ext', { host: 'api.example.com', trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: '/c/ca.pem' } } }),
  ]);
  const c = byName(buildClusters(pc, proxy()), 'outbound|443||api.example.com');
  assertRoundTrip(CLUSTER_TYPE, c);
  assert.deepEqual(structToJson(c.metadata.filter_metadata.istio), { alpn_override: 'false' });
  assert.equal(c.transport_socket.typed_config.sni, 'api.example.com');
  assert.deepEqual(c.transport_socket.typed_config.common_tls_context.validation_context.trusted_ca, { filename: '/c/ca.pem' });
});
