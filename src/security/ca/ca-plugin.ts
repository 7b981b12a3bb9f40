/**
 * A plug-in CA (`clew control-plane --ca-dir DIR`), Istio's `cacerts` Secret as files:
 * `ca-cert.pem` (the intermediate that signs workload certificates), `ca-key.pem` (its key),
 * `root-cert.pem` (the root the chain ends at) and `cert-chain.pem` (ca-cert first, then any
 * further intermediates, optionally the root; defaults to ca-cert alone). When `tls.crt` exists
 * the kubernetes.io/tls form is read instead (`tls.crt` chain, `tls.key`, `ca.crt` root), as
 * istiod does. Clew never rotates a plug-in CA (neither does Istio): the files are read at start.
 */
import * as path from 'node:path';
import { SecurityError } from '../security-errors.js';
import { fileExists, readCertificates, readPrivateKey } from './ca-pem.js';
import { assembleSigner, type CaSigner, type SignerFiles } from './ca-signer.js';

export const PLUGIN_FILES = { cert: 'ca-cert.pem', key: 'ca-key.pem', root: 'root-cert.pem', chain: 'cert-chain.pem' } as const;
export const PLUGIN_TLS_FILES = { cert: 'tls.crt', key: 'tls.key', root: 'ca.crt' } as const;

export async function loadPluginCa(dir: string, now = new Date()): Promise<CaSigner> {
  if (!fileExists(dir)) throw new SecurityError('CA_FILE_INVALID', `${dir}: --ca-dir does not exist`);
  const tlsForm = fileExists(path.join(dir, PLUGIN_TLS_FILES.cert));
  const files: SignerFiles = tlsForm
    ? { cert: path.join(dir, PLUGIN_TLS_FILES.cert), key: path.join(dir, PLUGIN_TLS_FILES.key), root: path.join(dir, PLUGIN_TLS_FILES.root), chain: path.join(dir, PLUGIN_TLS_FILES.cert) }
    : { cert: path.join(dir, PLUGIN_FILES.cert), key: path.join(dir, PLUGIN_FILES.key), root: path.join(dir, PLUGIN_FILES.root) };
  if (!tlsForm && fileExists(path.join(dir, PLUGIN_FILES.chain))) files.chain = path.join(dir, PLUGIN_FILES.chain);
  for (const f of [files.cert, files.key, files.root]) {
    if (!fileExists(f)) {
      throw new SecurityError('CA_FILE_INVALID', `${f}: missing; --ca-dir needs ${tlsForm ? 'tls.crt, tls.key and ca.crt' : 'ca-cert.pem, ca-key.pem and root-cert.pem (cert-chain.pem optional)'}`);
    }
  }
  const signerCerts = readCertificates(files.cert);
  const key = readPrivateKey(files.key);
  // root-cert.pem may hold several roots (a trust bundle while roots are rotated): the chain must
  // end at one of them, and all of them are published to clients
  const roots = readCertificates(files.root);
  const chain = files.chain ? readCertificates(files.chain) : signerCerts;
  const top = chain.at(-1)!.cert;
  const root = roots.find((r) => r.cert.fingerprint256 === top.fingerprint256)
    ?? roots.find((r) => top.checkIssued(r.cert) && top.verify(r.cert.publicKey))
    ?? roots[0];
  const signer = await assembleSigner({ kind: 'plug-in', dir, files, signer: signerCerts[0], key, chain, root, now });
  return { ...signer, trustBundlePem: roots.map((r) => r.pem) };
}
