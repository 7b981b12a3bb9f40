/**
 * Keys of the CA and of the certificates it makes itself: generation (RSA 2048 as Istio's
 * `CITADEL_SELF_SIGNED_CA_RSA_KEY_SIZE` / `WORKLOAD_RSA_KEY_SIZE`, or ECDSA P-256 as with
 * `ECC_SIGNATURE_ALGORITHM=ECDSA`), PEM import in any of openssl's forms (PKCS#1, SEC1, PKCS#8),
 * PEM export (PKCS#1 for RSA and SEC1 for EC, like Istio with `PKCS8_KEY` unset), and the
 * signature algorithm that goes with a key.
 */
import * as crypto from 'node:crypto';
import { subtle } from '../x509.js';

export type KeyAlgorithm = 'RSA' | 'ECDSA';

export const RSA_KEY_BITS = 2048;

const RSA_ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

export interface KeyPairPem {
  keys: CryptoKeyPair;
  /** the private key in PEM (PKCS#1 for RSA, SEC1 for EC) */
  privateKeyPem: string;
}

export async function generateKeyPair(alg: KeyAlgorithm): Promise<KeyPairPem> {
  const params: RsaHashedKeyGenParams | EcKeyGenParams = alg === 'RSA'
    ? { ...RSA_ALG, publicExponent: new Uint8Array([1, 0, 1]), modulusLength: RSA_KEY_BITS }
    : { name: 'ECDSA', namedCurve: 'P-256' };
  const keys = await subtle.generateKey(params, true, ['sign', 'verify']) as CryptoKeyPair;
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  return { keys, privateKeyPem: privateKeyPem(crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })) };
}

/** Traditional PEM forms, as openssl and Istio write them. */
export function privateKeyPem(key: crypto.KeyObject): string {
  return key.asymmetricKeyType === 'rsa'
    ? key.export({ format: 'pem', type: 'pkcs1' }).toString()
    : key.export({ format: 'pem', type: 'sec1' }).toString();
}

/** The WebCrypto algorithm that signs with this key (SHA-256, SHA-384 for P-384). */
export function signingAlgorithmOf(key: crypto.KeyObject): RsaHashedImportParams | EcKeyImportParams & { hash: string } {
  if (key.asymmetricKeyType === 'rsa') return { ...RSA_ALG };
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    if (curve === 'secp384r1') return { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
    throw new Error(`unsupported EC curve ${curve ?? 'unknown'} (P-256 or P-384)`);
  }
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (RSA or EC)`);
}

/** A node KeyObject (from a PEM of any form) as a WebCrypto signing key. */
export async function toSigningKey(key: crypto.KeyObject): Promise<CryptoKey> {
  const alg = signingAlgorithmOf(key);
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return subtle.importKey('pkcs8', der, alg, false, ['sign']);
}

/** True when the private key is the one of this public key (compared as SPKI). */
export function keysMatch(privateKey: crypto.KeyObject, publicKey: crypto.KeyObject): boolean {
  const a = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const b = publicKey.export({ format: 'der', type: 'spki' });
  return Buffer.compare(a, b) === 0;
}
