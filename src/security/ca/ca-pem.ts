/** Reading PEM files of the CA, with errors that name the file. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { SecurityError } from '../security-errors.js';

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

export interface PemCert {
  pem: string;
  cert: crypto.X509Certificate;
}

/** Every certificate in a PEM text, in order (throws on a block that does not parse). */
export function parseCertificates(text: string, what: string): PemCert[] {
  const blocks = text.match(CERT_BLOCK) ?? [];
  return blocks.map((b, i) => {
    const pem = `${b.trim()}\n`;
    try {
      return { pem, cert: new crypto.X509Certificate(pem) };
    } catch (err) {
      throw new SecurityError('CA_FILE_INVALID', `${what}: certificate ${i + 1} does not parse: ${(err as Error).message}`);
    }
  });
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new SecurityError('CA_FILE_INVALID', `${file}: cannot read: ${why}`, { cause: err });
  }
}

/** The certificates of a PEM file; at least one. */
export function readCertificates(file: string): PemCert[] {
  const certs = parseCertificates(readText(file), file);
  if (certs.length === 0) throw new SecurityError('CA_FILE_INVALID', `${file}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file`);
  return certs;
}

/** A private key PEM file in any of openssl's forms. */
export function readPrivateKey(file: string): crypto.KeyObject {
  const text = readText(file);
  try {
    return crypto.createPrivateKey(text);
  } catch (err) {
    throw new SecurityError('CA_FILE_INVALID', `${file}: not a PEM private key (RSA or EC; encrypted keys are not supported): ${(err as Error).message}`, { cause: err });
  }
}

export function fileExists(file: string): boolean {
  try {
    fs.accessSync(file);
    return true;
  } catch {
    return false;
  }
}
