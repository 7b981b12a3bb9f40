/**
 * A STRICT port with certificates a real CA issued to running proxies (issue 17, "Must show" 2):
 * `clew control-plane` (its self-signed CA, then a plug-in CA made here with openssl) signs the
 * sidecars' CSRs; the server sidecar's listener has only a TLS chain that requires a client
 * certificate (bench/mtls-mesh.ts). With `openssl s_client`: no client certificate, a certificate
 * from another root, an expired one (issued by the same CA with a 1 s lifetime) and one for another
 * identity are refused; a certificate the CA issued for the client's identity is served, and the
 * chain the proxy presents verifies to the root with `openssl verify`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startUpstream, type Upstream } from '../../bench/bench-peers.js';
import { adminCounter, CLIENT_SA, MESH_NAMESPACE, SERVER_SA, spiffeId, startMeshCa, startMeshPair, type MeshCa, type MeshPair } from '../../bench/mtls-mesh.js';
import { WorkloadTokens } from '../../src/security/auth/workload-tokens.js';
import { createCertificate } from '../security/helpers/ca-client.js';
import { makeCsr, makePluginCa, verifyChain } from '../security/helpers/openssl.js';
import { makePki } from '../helpers/test-pki.js';

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-mtls-strict-'));
let upstream: Upstream;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  upstream = await startUpstream(workDir);
  cleanups.push(() => upstream.proc.stop());
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(workDir, { recursive: true, force: true });
});

interface ClientCert {
  certFile: string;
  keyFile: string;
}

/** A key + CSR made by openssl, signed by the running CA for `sa` (token from its key), written to files. */
async function issue(ca: MeshCa, name: string, sa: string, validitySeconds: number): Promise<ClientCert> {
  const dir = path.join(workDir, name);
  const { csrPem, keyPem } = makeCsr(dir, { keyType: 'ec' });
  const { token } = await WorkloadTokens.open(ca.configDir).mint({ namespace: MESH_NAMESPACE, serviceAccount: sa, podName: name });
  const r = await createCertificate(ca.secureAddress, fs.readFileSync(ca.rootCertFile, 'utf8'), { csr: csrPem, validityDuration: validitySeconds }, { token });
  if (!('chain' in r)) throw new Error(`CreateCertificate: ${r.code} ${r.details}`);
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  // the client presents its chain without the root, as the agent does
  fs.writeFileSync(certFile, r.chain.slice(0, -1).join(''));
  fs.writeFileSync(keyFile, keyPem);
  return { certFile, keyFile };
}

function sClient(mesh: MeshPair, rootFile: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const c = execFile('openssl', ['s_client', '-connect', `${mesh.inbound.host}:${mesh.inbound.port}`, '-CAfile', rootFile, '-alpn', 'istio-http/1.1', '-showcerts', '-ign_eof', ...args], { timeout: 15_000 }, (_e, out, err) => resolve(out + err));
    c.stdin!.end('GET / HTTP/1.1\r\nHost: bench-mesh:8000\r\nConnection: close\r\n\r\n');
  });
}

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
}

/** Node checks a client chain after the TLS 1.3 handshake: s_client sees an alert, an EOF or a reset. */
const REFUSED = /alert (certificate required|handshake failure|unknown ca|certificate expired|bad certificate)|unexpected eof|errno=104/;

async function strictChecks(ca: MeshCa, rootPem: string, label: string): Promise<{ servedChain: string[] }> {
  const mesh = await startMeshPair({ workDir: path.join(workDir, label), upstreamPort: upstream.http, tls: true, ca, keyAlgorithm: 'ecdsa' });
  cleanups.push(() => mesh.stop());
  const rootFile = path.join(workDir, `${label}-root.pem`);
  fs.writeFileSync(rootFile, rootPem);
  // the client sidecar's identity: the server's listener checks the SAN
  const good = await issue(ca, `${label}-good`, CLIENT_SA, 600);
  // -cert sends the leaf only: -cert_chain adds the intermediates (a plug-in CA's)
  const ok = await sClient(mesh, rootFile, ['-cert', good.certFile, '-cert_chain', good.certFile, '-key', good.keyFile]);
  assert.match(ok, /Verify return code: 0 \(ok\)/, ok);
  assert.match(ok, /HTTP\/1\.1 200/, ok);
  const served = pemBlocks(ok);
  assert.ok(served.length >= 1, 'the proxy presented its chain');
  const leaf = new X509Certificate(served[0]);
  assert.equal(leaf.subjectAltName, `URI:${spiffeId(SERVER_SA)}`, 'the certificate the CA issued to the server sidecar');
  const verified = verifyChain(path.join(workDir, `${label}-verify`), [...served, rootPem]);
  assert.equal(verified.status, 0, verified.out);
  assert.match(verified.out, /OK/);

  const none = await sClient(mesh, rootFile, []);
  assert.doesNotMatch(none, /HTTP\/1\.1 200/);
  assert.match(none, REFUSED);

  const pki = makePki();
  cleanups.push(async () => pki.cleanup());
  const foreign = pki.ca('foreign-root').leaf('foreign', [`URI:${spiffeId(CLIENT_SA)}`]);
  const expired = await issue(ca, `${label}-expired`, CLIENT_SA, 1);
  const otherIdentity = await issue(ca, `${label}-other`, 'reviews', 600);
  // the 1 s certificate: NotBefore is backdated 2 min (clock skew), NotAfter 1 s after issue
  await new Promise((r) => setTimeout(r, 2000));
  for (const [what, c] of [['foreign root', foreign], ['expired', expired], ['another identity', otherIdentity]] as const) {
    const out = await sClient(mesh, rootFile, ['-cert', c.certFile, '-cert_chain', c.certFile, '-key', c.keyFile]);
    assert.doesNotMatch(out, /HTTP\/1\.1 200/, `${label}: ${what} must be refused`);
    assert.match(out, REFUSED, `${label}: ${what}`);
  }
  // the listener's ssl stats: no certificate and the wrong identity by name; the foreign root and the
  // expired certificate end the handshake inside OpenSSL (node reports them as connection errors)
  const stat = (n: string) => adminCounter(mesh.server.adminUrl, `listener.inbound.ssl.${n}`);
  const counts = { no_certificate: await stat('no_certificate'), fail_verify_san: await stat('fail_verify_san'), connection_error: await stat('connection_error') };
  assert.ok(counts.no_certificate >= 1 && counts.fail_verify_san >= 1 && counts.connection_error >= 3, JSON.stringify(counts));
  return { servedChain: served };
}

describe('STRICT port, certificates from a running CA', { timeout: 180_000 }, () => {
  test("Clew's self-signed CA: refusals, and the proxy's chain verifies to .clew/root-cert.pem", async () => {
    const ca = await startMeshCa({ workDir: path.join(workDir, 'self-signed') });
    cleanups.push(() => ca.stop());
    const rootPem = fs.readFileSync(ca.rootCertFile, 'utf8');
    const { servedChain } = await strictChecks(ca, rootPem, 'self-signed');
    // the root signs workload certificates directly (OpenSSL may append the root from the trust store)
    assert.equal(new X509Certificate(servedChain[0]).issuer, new X509Certificate(rootPem).subject);
  });

  test('plug-in CA made with openssl (--ca-dir): the chain goes through its intermediate to its root', async () => {
    const plugin = makePluginCa(path.join(workDir, 'cacerts'), { rootName: 'Plug-in Test Root' });
    const ca = await startMeshCa({ workDir: path.join(workDir, 'plugin'), caDir: plugin.dir });
    cleanups.push(() => ca.stop());
    const { servedChain } = await strictChecks(ca, plugin.rootPem, 'plugin');
    assert.equal(servedChain.length, 2, 'leaf and the intermediate');
    assert.equal(servedChain[1].trim(), plugin.intermediatePem.trim());
  });
});
