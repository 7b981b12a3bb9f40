/**
 * The workload's key and its certificate signing request, made in the proxy (the istio-agent's
 * job): RSA 2048 (Istio's default) or ECDSA P-256, the CSR carrying the workload's SPIFFE ID as a
 * URI SAN (the CA ignores it and signs the identity the caller authenticated as). @peculiar/x509
 * and its Reflect polyfill are loaded on first use only, so a proxy without TLS never loads them.
 */
import { webcrypto } from 'node:crypto';

export type KeyAlgorithm = 'rsa' | 'ecdsa';

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

type X509 = typeof import('@peculiar/x509');
let lib: Promise<X509> | undefined;

function x509(): Promise<X509> {
  lib ??= (async () => {
    await import('reflect-metadata');
    const m = await import('@peculiar/x509');
    m.cryptoProvider.set(webcrypto as unknown as Crypto);
    return m;
  })();
  return lib;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

export async function makeKeyAndCsr(algorithm: KeyAlgorithm, spiffeId: string): Promise<KeyAndCsr> {
  const lib = await x509();
  const alg =
    algorithm === 'ecdsa'
      ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await lib.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: alg,
    extensions: [new lib.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], true)],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: pem('PRIVATE KEY', pkcs8), csrPem: csr.toString('pem') };
}
