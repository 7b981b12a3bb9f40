/**
 * The proxy's secret manager against a real CreateCertificate server (grpc-js, TLS, a CA made by
 * the test with openssl): SDS `default`/`ROOTCA` from the agent (key + CSR, bearer token read at
 * each use, CA verified against --root-cert), rotation at about half the lifetime with live
 * connections kept, named secrets over ADS SDS updating listeners without a restart (a bad one
 * NACKed), and ADS itself over TLS with the token.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as https from 'node:https';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { SECRET_TYPE } from '../../../src/xds/type-urls.js';
import { jsonToStruct } from '../../../src/xds/struct.js';
import { rotationDelayMs } from '../../../src/proxy/secret/workload-certificate.js';
import { makePki, spiffe, type Pem, type TestCa, type TestPki } from '../../helpers/test-pki.js';
import { startTestCaServer, type TestCaServer } from '../../helpers/test-ca-server.js';
import { startHarness, viaProxy, waitFor, type Harness } from '../helpers/harness.js';
import { edsCluster, hcm, outboundHttpListener, passthroughCluster, route, routeConfig, socketAddress, staticCluster, virtualOutbound, vhost } from '../helpers/resources.js';
import { startEcho, type EchoServer } from '../helpers/upstreams.js';
import { StaticXds } from '../helpers/static-xds.js';

const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const AGENT_SOURCE = { api_config_source: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }], transport_api_version: 'V3' } };
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';

let pki: TestPki;
let root: TestCa;
let caServer: TestCaServer;
let tokenFile: string;
let rootFile: string;
let upstream: https.Server;
let upstreamPort = 0;
const upstreamConns: tls.TLSSocket[] = [];
let echo: EchoServer;

before(async () => {
  pki = makePki();
  root = pki.ca('mesh-root');
  const serving = root.leaf('istiod', ['DNS:istiod.istio-system.svc', 'IP:127.0.0.1']);
  caServer = await startTestCaServer(root, pki.dir, { 'token-1': CLIENT_ID, 'token-2': CLIENT_ID }, serving);
  tokenFile = path.join(pki.dir, 'istio-token');
  fs.writeFileSync(tokenFile, 'token-1\n');
  rootFile = root.certFile;
  const server = root.leaf('upstream', [spiffe('default', 'server')]);
  upstream = https.createServer({ key: server.key, cert: server.cert, ca: root.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const s = req.socket as tls.TLSSocket;
    const peer = s.getPeerCertificate();
    res.end(JSON.stringify({ peer: peer.subjectaltname, serial: peer.serialNumber.toLowerCase(), conn: upstreamConns.indexOf(s) }));
  });
  upstream.on('secureConnection', (s) => upstreamConns.push(s));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  upstreamPort = (upstream.address() as import('node:net').AddressInfo).port;
  echo = await startEcho('app');
});

after(() => {
  upstream?.close();
  upstream?.closeAllConnections();
  caServer?.close();
  void echo?.close();
  pki?.cleanup();
});

function agentMtlsCluster(name: string): EnvoyResource {
  return edsCluster(name, {
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': UPSTREAM_TLS,
        common_tls_context: {
          // node's https server speaks http/1.1 only (Istio's istio-* ALPNs are for Clew's own listeners)
          alpn_protocols: ['http/1.1'],
          tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: AGENT_SOURCE }],
          combined_validation_context: {
            default_validation_context: { match_subject_alt_names: [{ exact: 'spiffe://cluster.local/ns/default/sa/server' }] },
            validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: AGENT_SOURCE },
          },
        },
      },
    },
  });
}

function meshResources(cluster: string): Parameters<typeof startHarness>[0] {
  return {
    clusters: [agentMtlsCluster(cluster), passthroughCluster()],
    endpoints: [{ cluster_name: cluster, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', upstreamPort) }, metadata: { filter_metadata: { 'envoy.transport_socket_match': jsonToStruct({ tlsMode: 'istio' }) } } }] }] }],
    listeners: [virtualOutbound(0), outboundHttpListener(9080)],
    routes: [routeConfig('9080', [vhost('up', ['up:9080'], [route({ prefix: '/' }, cluster)])])],
  };
}

test('rotation time: Istio rotateTime, half of the lifetime (from when it was obtained) ± 1 % jitter', () => {
  const nb = new Date(0);
  const na = new Date(100_000);
  assert.equal(rotationDelayMs(nb, na, 0, 0.5, 0.01, () => 0.5), 50_000);
  assert.equal(rotationDelayMs(nb, na, 0, 0.5, 0.01, () => 1), 49_000);
  assert.equal(rotationDelayMs(nb, na, 0, 0.5, 0.01, () => 0), 51_000);
  assert.equal(rotationDelayMs(nb, na, 60_000, 0.5, 0.01, () => 0.5), 0, 'already past: now');
  // the lifetime counts from when the certificate was obtained: a CA that backdates NotBefore by
  // 2 min (clock skew) with a 60 s TTL gets a rotation 30 s later, not a renewal loop
  const got = new Date(1_000_000);
  assert.equal(rotationDelayMs(got, new Date(1_060_000), 1_000_000, 0.5, 0.01, () => 0.5), 30_000);
});

test('SDS default/ROOTCA from the agent: CSR with the bearer token (read at each use), the CA verified by --root-cert, mTLS with the issued identity, rotation keeps live connections', async () => {
  const cluster = 'outbound|9080||up.default.svc.cluster.local';
  const h: Harness = await startHarness(meshResources(cluster), {
    rootCertFile: rootFile,
    tokenFile,
    caAddress: `127.0.0.1:${caServer.port}`,
    workloadCertTtlS: 8,
    id: 'client.default',
    serviceAccount: 'client',
  });
  try {
    const first = JSON.parse((await viaProxy(h.outbound, 'http://up:9080/')).body);
    assert.match(first.peer, new RegExp(`URI:${CLIENT_ID}`));
    assert.equal(caServer.calls[0].authorization, 'Bearer token-1');
    assert.equal(caServer.calls[0].validitySeconds, 8);
    // the token file is read at each use: the next CSR carries the new one
    fs.writeFileSync(tokenFile, 'token-2\n');
    // rotation at ~4 s; keep-alive requests meanwhile stay on the first connection
    const serial0 = first.serial;
    const conn0 = first.conn;
    let rotated = false;
    const deadline = Date.now() + 9000;
    while (Date.now() < deadline && !rotated) {
      const r = JSON.parse((await viaProxy(h.outbound, 'http://up:9080/')).body);
      assert.equal(r.conn, conn0, 'the live connection is kept across the rotation');
      rotated = caServer.calls.length >= 2;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.ok(rotated, 'a second certificate was requested');
    assert.equal(caServer.calls[1].authorization, 'Bearer token-2');
    // a new connection presents the new certificate
    upstream.closeIdleConnections();
    for (const s of upstreamConns) s.destroy();
    await waitFor(async () => {
      const r = JSON.parse((await viaProxy(h.outbound, 'http://up:9080/')).body);
      return r.serial !== serial0 && r.serial === caServer.calls.at(-1)!.serial;
    }, 5000, 'a new connection with the rotated certificate');
  } finally {
    await h.close();
  }
});

test('named secrets over ADS SDS: a listener serves the credential, a new value takes effect without a restart, a bad one is NACKed', async () => {
  const certA = root.leaf('gw-a', ['DNS:gw.example']);
  const certB = root.leaf('gw-b', ['DNS:gw.example']);
  const secret = (c: Pem): EnvoyResource => ({ name: 'kubernetes://gw-cred', tls_certificate: { certificate_chain: { inline_string: c.cert }, private_key: { inline_string: c.key } } });
  const h = await startHarness(
    {
      clusters: [staticCluster('app', [['127.0.0.1', echo.port]])],
      listeners: [{
        name: 'gw',
        address: socketAddress('127.0.0.1', 0),
        filter_chains: [{
          transport_socket: { name: 'tls', typed_config: { '@type': DOWNSTREAM_TLS, common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'kubernetes://gw-cred', sds_config: { ads: {} } }] } } },
          filters: [hcm('gw')],
        }],
      }],
      routes: [routeConfig('gw', [vhost('gw', ['*'], [route({ prefix: '/' }, 'app')])])],
    },
    {},
    false,
  );
  try {
    await waitFor(() => h.xds.requests.some((r) => r.type_url === SECRET_TYPE && (r.resource_names ?? []).includes('kubernetes://gw-cred')), 3000, 'SDS subscription');
    assert.equal(h.proxy.isReady(), false, 'the listener warms until its secret is in');
    h.xds.set(SECRET_TYPE, [secret(certA)]);
    await h.proxy.ready;
    const served = async (): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: h.proxy.listenerPort('gw')!, ca: root.cert, servername: 'gw.example' }, () => {
          const serial = s.getPeerCertificate().serialNumber;
          s.end();
          resolve(serial);
        });
        s.on('error', reject);
      });
    const serialA = await served();
    assert.equal(serialA, new (await import('node:crypto')).X509Certificate(certA.cert).serialNumber);
    h.xds.set(SECRET_TYPE, [secret(certB)]);
    const serialB = new (await import('node:crypto')).X509Certificate(certB.cert).serialNumber;
    await waitFor(async () => (await served()) === serialB, 3000, 'the new certificate served');
    const n = h.xds.nacks.length;
    h.xds.set(SECRET_TYPE, [{ name: 'kubernetes://gw-cred', tls_certificate: { certificate_chain: { inline_string: certA.cert }, private_key: { inline_string: certB.key } } }]);
    await waitFor(() => h.xds.nacks.length > n, 3000, 'NACK');
    assert.match(h.xds.nacks.at(-1)!.error ?? '', /secret kubernetes:\/\/gw-cred\.tls_certificate: certificate and key do not load/);
    assert.equal(await served(), serialB, 'the last good certificate keeps serving');
  } finally {
    await h.close();
  }
});

test('ADS over TLS to the secure port with the bearer token; the server is verified against --root-cert', async () => {
  const serving = root.leaf('xds-serving', ['IP:127.0.0.1']);
  const xds = new StaticXds();
  xds.set('type.googleapis.com/envoy.config.cluster.v3.Cluster', [passthroughCluster()], false);
  xds.set('type.googleapis.com/envoy.config.listener.v3.Listener', [virtualOutbound(0)], false);
  await xds.start(0, grpc.ServerCredentials.createSsl(Buffer.from(root.cert), [{ cert_chain: Buffer.from(serving.cert), private_key: Buffer.from(serving.key) }], false));
  fs.writeFileSync(tokenFile, 'token-1\n');
  const { startProxy } = await import('../../../src/proxy/proxy.js');
  const p = await startProxy({ xdsAddress: xds.address, xdsTls: true, rootCertFile: rootFile, tokenFile, id: 't.default', address: '127.0.0.1', outboundPort: 0, adminPort: 0, statsPort: 0, readyPort: 0, logLevel: 'off' });
  try {
    await p.ready;
    assert.equal(xds.authorizations[0], 'Bearer token-1');
  } finally {
    await p.close();
    await xds.stop();
  }
  // a server whose certificate does not chain to --root-cert gets no stream (and no token)
  const other = pki.ca('rogue').leaf('rogue-serving', ['IP:127.0.0.1']);
  const rogue = new StaticXds();
  rogue.set('type.googleapis.com/envoy.config.cluster.v3.Cluster', [passthroughCluster()], false);
  await rogue.start(0, grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(other.cert), private_key: Buffer.from(other.key) }], false));
  const p2 = await startProxy({ xdsAddress: rogue.address, xdsTls: true, rootCertFile: rootFile, tokenFile, id: 't.default', address: '127.0.0.1', outboundPort: 0, adminPort: 0, statsPort: 0, readyPort: 0, logLevel: 'off', xdsBackoffBaseMs: 50, xdsBackoffMaxMs: 100 });
  try {
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(rogue.authorizations.length, 0);
    assert.equal(p2.isReady(), false);
  } finally {
    await p2.close();
    await rogue.stop();
  }
});

test('admin /certs and /config_dump show the secrets (private key redacted); clew proxy-config secret shows istioctl\'s columns', async () => {
  const cluster = 'outbound|9080||up.default.svc.cluster.local';
  fs.writeFileSync(tokenFile, 'token-1\n');
  const h: Harness = await startHarness(meshResources(cluster), { rootCertFile: rootFile, tokenFile, caAddress: `127.0.0.1:${caServer.port}`, id: 'client.default', serviceAccount: 'client' });
  try {
    assert.equal((await viaProxy(h.outbound, 'http://up:9080/')).status, 200);
    const serial = caServer.calls.at(-1)!.serial!;
    const dumpText = (await h.admin('/config_dump')).body;
    assert.doesNotMatch(dumpText, /PRIVATE KEY/);
    const dump = JSON.parse(dumpText);
    const sds = dump.configs.find((c: any) => c['@type'].endsWith('SecretsConfigDump'));
    const names = sds.dynamic_active_secrets.map((s: any) => s.name).sort();
    assert.deepEqual(names, ['ROOTCA', 'default']);
    assert.equal(sds.dynamic_active_secrets.find((s: any) => s.name === 'default').secret.tls_certificate.private_key.inline_string, '[redacted]');
    const certs = JSON.parse((await h.admin('/certs')).body).certificates;
    assert.equal(certs.length, 1);
    assert.equal(certs[0].cert_chain[0].serial_number, serial);
    assert.deepEqual(certs[0].cert_chain[0].subject_alt_names, [{ uri: CLIENT_ID }]);
    assert.equal(certs[0].cert_chain[0].path, 'sds:default');
    assert.equal(certs[0].ca_cert[0].path, 'sds:ROOTCA');
    const { execFile } = await import('node:child_process');
    const { CLEW_BIN } = await import('../../helpers/paths.js');
    // the proxy runs in this process: the CLI must not block its event loop
    const clew = (args: string[]): Promise<string> =>
      new Promise((resolve, reject) => execFile(process.execPath, [CLEW_BIN, ...args], (err, out, errOut) => (err ? reject(new Error(`${err.message}${errOut}`)) : resolve(out))));
    const admin = `http://127.0.0.1:${h.proxy.ports.admin}`;
    const out = await clew(['proxy-config', 'secret', 'client.default', '--admin', admin]);
    const lines = out.trim().split('\n');
    assert.match(lines[0], /^RESOURCE NAME\s+TYPE\s+STATUS\s+VALID CERT\s+SERIAL NUMBER\s+NOT AFTER\s+NOT BEFORE$/);
    const row = lines.find((l) => l.startsWith('default'))!;
    assert.match(row, new RegExp(`^default\\s+Cert Chain\\s+ACTIVE\\s+true\\s+${serial}\\s+\\d{4}-`));
    assert.match(lines.find((l) => l.startsWith('ROOTCA'))!, /^ROOTCA\s+CA\s+ACTIVE\s+true\s+[0-9a-f]+/);
    const json = JSON.parse(await clew(['proxy-config', 'secret', 'client.default', '--admin', admin, '-o', 'json']));
    assert.equal(json.dynamic_active_secrets.length, 2);
  } finally {
    await h.close();
  }
});
