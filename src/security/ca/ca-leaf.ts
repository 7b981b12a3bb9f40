/**
 * Leaf certificates shaped as Istio's (security/pkg/pki/util/generate_cert.go): an empty subject
 * (a CN only if the CSR had one), the identities as a critical subjectAltName (spiffe:// values as
 * URI SANs, IPs as IP SANs, anything else as DNS SANs), keyUsage digitalSignature +
 * keyEncipherment, extKeyUsage serverAuth + clientAuth, basicConstraints CA:FALSE, NotBefore two
 * minutes back for clock skew, NotAfter clamped to the signer's.
 */
import * as net from 'node:net';
import { x509 } from '../x509.js';
import type { CaSigner } from './ca-signer.js';
import { randomSerial } from './ca-serial.js';
import { CLOCK_SKEW_GRACE_MS } from './ca-ttl.js';

export interface LeafRequest {
  /** the subject public key (from a CSR, or a key the CA made) */
  publicKey: x509.PublicKey | CryptoKey;
  /** spiffe:// URIs, DNS names and IP addresses */
  sans: string[];
  ttlSeconds: number;
  commonName?: string;
  now?: Date;
}

export function sanEntries(sans: string[]): x509.JsonGeneralName[] {
  return sans.map((v) => {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return { type: 'url', value: v };
    if (net.isIP(v)) return { type: 'ip', value: v };
    return { type: 'dns', value: v };
  });
}

const issuerCache = new WeakMap<CaSigner, { name: x509.Name; keyId?: string }>();

function issuerOf(signer: CaSigner): { name: x509.Name; keyId?: string } {
  let hit = issuerCache.get(signer);
  if (!hit) {
    const c = new x509.X509Certificate(signer.certPem);
    const ski = c.getExtension(x509.SubjectKeyIdentifierExtension);
    // the raw subject, so the issuer field is byte-for-byte the signer's subject
    hit = { name: new x509.Name(c.subjectName.toArrayBuffer()), keyId: ski?.keyId };
    issuerCache.set(signer, hit);
  }
  return hit;
}

export async function issueLeaf(signer: CaSigner, req: LeafRequest): Promise<x509.X509Certificate> {
  const now = req.now ?? new Date();
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_GRACE_MS);
  const signerEnd = new Date(signer.cert.validTo);
  let notAfter = new Date(now.getTime() + req.ttlSeconds * 1000);
  if (notAfter.getTime() > signerEnd.getTime()) notAfter = signerEnd;
  const issuer = issuerOf(signer);
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.BasicConstraintsExtension(false, undefined, true),
  ];
  if (issuer.keyId) extensions.push(new x509.AuthorityKeyIdentifierExtension(issuer.keyId));
  extensions.push(new x509.SubjectAlternativeNameExtension(sanEntries(req.sans), true));
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: req.commonName ? [{ CN: [req.commonName] }] : [],
    issuer: issuer.name,
    notBefore,
    notAfter,
    publicKey: req.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.signingAlgorithm,
    extensions,
  });
}
