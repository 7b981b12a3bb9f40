/**
 * Istio's istio.alpn filter: the outbound HCM makes new upstream TLS connections offer
 * `istio-http/1.1, istio, http/1.1`, so the server sidecar's PERMISSIVE chains take the request as
 * mTLS HTTP (XFCC reaches the app). Without it the cluster's own ALPN (`istio-peer-exchange, istio`)
 * selects the mTLS TCP chain, as with Envoy.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { jsonToStruct } from '../../../src/xds/struct.js';
import { TYPED_STRUCT_TYPE } from '../../../src/xds/type-urls.js';
import { makePki, spiffe, type Pem, type TestPki } from '../../helpers/test-pki.js';
import { startHarness, viaProxy, type Harness } from '../helpers/harness.js';
import { edsCluster, hcm, outboundHttpListener, passthroughCluster, route, routeConfig, routerFilter, socketAddress, staticCluster, tcpProxy, virtualOutbound, vhost } from '../helpers/resources.js';
import { closedPort, startEcho, startTcpEcho, type EchoServer } from '../helpers/upstreams.js';

const ALPN_FILTER = {
  name: 'istio.alpn',
  typed_config: {
    '@type': TYPED_STRUCT_TYPE,
    type_url: 'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig',
    value: jsonToStruct({
      alpn_override: [
        { upstream_protocol: 'HTTP10', alpn_override: ['istio-http/1.0', 'istio', 'http/1.0'] },
        { upstream_protocol: 'HTTP11', alpn_override: ['istio-http/1.1', 'istio', 'http/1.1'] },
        { upstream_protocol: 'HTTP2', alpn_override: ['istio-h2', 'istio', 'h2'] },
      ],
    }),
  },
};

let pki: TestPki;
let h: Harness;
let echo: EchoServer;
let tcpEcho: { port: number; close(): Promise<void> };

before(async () => {
  pki = makePki();
  const root = pki.ca('root');
  const server: Pem = root.leaf('server', [spiffe('default', 'server')]);
  const client: Pem = root.leaf('client', [spiffe('default', 'client')]);
  echo = await startEcho('app');
  tcpEcho = await startTcpEcho('tcp:');
  const inPort = await closedPort();
  const down = (alpn: string[]): EnvoyResource => ({
    name: 'tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      require_client_certificate: { value: true },
      common_tls_context: { alpn_protocols: alpn, tls_certificates: [{ certificate_chain: { inline_string: server.cert }, private_key: { inline_string: server.key } }], validation_context: { trusted_ca: { inline_string: root.cert } } },
    },
  });
  const up: EnvoyResource = {
    name: 'tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: {
        alpn_protocols: ['istio-peer-exchange', 'istio'],
        tls_certificates: [{ certificate_chain: { inline_string: client.cert }, private_key: { inline_string: client.key } }],
        validation_context: { trusted_ca: { inline_string: root.cert } },
      },
    },
  };
  const cluster = (n: string): EnvoyResource => edsCluster(n, { transport_socket: up });
  const ep = (n: string): EnvoyResource => ({ cluster_name: n, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', inPort) } }] }] });
  h = await startHarness({
    clusters: [cluster('with-alpn'), cluster('without-alpn'), staticCluster('app', [['127.0.0.1', echo.port]]), staticCluster('tcp', [['127.0.0.1', tcpEcho.port]]), passthroughCluster()],
    endpoints: [ep('with-alpn'), ep('without-alpn')],
    listeners: [
      virtualOutbound(0),
      outboundHttpListener(9080, [ALPN_FILTER, routerFilter]),
      outboundHttpListener(9081),
      {
        name: `127.0.0.1_${inPort}`,
        address: socketAddress('127.0.0.1', inPort),
        listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
        filter_chains: [
          { filter_chain_match: { transport_protocol: 'tls', application_protocols: ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'] }, transport_socket: down(['h2', 'http/1.1']), filters: [hcm('in', [routerFilter], { forward_client_cert_details: 'SANITIZE_SET', set_current_client_cert_details: { subject: { value: true }, uri: true } })] },
          { filter_chain_match: { transport_protocol: 'tls', application_protocols: ['istio-peer-exchange', 'istio'] }, transport_socket: down(['istio-peer-exchange', 'h2', 'http/1.1']), filters: [tcpProxy('tcp')] },
        ],
      },
    ],
    routes: [
      routeConfig('9080', [vhost('s', ['*'], [route({ prefix: '/' }, 'with-alpn')])]),
      routeConfig('9081', [vhost('s', ['*'], [route({ prefix: '/' }, 'without-alpn')])]),
      routeConfig('in', [vhost('in', ['*'], [route({ prefix: '/' }, 'app')])]),
    ],
  });
});

after(async () => {
  await h?.close();
  await echo?.close();
  await tcpEcho?.close();
  pki?.cleanup();
});

test('with istio.alpn the request lands on the mTLS HTTP chain (XFCC); without it on the mTLS TCP chain', async () => {
  const r = await viaProxy(h.outbound, 'http://s:9080/a');
  assert.equal(r.status, 200, r.body);
  assert.match(JSON.parse(r.body).headers['x-forwarded-client-cert'], /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/client$/);
  const t = await viaProxy(h.outbound, 'http://s:9081/b');
  assert.notEqual(t.status, 200, 'the TCP echo is no HTTP server');
});
