/**
 * What mTLS shows to the app and in telemetry: XFCC as Envoy's SANITIZE_SET with
 * set_current_client_cert_details (By, Hash of the client certificate, Subject, URI), a forged
 * XFCC from a plaintext client removed (SANITIZE), Istio metrics with mutual_tls and the principals
 * from the certificates on both reporters, for HTTP and TCP, and the access log's UF with
 * %UPSTREAM_TRANSPORT_FAILURE_REASON% when the upstream handshake fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { jsonToStruct } from '../../../src/xds/struct.js';
import { makePki, spiffe, type Pem, type TestCa, type TestPki } from '../../helpers/test-pki.js';
import { httpRequest, startHarness, viaProxy, waitFor, type Harness } from '../helpers/harness.js';
import { edsCluster, hcm, outboundHttpListener, outboundTcpListener, passthroughCluster, route, routeConfig, routerFilter, socketAddress, staticCluster, tcpProxy, virtualOutbound, vhost } from '../helpers/resources.js';
import { closedPort, startEcho, startTcpEcho, type EchoServer } from '../helpers/upstreams.js';
import { fileAccessLog, statsFilter } from '../telemetry/telemetry-mesh.js';

const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';
const LOG = `/tmp/clew-mtls-telemetry-${process.pid}.log`;

let pki: TestPki;
let root: TestCa;
let server: Pem;
let client: Pem;
let h: Harness;
let echo: EchoServer;
let tcpEcho: { port: number; close(): Promise<void> };
let inHttp = 0;
let inTcp = 0;

function upstreamTls(ca: string): EnvoyResource {
  return {
    name: 'tls',
    typed_config: {
      '@type': UPSTREAM_TLS,
      common_tls_context: {
        alpn_protocols: ['istio-peer-exchange', 'istio'],
        tls_certificates: [{ certificate_chain: { inline_string: client.cert }, private_key: { inline_string: client.key } }],
        validation_context: { trusted_ca: { inline_string: ca }, match_subject_alt_names: [{ exact: SERVER_ID }] },
      },
    },
  };
}

function downstreamTls(alpn: string[]): EnvoyResource {
  return {
    name: 'tls',
    typed_config: {
      '@type': DOWNSTREAM_TLS,
      require_client_certificate: { value: true },
      common_tls_context: {
        alpn_protocols: alpn,
        tls_certificates: [{ certificate_chain: { inline_string: server.cert }, private_key: { inline_string: server.key } }],
        validation_context: { trusted_ca: { inline_string: root.cert } },
      },
    },
  };
}

function mtlsCluster(name: string, port: number, ca = root.cert): EnvoyResource[] {
  return [
    edsCluster(name, { transport_socket_matches: [{ name: 'tlsMode-istio', match: jsonToStruct({ tlsMode: 'istio' }), transport_socket: upstreamTls(ca) }] }),
    { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', port) }, metadata: { filter_metadata: { 'envoy.transport_socket_match': jsonToStruct({ tlsMode: 'istio' }) } } }] }] },
  ];
}

before(async () => {
  pki = makePki();
  root = pki.ca('root');
  server = root.leaf('server', [spiffe('default', 'server')]);
  client = root.leaf('client', [spiffe('default', 'client')]);
  const otherRoot = pki.ca('other').cert;
  echo = await startEcho('app');
  tcpEcho = await startTcpEcho('tcp:');
  inHttp = await closedPort();
  inTcp = await closedPort();
  const svc = (n: string, p: number): string => `outbound|${p}||${n}.default.svc.cluster.local`;
  const [cHttp, eHttp] = mtlsCluster(svc('server', 9080), inHttp);
  const [cBad, eBad] = mtlsCluster(svc('badroot', 9080), inHttp, otherRoot);
  const [cTcp, eTcp] = mtlsCluster(svc('tcpserver', 9090), inTcp);
  const log = fileAccessLog(LOG, { text: '%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_TRANSPORT_FAILURE_REASON%\n' });
  h = await startHarness(
    {
      clusters: [cHttp, cBad, cTcp, staticCluster('inbound|9080||', [['127.0.0.1', echo.port]]), staticCluster('inbound|9090||', [['127.0.0.1', tcpEcho.port]]), passthroughCluster()],
      endpoints: [eHttp, eBad, eTcp],
      listeners: [
        virtualOutbound(0),
        outboundHttpListener(9080, [statsFilter(), routerFilter], { access_log: [log] }),
        { ...outboundTcpListener(9090, svc('tcpserver', 9090)), filter_chains: [{ filters: [statsFilter(), tcpProxy(svc('tcpserver', 9090))] }] },
        {
          name: `127.0.0.1_${inHttp}`,
          address: socketAddress('127.0.0.1', inHttp),
          traffic_direction: 'INBOUND',
          listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
          filter_chains: [
            {
              filter_chain_match: { transport_protocol: 'tls' },
              transport_socket: downstreamTls(['h2', 'http/1.1']),
              filters: [hcm('inbound|9080||', [statsFilter(), routerFilter], { forward_client_cert_details: 'SANITIZE_SET', set_current_client_cert_details: { subject: { value: true }, dns: true, uri: true } })],
            },
            // plaintext on the same port (PERMISSIVE): XFCC sanitized
            { filter_chain_match: { transport_protocol: 'raw_buffer' }, filters: [hcm('inbound|9080||', [statsFilter(), routerFilter], { forward_client_cert_details: 'SANITIZE_SET', set_current_client_cert_details: { subject: { value: true }, uri: true } })] },
          ],
        },
        {
          name: `127.0.0.1_${inTcp}`,
          address: socketAddress('127.0.0.1', inTcp),
          traffic_direction: 'INBOUND',
          filter_chains: [{ transport_socket: downstreamTls(['istio-peer-exchange', 'h2', 'http/1.1']), filters: [statsFilter(), tcpProxy('inbound|9090||')] }],
        },
      ],
      routes: [
        routeConfig('9080', [vhost('server', ['server:9080'], [route({ prefix: '/' }, svc('server', 9080))]), vhost('badroot', ['badroot:9080'], [route({ prefix: '/' }, svc('badroot', 9080))])]),
        routeConfig('inbound|9080||', [vhost('in', ['*'], [route({ prefix: '/' }, 'inbound|9080||')])]),
      ],
    },
    { serviceAccount: 'server', id: 'server.default' },
  );
});

after(async () => {
  await h?.close();
  await echo?.close();
  await tcpEcho?.close();
  pki?.cleanup();
  fs.rmSync(LOG, { force: true });
});

test('XFCC: the app sees By (our identity), Hash of the client certificate, Subject and URI; a forged header never passes', async () => {
  const r = await viaProxy(h.outbound, 'http://server:9080/x', { headers: { 'x-forwarded-client-cert': 'By=spiffe://evil;URI=spiffe://evil' } });
  assert.equal(r.status, 200, r.body);
  const seen = JSON.parse(r.body).headers;
  const hash = crypto.createHash('sha256').update(new crypto.X509Certificate(client.cert).raw).digest('hex');
  assert.equal(seen['x-forwarded-client-cert'], `By=${SERVER_ID};Hash=${hash};Subject="";URI=${CLIENT_ID}`);
  // plaintext to the same port: the client's own XFCC is removed
  const plain = await httpRequest({ port: inHttp, path: '/p', headers: { 'x-forwarded-client-cert': 'By=spiffe://evil;URI=spiffe://evil' } });
  assert.equal(plain.status, 200);
  assert.equal(JSON.parse(plain.body).headers['x-forwarded-client-cert'], undefined);
});

async function prometheus(): Promise<string> {
  return (await httpRequest({ port: h.proxy.ports.stats, path: '/stats/prometheus' })).body;
}

test('Istio metrics: mutual_tls and the principals from the certificates, HTTP on both reporters', async () => {
  await viaProxy(h.outbound, 'http://server:9080/m');
  const text = await prometheus();
  const dest = text.split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="destination"') && l.includes(`source_principal="${CLIENT_ID}"`));
  assert.ok(dest.length > 0, text);
  assert.ok(dest.some((l) => l.includes('connection_security_policy="mutual_tls"') && l.includes(`destination_principal="${SERVER_ID}"`)), dest.join('\n'));
  const src = text.split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="source"') && l.includes(`destination_principal="${SERVER_ID}"`));
  assert.ok(src.length > 0, text);
  // plaintext on the inbound port: no principal, connection_security_policy none
  await httpRequest({ port: inHttp, path: '/p' });
  const after = await prometheus();
  assert.ok(after.split('\n').some((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="destination"') && l.includes('connection_security_policy="none"') && l.includes('source_principal="unknown"')));
});

test('Istio TCP metrics over mTLS: the peer of a TCP connection is known from its certificate', async () => {
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(h.outbound, '127.0.0.1', () => s.write('CONNECT tcpserver:9090 HTTP/1.1\r\nHost: tcpserver:9090\r\n\r\n'));
    let buf = '';
    let tunnel = false;
    s.on('data', (d) => {
      buf += d;
      if (!tunnel && buf.includes('\r\n\r\n')) {
        tunnel = true;
        buf = '';
        s.write('hello');
      } else if (tunnel && buf === 'tcp:hello') s.end();
    });
    s.on('close', () => resolve());
    s.on('error', reject);
  });
  await waitFor(async () => /istio_tcp_connections_closed_total\{[^}]*reporter="destination"/.test(await prometheus()), 5000, 'TCP close reported');
  const text = await prometheus();
  const opened = text.split('\n').filter((l) => l.startsWith('istio_tcp_connections_opened_total{'));
  assert.ok(opened.some((l) => l.includes('reporter="destination"') && l.includes('connection_security_policy="mutual_tls"') && l.includes(`source_principal="${CLIENT_ID}"`)), opened.join('\n'));
  assert.ok(opened.some((l) => l.includes('reporter="source"') && l.includes(`destination_principal="${SERVER_ID}"`)), opened.join('\n'));
});

test('access log: UF and %UPSTREAM_TRANSPORT_FAILURE_REASON% when the upstream chain is from another root', async () => {
  const r = await viaProxy(h.outbound, 'http://badroot:9080/');
  assert.equal(r.status, 503);
  await waitFor(() => fs.existsSync(LOG) && /^503 UF TLS_error:\|/m.test(fs.readFileSync(LOG, 'utf8')), 5000, 'access log line');
  assert.match(fs.readFileSync(LOG, 'utf8'), /^503 UF TLS_error:\|(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY):.*:TLS_error_end$/m);
});
