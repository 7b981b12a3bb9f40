/**
 * The self-signed root (istiod without a plug-in CA): RSA 2048, ten years
 * (`CITADEL_SELF_SIGNED_CA_CERT_TTL`), subject O=<trust domain>, created on first start in
 * `<config-dir>/.clew/secrets/ca/` (ca-cert.pem 0600, ca-key.pem 0600; Istio keeps the same pair
 * in Secret `istio-ca-secret`) and loaded from there on every later start, so a restart keeps the
 * same root and every certificate issued before stays valid.
 */
import * as path from 'node:path';
import { x509 } from '../x509.js';
import { writeSecretFile } from '../secret-files.js';
import { SecurityError } from '../security-errors.js';
import { generateKeyPair } from './ca-keys.js';
import { fileExists, readCertificates, readPrivateKey } from './ca-pem.js';
import { assembleSigner, type CaSigner } from './ca-signer.js';
import { randomSerial } from './ca-serial.js';

export const SELF_SIGNED_ROOT_TTL_MS = 3650 * 24 * 3600 * 1000;
export const CA_CERT_FILE = 'ca-cert.pem';
export const CA_KEY_FILE = 'ca-key.pem';

/** `<config-dir>/.clew/secrets/ca` */
export function selfSignedCaDir(configDir: string): string {
  return path.join(configDir, '.clew', 'secrets', 'ca');
}

export async function createSelfSignedRoot(trustDomain: string, now: Date): Promise<{ certPem: string; keyPem: string }> {
  const { keys, privateKeyPem } = await generateKeyPair('RSA');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ O: [trustDomain] }],
    notBefore: now,
    notAfter: new Date(now.getTime() + SELF_SIGNED_ROOT_TTL_MS),
    keys,
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: privateKeyPem };
}

export interface SelfSignedResult {
  signer: CaSigner;
  created: boolean;
}

/** Loads the root kept in `dir`, or creates it when neither file exists. */
export async function loadOrCreateSelfSigned(dir: string, trustDomain: string, now = new Date()): Promise<SelfSignedResult> {
  const files = { cert: path.join(dir, CA_CERT_FILE), key: path.join(dir, CA_KEY_FILE), root: path.join(dir, CA_CERT_FILE) };
  const haveCert = fileExists(files.cert);
  const haveKey = fileExists(files.key);
  let created = false;
  if (!haveCert && !haveKey) {
    const made = await createSelfSignedRoot(trustDomain, now);
    // key first: a crash between the two leaves a key without a cert, which the check below reports
    writeSecretFile(files.key, made.keyPem);
    writeSecretFile(files.cert, made.certPem);
    created = true;
  } else if (!haveCert || !haveKey) {
    const missing = haveCert ? files.key : files.cert;
    throw new SecurityError('CA_FILE_INVALID', `${missing}: missing while ${haveCert ? files.cert : files.key} exists; restore it, or remove ${dir} to create a new root (every workload certificate issued by the old root stops being trusted)`);
  }
  const certs = readCertificates(files.cert);
  const key = readPrivateKey(files.key);
  const root = certs[0];
  const signer = await assembleSigner({ kind: 'self-signed', dir, files, signer: root, key, chain: [root], root, now });
  return { signer, created };
}
