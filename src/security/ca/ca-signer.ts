/**
 * The signing material of the CA, whichever way it was obtained (self-signed root kept with the
 * control plane's state, or Istio's plug-in `cacerts` files), and the checks both go through.
 */
import * as crypto from 'node:crypto';
import { SecurityError } from '../security-errors.js';
import { keysMatch, signingAlgorithmOf, toSigningKey } from './ca-keys.js';
import type { PemCert } from './ca-pem.js';

export interface CaSigner {
  /** 'self-signed' or 'plug-in' */
  kind: 'self-signed' | 'plug-in';
  /** the directory the material came from */
  dir: string;
  /** the certificate that signs workload certificates (the root itself when self-signed) */
  cert: crypto.X509Certificate;
  certPem: string;
  /** WebCrypto key for signing, and its algorithm */
  key: CryptoKey;
  signingAlgorithm: Algorithm;
  /** signer first, up to (not including) the root; empty when the signer is the root */
  intermediatesPem: string[];
  root: crypto.X509Certificate;
  rootPem: string;
  /** every root clients should trust (the root, plus others of a bundle during a rotation) */
  trustBundlePem: string[];
}

export function describeDate(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z');
}

/** Throws CA_EXPIRED when the certificate is not valid at `now`. */
export function checkValidity(c: crypto.X509Certificate, file: string, now: Date): void {
  const from = new Date(c.validFrom);
  const to = new Date(c.validTo);
  if (now.getTime() > to.getTime()) {
    throw new SecurityError('CA_EXPIRED', `${file}: certificate ${c.subject.replace(/\n/g, ', ') || '(empty subject)'} expired on ${describeDate(to)}`);
  }
  if (now.getTime() < from.getTime()) {
    throw new SecurityError('CA_EXPIRED', `${file}: certificate is not valid before ${describeDate(from)}`);
  }
}

export function checkIsCa(c: crypto.X509Certificate, file: string): void {
  if (!c.ca) throw new SecurityError('CA_NOT_A_CA', `${file}: the certificate is not a CA certificate (basicConstraints CA:TRUE is required to sign workload certificates)`);
}

export interface SignerFiles {
  cert: string;
  key: string;
  root: string;
  chain?: string;
}

/**
 * Checks and assembles a signer: the key belongs to the signing certificate, every certificate
 * is a valid CA now, each certificate of the chain is signed by the next, the last by the root,
 * and the root signs itself.
 */
export async function assembleSigner(o: {
  kind: CaSigner['kind'];
  dir: string;
  files: SignerFiles;
  signer: PemCert;
  key: crypto.KeyObject;
  /** signer first; the root may or may not be at the end */
  chain: PemCert[];
  root: PemCert;
  now: Date;
}): Promise<CaSigner> {
  const { files, signer, key, root, now } = o;
  if (!keysMatch(key, signer.cert.publicKey)) {
    throw new SecurityError('CA_MISMATCH', `${files.key}: the private key does not match the certificate in ${files.cert}`);
  }
  let algorithm: Algorithm;
  try {
    algorithm = signingAlgorithmOf(key);
  } catch (err) {
    throw new SecurityError('CA_FILE_INVALID', `${files.key}: ${(err as Error).message}`);
  }
  checkValidity(signer.cert, files.cert, now);
  checkIsCa(signer.cert, files.cert);
  checkValidity(root.cert, files.root, now);
  checkIsCa(root.cert, files.root);
  if (!root.cert.verify(root.cert.publicKey)) {
    throw new SecurityError('CA_MISMATCH', `${files.root}: the root certificate is not self-signed`);
  }
  const chainFile = files.chain ?? files.cert;
  let chain = o.chain;
  if (chain.length === 0 || chain[0].cert.fingerprint256 !== signer.cert.fingerprint256) {
    throw new SecurityError('CA_MISMATCH', `${chainFile}: the chain must begin with the certificate of ${files.cert}`);
  }
  if (chain.at(-1)!.cert.fingerprint256 === root.cert.fingerprint256) chain = chain.slice(0, -1);
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i].cert;
    const issuer = i + 1 < chain.length ? chain[i + 1].cert : root.cert;
    const issuerFile = i + 1 < chain.length ? chainFile : files.root;
    if (i > 0) {
      checkValidity(c, chainFile, now);
      checkIsCa(c, chainFile);
    }
    if (!c.checkIssued(issuer) || !c.verify(issuer.publicKey)) {
      throw new SecurityError('CA_MISMATCH', `${i === 0 ? files.cert : chainFile}: certificate ${c.subject.replace(/\n/g, ', ')} is not signed by ${issuer.subject.replace(/\n/g, ', ')} (${issuerFile}): the chain does not end at the root`);
    }
  }
  return {
    kind: o.kind,
    dir: o.dir,
    cert: signer.cert,
    certPem: signer.pem,
    key: await toSigningKey(key),
    signingAlgorithm: algorithm,
    intermediatesPem: chain.map((c) => c.pem),
    root: root.cert,
    rootPem: root.pem,
    trustBundlePem: [root.pem],
  };
}
