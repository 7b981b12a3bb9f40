/**
 * Secret semantics for TLS material (Istio's credential keys, pilot/pkg/credentials/kube):
 * certificate `tls.crt` or `cert`, key `tls.key` or `key`, CA `ca.crt` or `cacert`, CRL `ca.crl` or
 * `crl`. Each present value must decode (base64 in `data`) and parse, the key must belong to the
 * certificate, and a `kubernetes.io/tls` Secret must have both. Messages name the key
 * (`data["tls.key"]`). The values themselves never appear in a message.
 */
import * as crypto from 'node:crypto';
import { joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asObj, asStr, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
export const CERT_KEYS = ['tls.crt', 'cert'] as const;
export const KEY_KEYS = ['tls.key', 'key'] as const;
export const CA_KEYS = ['ca.crt', 'cacert'] as const;
export const CRL_KEYS = ['ca.crl', 'crl'] as const;

/** The decoded value of a Secret key and the field path it came from (stringData wins, as in Kubernetes). */
export function secretValue(spec: Obj, key: string): { text: string; path: string } | undefined {
  const plain = asStr(asObj(spec.stringData)[key]);
  if (plain !== undefined) return { text: plain, path: joinKey('stringData', key) };
  const b64 = asStr(asObj(spec.data)[key]);
  if (b64 === undefined) return undefined;
  return { text: Buffer.from(b64, 'base64').toString('utf8'), path: joinKey('data', key) };
}

const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

function firstPresent(spec: Obj, keys: readonly string[]): { key: string; text: string; path: string } | undefined {
  for (const key of keys) {
    const v = secretValue(spec, key);
    if (v) return { key, ...v };
  }
  return undefined;
}

export function validateSecret(spec: Obj, rep: Reporter): void {
  for (const [k, v] of Object.entries(asObj(spec.data))) {
    if (typeof v === 'string' && !BASE64.test(v)) rep.error(joinKey('data', k), 'value is not base64 (use stringData for plain text)', Codes.secret);
  }
  const type = asStr(spec.type);
  const cert = firstPresent(spec, CERT_KEYS);
  const key = firstPresent(spec, KEY_KEYS);
  const ca = firstPresent(spec, CA_KEYS);
  if (type === TLS_SECRET_TYPE) {
    if (!cert) rep.error(joinKey('data', 'tls.crt'), `is required for a Secret of type ${TLS_SECRET_TYPE}`, Codes.required);
    if (!key) rep.error(joinKey('data', 'tls.key'), `is required for a Secret of type ${TLS_SECRET_TYPE}`, Codes.required);
  }
  let certObj: crypto.X509Certificate | undefined;
  if (cert) {
    try {
      certObj = new crypto.X509Certificate(cert.text);
    } catch {
      rep.error(cert.path, 'not a PEM certificate', Codes.secret);
    }
    if (certObj && Date.parse(certObj.validTo) < Date.now()) rep.warn(cert.path, `certificate expired on ${certObj.validTo}`, Codes.secret);
  }
  let keyObj: crypto.KeyObject | undefined;
  if (key) {
    try {
      keyObj = crypto.createPrivateKey(key.text);
    } catch {
      rep.error(key.path, 'not a PEM private key (RSA or EC, unencrypted)', Codes.secret);
    }
  }
  if (certObj && keyObj && !certObj.checkPrivateKey(keyObj)) {
    rep.error(key!.path, `the private key does not match the certificate in ${cert!.path}`, Codes.secret);
  }
  if (ca && !/-----BEGIN CERTIFICATE-----/.test(ca.text)) rep.error(ca.path, 'not a PEM certificate bundle', Codes.secret);
  else if (ca) {
    try {
      new crypto.X509Certificate(ca.text);
    } catch {
      rep.error(ca.path, 'not a PEM certificate bundle', Codes.secret);
    }
  }
  if (cert && !key) rep.error(joinKey('data', KEY_KEYS[cert.key === 'cert' ? 1 : 0]), `is required with ${cert.path}`, Codes.required);
  if (key && !cert) rep.error(joinKey('data', CERT_KEYS[key.key === 'key' ? 1 : 0]), `is required with ${key.path}`, Codes.required);
}
