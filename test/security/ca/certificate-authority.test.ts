/**
 * The CA against openssl: the self-signed root kept with the control plane's state, leaf shape
 * (Istio's), identities from the caller only, lifetimes, plug-in CAs made by openssl and their
 * failure modes (each error names the file).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CertificateAuthority, publishedRootFile, servingNames } from '../../../src/security/ca/certificate-authority.js';
import { SecurityError } from '../../../src/security/security-errors.js';
import { certText, makeCsr, makePluginCa, openssl, verifyChain } from '../helpers/openssl.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-ca-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function dir(): string {
  const d = path.join(tmp, String(++n));
  fs.mkdirSync(d, { recursive: true });
  return d;
}

const ID = 'spiffe://cluster.local/ns/default/sa/productpage';

async function rejects(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SecurityError, `expected a SecurityError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, re);
    return true;
  });
}

test('self-signed root: created on first start with private modes, the same after a restart', async () => {
  const configDir = dir();
  const ca1 = await CertificateAuthority.open({ configDir });
  const caDir = path.join(configDir, '.clew', 'secrets', 'ca');
  assert.equal(fs.statSync(caDir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(configDir, '.clew', 'secrets')).mode & 0o777, 0o700);
  for (const f of ['ca-cert.pem', 'ca-key.pem']) assert.equal(fs.statSync(path.join(caDir, f)).mode & 0o777, 0o600, f);
  const text = certText(ca1.signer.certPem);
  assert.match(text, /Subject: O = cluster.local/);
  assert.match(text, /Public-Key: \(2048 bit\)/);
  assert.match(text, /CA:TRUE/);
  const root = new crypto.X509Certificate(ca1.signer.certPem);
  const years = (Date.parse(root.validTo) - Date.parse(root.validFrom)) / (365.25 * 24 * 3600 * 1000);
  assert.ok(years > 9.9 && years < 10.1, `root lifetime ${years} years`);

  const ca2 = await CertificateAuthority.open({ configDir });
  assert.equal(ca2.signer.cert.fingerprint256, ca1.signer.cert.fingerprint256);
  // a certificate issued before the restart verifies against the root after it
  const { csrPem } = makeCsr(dir());
  const issued = await ca1.signCsr(csrPem, [ID], 0);
  assert.equal(verifyChain(dir(), [issued.chainPem[0], ca2.rootCertPem()]).status, 0);

  const published = ca2.publishRoot();
  assert.equal(published, publishedRootFile(configDir));
  assert.equal(fs.statSync(published).mode & 0o777, 0o644);
  assert.equal(fs.readFileSync(published, 'utf8'), ca1.signer.certPem);
});

test('trust domain from the setting is the root subject', async () => {
  const ca = await CertificateAuthority.open({ configDir: dir(), trustDomain: 'example.org' });
  assert.match(certText(ca.signer.certPem), /Subject: O = example.org/);
  await rejects(CertificateAuthority.open({ configDir: dir(), trustDomain: 'bad domain/x' }), 'CA_BAD_SETTING', /trustDomain/);
});

test('leaf shape: URI SAN from the caller only, empty subject, critical SAN, server+client auth, 2 min backdate', async () => {
  const ca = await CertificateAuthority.open({ configDir: dir() });
  const d = dir();
  // the CSR asks for other names; only the key may be used
  const { csrPem, keyPem } = makeCsr(d, { sans: ['URI:spiffe://cluster.local/ns/istio-system/sa/admin', 'DNS:evil.example'] });
  const before = Date.now();
  const issued = await ca.signCsr(csrPem, [ID], 0);
  assert.equal(issued.chainPem.length, 2, 'leaf then root');
  assert.equal(issued.chainPem[1], ca.signer.certPem, 'root last');
  const leaf = new crypto.X509Certificate(issued.chainPem[0]);
  assert.equal(leaf.subjectAltName, `URI:${ID}`);
  assert.equal(leaf.subject ?? '', '', 'empty subject');
  assert.ok(leaf.checkPrivateKey(crypto.createPrivateKey(keyPem)), 'the CSR key is the certificate key');
  assert.equal(leaf.ca, false);
  const text = certText(issued.chainPem[0]);
  assert.match(text, /X509v3 Subject Alternative Name: critical\n\s+URI:spiffe:\/\/cluster.local\/ns\/default\/sa\/productpage\n/);
  assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment/);
  assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
  assert.match(text, /X509v3 Authority Key Identifier/);
  assert.doesNotMatch(text, /evil|admin/);
  assert.match(text, /Subject: ?\n/);
  const nb = Date.parse(leaf.validFrom);
  const na = Date.parse(leaf.validTo);
  // X.509 times have whole seconds
  assert.ok(nb <= before - 120_000 + 1000 && nb >= before - 120_000 - 2000, `notBefore ${leaf.validFrom}`);
  assert.ok(Math.abs(na - (before + 24 * 3600_000)) < 5000, `notAfter ${leaf.validTo} is 24h`);
  const v = verifyChain(d, issued.chainPem);
  assert.equal(v.status, 0, v.out);
  // a CN in the CSR is kept (Istio's rule); the identity still comes from the caller
  const withCn = await ca.signCsr(makeCsr(dir(), { subject: '/CN=reviews' }).csrPem, [ID], 0);
  assert.match(certText(withCn.chainPem[0]), /Subject: CN = reviews/);
  assert.equal(new crypto.X509Certificate(withCn.chainPem[0]).subjectAltName, `URI:${ID}`);
});

test('ECDSA P-256 and P-384 CSRs are signed; weak or unknown keys and bad signatures are refused', async () => {
  const ca = await CertificateAuthority.open({ configDir: dir() });
  for (const keyType of ['ec', 'ec384'] as const) {
    const issued = await ca.signCsr(makeCsr(dir(), { keyType }).csrPem, [ID], 3600);
    assert.match(certText(issued.chainPem[0]), /id-ecPublicKey/);
    assert.equal(verifyChain(dir(), issued.chainPem).status, 0);
  }
  await rejects(ca.signCsr(makeCsr(dir(), { keyType: 'rsa1024' }).csrPem, [ID], 0), 'CSR_INVALID', /1024 bits; at least 2048/);
  await rejects(ca.signCsr('hello', [ID], 0), 'CSR_INVALID', /PEM certificate request/);
  // a CSR whose signature does not match its content: swap in another CSR's public key
  const a = Buffer.from(makeCsr(dir()).csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const b = Buffer.from(makeCsr(dir()).csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const spkiA = a.indexOf(Buffer.from('2a864886f70d010101', 'hex'));
  const spkiB = b.indexOf(Buffer.from('2a864886f70d010101', 'hex'));
  b.copy(a, spkiA + 20, spkiB + 20, spkiB + 120);
  const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${a.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  await rejects(ca.signCsr(forged, [ID], 0), 'CSR_INVALID', /signature|parse/);
});

test('lifetimes: ≤0 gets --workload-cert-ttl, up to 90 days as asked, more is refused as istiod does', async () => {
  const ca = await CertificateAuthority.open({ configDir: dir(), workloadCertTtlSeconds: 60 });
  const { csrPem } = makeCsr(dir());
  const t0 = Date.now();
  const short = new crypto.X509Certificate((await ca.signCsr(csrPem, [ID], 0)).chainPem[0]);
  assert.ok(Math.abs(Date.parse(short.validTo) - (t0 + 60_000)) < 3000, short.validTo);
  const asked = new crypto.X509Certificate((await ca.signCsr(csrPem, [ID], 7200)).chainPem[0]);
  assert.ok(Math.abs(Date.parse(asked.validTo) - (t0 + 7200_000)) < 3000, asked.validTo);
  await rejects(ca.signCsr(csrPem, [ID], 90 * 24 * 3600 + 1), 'TTL_TOO_LONG', /requested TTL 2160h0m1s is greater than the max allowed TTL 2160h0m0s/);
  await rejects(CertificateAuthority.open({ configDir: dir(), workloadCertTtlSeconds: 91 * 24 * 3600 }), 'CA_BAD_SETTING', /--workload-cert-ttl: 2184h0m0s is greater than the max allowed TTL 2160h0m0s/);
});

test('plug-in CA from openssl: signed by the intermediate, chain ends at the given root, NotAfter clamped', async () => {
  const caFiles = makePluginCa(dir(), { intermediateDays: 1 });
  const configDir = dir();
  const ca = await CertificateAuthority.open({ configDir, caDir: caFiles.dir });
  assert.equal(ca.signer.kind, 'plug-in');
  const d = dir();
  const issued = await ca.signCsr(makeCsr(d).csrPem, [ID], 30 * 24 * 3600);
  assert.equal(issued.chainPem.length, 3);
  assert.equal(issued.chainPem[1].trim(), caFiles.intermediatePem.trim());
  assert.equal(issued.chainPem[2].trim(), caFiles.rootPem.trim());
  const v = verifyChain(d, issued.chainPem);
  assert.equal(v.status, 0, v.out);
  const leaf = new crypto.X509Certificate(issued.chainPem[0]);
  const mid = new crypto.X509Certificate(caFiles.intermediatePem);
  assert.equal(leaf.validTo, mid.validTo, 'a 30-day request ends with the 1-day intermediate');
  assert.equal(fs.readFileSync(ca.publishRoot(), 'utf8').trim(), caFiles.rootPem.trim());
  // no self-signed root is made when a plug-in CA is used
  assert.equal(fs.existsSync(path.join(configDir, '.clew', 'secrets', 'ca')), false);
  // cert-chain.pem is optional
  fs.rmSync(path.join(caFiles.dir, 'cert-chain.pem'));
  const again = await CertificateAuthority.open({ configDir, caDir: caFiles.dir });
  assert.equal((await again.signCsr(makeCsr(dir()).csrPem, [ID], 0)).chainPem.length, 3);
});

test('plug-in CA with EC keys (openssl) signs', async () => {
  const caFiles = makePluginCa(dir(), { keyType: 'ec' });
  const ca = await CertificateAuthority.open({ configDir: dir(), caDir: caFiles.dir });
  const issued = await ca.signCsr(makeCsr(dir()).csrPem, [ID], 0);
  assert.match(certText(issued.chainPem[0]), /Signature Algorithm: ecdsa-with-SHA256/);
  assert.equal(verifyChain(dir(), issued.chainPem).status, 0);
});

test('plug-in CA problems are clear startup errors naming the file', async () => {
  const expired = makePluginCa(dir(), { intermediateDays: -1 });
  await rejects(CertificateAuthority.open({ configDir: dir(), caDir: expired.dir }), 'CA_EXPIRED', new RegExp(`${expired.dir}/ca-cert.pem: certificate .*Intermediate CA expired on`));

  const mismatch = makePluginCa(dir());
  const other = makePluginCa(dir());
  fs.copyFileSync(path.join(other.dir, 'ca-key.pem'), path.join(mismatch.dir, 'ca-key.pem'));
  await rejects(CertificateAuthority.open({ configDir: dir(), caDir: mismatch.dir }), 'CA_MISMATCH', new RegExp(`${mismatch.dir}/ca-key.pem: the private key does not match the certificate in ${mismatch.dir}/ca-cert.pem`));

  const wrongRoot = makePluginCa(dir());
  fs.copyFileSync(path.join(other.dir, 'root-cert.pem'), path.join(wrongRoot.dir, 'root-cert.pem'));
  fs.rmSync(path.join(wrongRoot.dir, 'cert-chain.pem'));
  await rejects(CertificateAuthority.open({ configDir: dir(), caDir: wrongRoot.dir }), 'CA_MISMATCH', /ca-cert.pem: certificate .* is not signed by .*root-cert.pem.*does not end at the root/);

  const missing = makePluginCa(dir());
  fs.rmSync(path.join(missing.dir, 'root-cert.pem'));
  await rejects(CertificateAuthority.open({ configDir: dir(), caDir: missing.dir }), 'CA_FILE_INVALID', new RegExp(`${missing.dir}/root-cert.pem: missing`));

  const garbage = makePluginCa(dir());
  fs.writeFileSync(path.join(garbage.dir, 'ca-key.pem'), 'not a key\n');
  await rejects(CertificateAuthority.open({ configDir: dir(), caDir: garbage.dir }), 'CA_FILE_INVALID', /ca-key.pem: not a PEM private key/);

  // a leaf certificate is not a CA
  const notCa = makePluginCa(dir());
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'x.csr', '-subj', '/CN=leaf'], notCa.dir);
  openssl(['x509', '-req', '-in', 'x.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-set_serial', '9', '-days', '3', '-out', 'ca-cert.pem'], notCa.dir);
  fs.rmSync(path.join(notCa.dir, 'cert-chain.pem'));
  await rejects(CertificateAuthority.open({ configDir: dir(), caDir: notCa.dir }), 'CA_NOT_A_CA', /ca-cert.pem: the certificate is not a CA certificate/);

  await rejects(CertificateAuthority.open({ configDir: dir(), caDir: path.join(tmp, 'nope') }), 'CA_FILE_INVALID', /--ca-dir does not exist/);

  // a self-signed root dir with only one of its two files
  const half = dir();
  await CertificateAuthority.open({ configDir: half });
  fs.rmSync(path.join(half, '.clew', 'secrets', 'ca', 'ca-key.pem'));
  await rejects(CertificateAuthority.open({ configDir: half }), 'CA_FILE_INVALID', /ca-key.pem: missing while .*ca-cert.pem exists/);
});

test('the serving certificate has istiod\'s name and the listen address', async () => {
  const ca = await CertificateAuthority.open({ configDir: dir(), keyAlgorithm: 'ECDSA' });
  const s = await ca.issueServing(servingNames('127.0.0.1'), 3600);
  const leaf = new crypto.X509Certificate(s.chainPem[0]);
  assert.equal(leaf.subjectAltName, 'DNS:istiod.istio-system.svc, IP Address:127.0.0.1');
  assert.ok(leaf.checkPrivateKey(crypto.createPrivateKey(s.keyPem)));
  assert.equal(crypto.createPrivateKey(s.keyPem).asymmetricKeyType, 'ec');
  assert.deepEqual(servingNames('0.0.0.0'), ['istiod.istio-system.svc', 'localhost', '127.0.0.1', '::1']);
});
