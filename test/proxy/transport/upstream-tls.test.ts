/**
 * The upstream transport-socket seam: clusters open their connections through transport_socket /
 * transport_socket_matches. TLS towards real node:tls servers that require a client certificate:
 * HTTP/1.1 and HTTP/2 pools, the TCP proxy, session resumption, SAN checks, a foreign root and an
 * expired certificate refused with UF and the transport failure reason; endpoints without the
 * match metadata stay plaintext; unknown transport sockets and TLS fields are NACKed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { jsonToStruct } from '../../../src/xds/struct.js';
import type { StreamInfo } from '../../../src/proxy/core/stream-info.js';
import { makePki, spiffe, type TestPki } from '../../helpers/test-pki.js';
import { startHarness, viaProxy, waitFor, type Harness } from '../helpers/harness.js';
import { edsCluster, outboundHttpListener, outboundTcpListener, passthroughCluster, route, routeConfig, socketAddress, virtualOutbound, vhost } from '../helpers/resources.js';
import { startEcho, type EchoServer } from '../helpers/upstreams.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../helpers/static-xds.js';

const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';

let pki: TestPki;
let h: Harness;
let plain: EchoServer;
const servers: Array<{ close(): void }> = [];
const infos: StreamInfo[] = [];
let ports: Record<string, number> = {};
let tlsCtx: (o?: { san?: string; ca?: string; alpn?: string[] }) => EnvoyResource;
let badRootCa = '';

function listen(server: net.Server): Promise<number> {
  servers.push({ close: () => server.close() });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
}

/** An HTTPS server requiring a client certificate: answers with what it saw of the TLS connection. */
function describe(sock: tls.TLSSocket, extra: Record<string, unknown> = {}): string {
  const peer = sock.getPeerCertificate();
  return JSON.stringify({ peer: peer?.subjectaltname ?? null, sni: (sock as unknown as { servername?: string | false }).servername || null, alpn: sock.alpnProtocol || null, reused: sock.isSessionReused(), ...extra });
}

function tlsEndpoint(cluster: string, port: number, meta = true): EnvoyResource {
  return {
    cluster_name: cluster,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', port) }, ...(meta ? { metadata: { filter_metadata: { 'envoy.transport_socket_match': jsonToStruct({ tlsMode: 'istio' }) } } } : {}) }] }],
  };
}

function mtlsCluster(name: string, ctx: EnvoyResource, extra: EnvoyResource = {}): EnvoyResource {
  return edsCluster(name, {
    transport_socket_matches: [
      { name: 'tlsMode-istio', match: jsonToStruct({ tlsMode: 'istio' }), transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: ctx } },
      { name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } },
    ],
    ...extra,
  });
}

/** 3 MiB that differ everywhere (a reused read buffer shows as a wrong digest) */
const BIG = Buffer.from(Array.from({ length: 3 << 20 }, (_v, i) => (i * 7919 + (i >> 13)) & 0xff));

const C = (n: string): string => `outbound|9080||${n}.default.svc.cluster.local`;

before(async () => {
  pki = makePki();
  const root = pki.ca('root');
  const other = pki.ca('other-root');
  badRootCa = other.cert;
  const server = root.leaf('server', [spiffe('default', 'server')]);
  const client = root.leaf('client', [spiffe('default', 'client')]);
  const expired = root.leaf('expired', [spiffe('default', 'server')], { expired: true });
  const serverOpts = { key: server.key, cert: server.cert, ca: root.cert, requestCert: true, rejectUnauthorized: true };
  const h1 = https.createServer(serverOpts, (req, res) => {
    const big = /^\/big\/(length|chunked)$/.exec(req.url ?? '');
    if (big === null) return res.end(describe(req.socket as tls.TLSSocket, { proto: req.httpVersion }));
    // many TLS records: the proxy reads them into its shared buffer, one read at a time
    if (big[1] === 'length') res.setHeader('content-length', BIG.length);
    for (let i = 0; i < BIG.length; i += 16_384) res.write(BIG.subarray(i, i + 16_384));
    res.end();
  });
  ports.h1 = await listen(h1);
  const h2 = http2.createSecureServer({ ...serverOpts, allowHTTP1: false }, (req, res) => res.end(describe(req.socket as unknown as tls.TLSSocket, { proto: req.httpVersion })));
  h2.on('sessionError', () => undefined);
  ports.h2 = await listen(h2 as unknown as net.Server);
  const exp = https.createServer({ ...serverOpts, key: expired.key, cert: expired.cert }, (_req, res) => res.end('should not be reached'));
  ports.expired = await listen(exp);
  const tcp = tls.createServer(serverOpts, (s) => {
    s.on('error', () => undefined);
    s.once('data', (d) => s.end(`${d.toString().trim()}|${describe(s)}`));
  });
  ports.tcp = await listen(tcp);
  plain = await startEcho('plain');
  tlsCtx = (o = {}) => ({
    '@type': UPSTREAM_TLS,
    sni: 'outbound_.9080_._.server.default.svc.cluster.local',
    common_tls_context: {
      alpn_protocols: o.alpn ?? [],
      tls_certificates: [{ certificate_chain: { inline_string: client.cert }, private_key: { inline_string: client.key } }],
      validation_context: {
        trusted_ca: { inline_string: o.ca ?? root.cert },
        match_subject_alt_names: [{ exact: o.san ?? SERVER_ID }],
      },
    },
  });
  const clusters = [
    mtlsCluster(C('h1'), tlsCtx()),
    mtlsCluster(C('h1-reuse'), tlsCtx(), { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', common_http_protocol_options: { max_requests_per_connection: { value: 1 } }, explicit_http_config: { http_protocol_options: {} } } } }),
    mtlsCluster(C('h2'), tlsCtx(), { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } }),
    mtlsCluster(C('wrong-san'), tlsCtx({ san: 'spiffe://cluster.local/ns/default/sa/other' })),
    mtlsCluster(C('wrong-root'), tlsCtx({ ca: other.cert })),
    mtlsCluster(C('expired'), tlsCtx()),
    mtlsCluster(C('plain'), tlsCtx()),
    mtlsCluster('outbound|9090||tcp.default.svc.cluster.local', tlsCtx()),
    passthroughCluster(),
  ];
  const endpoints = [
    tlsEndpoint(C('h1'), ports.h1),
    tlsEndpoint(C('h1-reuse'), ports.h1),
    tlsEndpoint(C('h2'), ports.h2),
    tlsEndpoint(C('wrong-san'), ports.h1),
    tlsEndpoint(C('wrong-root'), ports.h1),
    tlsEndpoint(C('expired'), ports.expired),
    // no tlsMode metadata: the empty match entry (raw_buffer) takes it
    tlsEndpoint(C('plain'), plain.port, false),
    tlsEndpoint('outbound|9090||tcp.default.svc.cluster.local', ports.tcp),
  ];
  const names = ['h1', 'h1-reuse', 'h2', 'wrong-san', 'wrong-root', 'expired', 'plain'];
  h = await startHarness(
    {
      clusters,
      endpoints,
      listeners: [virtualOutbound(0), outboundHttpListener(9080), outboundTcpListener(9090, 'outbound|9090||tcp.default.svc.cluster.local')],
      routes: [routeConfig('9080', names.map((n) => vhost(n, [`${n}:9080`], [route({ prefix: '/' }, C(n))])))],
    },
    { observer: { onRequestComplete: (i) => infos.push(i) } },
  );
});

after(async () => {
  await h?.close();
  for (const s of servers) s.close();
  await plain?.close();
  pki?.cleanup();
});

function lastInfo(authority: string): StreamInfo | undefined {
  return [...infos].reverse().find((i) => i.authority === authority);
}

test('HTTP/1.1 over mTLS: the server sees the client certificate and the configured SNI', async () => {
  const r = await viaProxy(h.outbound, 'http://h1:9080/x');
  assert.equal(r.status, 200, r.body);
  const seen = JSON.parse(r.body);
  assert.match(seen.peer, new RegExp(`URI:${CLIENT_ID}`));
  assert.equal(seen.sni, 'outbound_.9080_._.server.default.svc.cluster.local');
  assert.equal(seen.proto, '1.1');
  const stats = (await h.admin('/stats')).body;
  assert.match(stats, /cluster\.outbound\|9080\|\|h1\.default\.svc\.cluster\.local\.ssl\.handshake: [1-9]/);
});

/** GET through the outbound listener, reading slowly: the proxy must pause its upstream TLS reads. */
function slowGet(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host: 'h1:9080' } }, (res) => {
      const parts: Buffer[] = [];
      res.pause();
      let paused = 0;
      const tick = (): void => {
        const c = res.read() as Buffer | null;
        if (c !== null) parts.push(c);
        if (res.readableEnded) return;
        paused++;
        setTimeout(tick, paused < 20 ? 25 : 0);
      };
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('readable', () => undefined);
      setTimeout(tick, 25);
    });
    req.on('error', reject);
    req.end();
  });
}

test('large mTLS responses (content-length and chunked) reach a slow reader byte for byte', async () => {
  const want = createHash('sha256').update(BIG).digest('hex');
  for (const framing of ['length', 'chunked']) {
    const r = await slowGet(h.outbound, `/big/${framing}`);
    assert.equal(r.status, 200, framing);
    assert.equal(r.body.length, BIG.length, framing);
    assert.equal(createHash('sha256').update(r.body).digest('hex'), want, framing);
  }
  // and the connection is still good for the next exchange
  assert.equal((await viaProxy(h.outbound, 'http://h1:9080/x')).status, 200);
});

test('a new connection resumes the TLS session (max_session_keys default)', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await viaProxy(h.outbound, 'http://h1-reuse:9080/')).status, 200);
  const r = await viaProxy(h.outbound, 'http://h1-reuse:9080/');
  assert.equal(JSON.parse(r.body).reused, true);
  const stats = (await h.admin('/stats')).body;
  assert.match(stats, /h1-reuse\.default\.svc\.cluster\.local\.ssl\.session_reused: [1-9]/);
});

test('HTTP/2 pool over mTLS offers h2 by ALPN', async () => {
  const r = await viaProxy(h.outbound, 'http://h2:9080/');
  assert.equal(r.status, 200, r.body);
  const seen = JSON.parse(r.body);
  assert.equal(seen.proto, '2.0');
  assert.equal(seen.alpn, 'h2');
  assert.match(seen.peer, new RegExp(CLIENT_ID));
});

test('an endpoint without tlsMode metadata is reached in plaintext (tlsMode-disabled match)', async () => {
  const r = await viaProxy(h.outbound, 'http://plain:9080/p');
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).name, 'plain');
});

test('a peer whose SAN matches none of the matchers is refused: 503 UF, reason, ssl.fail_verify_san', async () => {
  const r = await viaProxy(h.outbound, 'http://wrong-san:9080/');
  assert.equal(r.status, 503);
  await waitFor(() => lastInfo('wrong-san:9080') !== undefined);
  const i = lastInfo('wrong-san:9080')!;
  assert.ok(i.responseFlags.has('UF'));
  assert.match(i.upstreamTransportFailureReason ?? '', /^TLS_error:.*SAN.*TLS_error_end$/);
  assert.match((await h.admin('/stats')).body, /wrong-san\.default\.svc\.cluster\.local\.ssl\.fail_verify_san: 1/);
});

test('a peer whose chain does not lead to the trusted root is refused with UF', async () => {
  const r = await viaProxy(h.outbound, 'http://wrong-root:9080/');
  assert.equal(r.status, 503);
  await waitFor(() => lastInfo('wrong-root:9080') !== undefined);
  const i = lastInfo('wrong-root:9080')!;
  assert.ok(i.responseFlags.has('UF'));
  assert.match(i.upstreamTransportFailureReason ?? '', /TLS_error:\|(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)/);
  assert.match((await h.admin('/stats')).body, /wrong-root\.default\.svc\.cluster\.local\.ssl\.fail_verify_error: [1-9]/);
});

test('an expired peer certificate is refused with UF and CERT_HAS_EXPIRED', async () => {
  const r = await viaProxy(h.outbound, 'http://expired:9080/');
  assert.equal(r.status, 503);
  await waitFor(() => lastInfo('expired:9080') !== undefined);
  const i = lastInfo('expired:9080')!;
  assert.ok(i.responseFlags.has('UF'));
  assert.match(i.upstreamTransportFailureReason ?? '', /CERT_HAS_EXPIRED/);
});

test('TCP proxy over mTLS', async () => {
  const out = await new Promise<string>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: h.outbound }, () => s.write('CONNECT tcp:9090 HTTP/1.1\r\nHost: tcp:9090\r\n\r\n'));
    let buf = '';
    let tunnel = false;
    s.on('data', (d) => {
      buf += d.toString();
      if (!tunnel && buf.includes('\r\n\r\n')) {
        tunnel = true;
        buf = '';
        s.write('hello\n');
      }
    });
    s.on('end', () => resolve(buf));
    s.on('error', reject);
  });
  const [word, json] = out.split('|');
  assert.equal(word, 'hello');
  assert.match(JSON.parse(json).peer, new RegExp(CLIENT_ID));
});

test('unknown transport sockets and unimplemented TLS fields are NACKed with the reason; the last good config keeps serving', async () => {
  const bad: Array<[EnvoyResource, RegExp]> = [
    [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext' } }, /must be an UpstreamTlsContext/],
    [{ name: 'x' }, /without typed_config is not supported/],
    [{ name: 'x', typed_config: { ...tlsCtx(), allow_renegotiation: true } }, /allow_renegotiation: not implemented/],
    [{ name: 'x', typed_config: { ...tlsCtx(), common_tls_context: { ...tlsCtx().common_tls_context, tls_params: { signature_algorithms: ['rsa_pss_rsae_sha256'] } } } }, /tls_params\.signature_algorithms: not implemented/],
    [{ name: 'x', typed_config: { ...tlsCtx(), common_tls_context: { validation_context: { match_subject_alt_names: [{ exact: 'a' }] } } } }, /need a trusted CA/],
    [{ name: 'x', typed_config: { ...tlsCtx(), common_tls_context: { tls_certificates: [{ certificate_chain: { filename: '/nonexistent/cert.pem' }, private_key: { inline_string: 'k' } }] } } }, /cannot read \/nonexistent\/cert\.pem: ENOENT/],
    [{ name: 'x', typed_config: { ...tlsCtx(), common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { path_config_source: { path: '/x' } } }] } } }, /sds_config\.path_config_source: not implemented/],
    [{ name: 'x', typed_config: { ...tlsCtx(), common_tls_context: { tls_params: { tls_minimum_protocol_version: 'TLSv1_3', tls_maximum_protocol_version: 'TLSv1_2' } } } }, /minimum version TLSv1\.3 is above maximum TLSv1\.2/],
  ];
  const before = h.xds.nacks.length;
  const good = [mtlsCluster(C('h1'), tlsCtx()), passthroughCluster()];
  for (const [ts, re] of bad) {
    const n = h.xds.nacks.length;
    h.xds.set(CLUSTER_TYPE, [...good, edsCluster('broken', { transport_socket: ts })]);
    await waitFor(() => h.xds.nacks.length > n, 3000, `NACK for ${re}`);
    const msg = h.xds.nacks.at(-1)!.error ?? '';
    assert.match(msg, re);
    assert.match(msg, /cluster broken/);
  }
  assert.equal(h.xds.nacks.length - before, bad.length);
  // still the last good clusters: mTLS to h1 works
  assert.equal((await viaProxy(h.outbound, 'http://h1:9080/')).status, 200);
  void ENDPOINT_TYPE;
});
