/**
 * The control plane's certificate authority (Citadel's role in istiod): the signer (a self-signed
 * root kept with the control plane's state, or a plug-in CA from `--ca-dir`), workload
 * certificates from CSRs, the control plane's own serving certificate, and the root certificate
 * published for clients (`<config-dir>/.clew/root-cert.pem`, 0644).
 *
 * The identities a certificate carries are always given by the caller of `signCsr` (from who the
 * requester proved to be); the CSR contributes its public key and nothing else.
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as path from 'node:path';
import { x509 } from '../x509.js';
import { SecurityError } from '../security-errors.js';
import { writePublicFile } from '../secret-files.js';
import { DEFAULT_TRUST_DOMAIN, isValidTrustDomain } from '../spiffe.js';
import { generateKeyPair, RSA_KEY_BITS, type KeyAlgorithm } from './ca-keys.js';
import { issueLeaf } from './ca-leaf.js';
import { loadPluginCa } from './ca-plugin.js';
import { loadOrCreateSelfSigned, selfSignedCaDir } from './ca-self-signed.js';
import type { CaSigner } from './ca-signer.js';
import { checkDefaultTtl, DEFAULT_WORKLOAD_CERT_TTL_S, grantedTtlSeconds, MAX_WORKLOAD_CERT_TTL_S } from './ca-ttl.js';

export interface CertificateAuthorityOptions {
  /** the control plane's config dir: the self-signed root lives in `.clew/secrets/ca/` there */
  configDir: string;
  /** a plug-in CA in Istio's cacerts form; default: the self-signed root */
  caDir?: string;
  trustDomain?: string;
  /** lifetime for requests that ask for none (`--workload-cert-ttl`, default 24h) */
  workloadCertTtlSeconds?: number;
  maxWorkloadCertTtlSeconds?: number;
  /**
   * key type of the certificates the CA makes keys for itself (the control plane's serving
   * certificate); default ECDSA P-256: made in a millisecond where RSA 2048 takes 0.1-5 s on a busy
   * machine, and every TLS client (grpc-js, openssl, Clew's proxy) speaks it
   */
  keyAlgorithm?: KeyAlgorithm;
  log?: (line: string) => void;
  /** for tests: the clock */
  now?: () => Date;
}

export interface IssuedCertificate {
  /** leaf first, root last (IstioCertificateResponse.cert_chain order) */
  chainPem: string[];
  notAfter: Date;
  serialNumber: string;
}

export interface ServingCertificate extends IssuedCertificate {
  keyPem: string;
}

/** `<config-dir>/.clew/root-cert.pem` */
export function publishedRootFile(configDir: string): string {
  return path.join(configDir, '.clew', 'root-cert.pem');
}

export class CertificateAuthority {
  readonly trustDomain: string;
  readonly defaultTtlSeconds: number;
  readonly maxTtlSeconds: number;
  private readonly now: () => Date;

  private constructor(
    readonly signer: CaSigner,
    private readonly options: CertificateAuthorityOptions,
  ) {
    this.trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.defaultTtlSeconds = options.workloadCertTtlSeconds ?? DEFAULT_WORKLOAD_CERT_TTL_S;
    this.maxTtlSeconds = options.maxWorkloadCertTtlSeconds ?? MAX_WORKLOAD_CERT_TTL_S;
    this.now = options.now ?? (() => new Date());
  }

  /** Loads (or on first start creates) the signer; a bad setting or bad CA file throws SecurityError. */
  static async open(options: CertificateAuthorityOptions): Promise<CertificateAuthority> {
    const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    if (!isValidTrustDomain(trustDomain)) throw new SecurityError('CA_BAD_SETTING', `trustDomain: ${JSON.stringify(trustDomain)} is not a valid trust domain`);
    checkDefaultTtl(options.workloadCertTtlSeconds ?? DEFAULT_WORKLOAD_CERT_TTL_S, options.maxWorkloadCertTtlSeconds);
    const now = options.now?.() ?? new Date();
    let signer: CaSigner;
    if (options.caDir) {
      signer = await loadPluginCa(options.caDir, now);
      options.log?.(`CA: plug-in CA from ${options.caDir} (signer ${oneLine(signer.cert.subject)}, valid until ${signer.cert.validTo})`);
    } else {
      const dir = selfSignedCaDir(options.configDir);
      const r = await loadOrCreateSelfSigned(dir, trustDomain, now);
      signer = r.signer;
      options.log?.(`CA: ${r.created ? 'created a self-signed root' : 'self-signed root'} in ${dir} (valid until ${signer.cert.validTo})`);
    }
    return new CertificateAuthority(signer, options);
  }

  /** PEM of every root clients should trust. */
  rootCertPem(): string {
    return this.signer.trustBundlePem.join('');
  }

  /** Writes the root for clients to `<config-dir>/.clew/root-cert.pem` (0644); returns the path. */
  publishRoot(): string {
    const file = publishedRootFile(this.options.configDir);
    writePublicFile(file, this.rootCertPem());
    return file;
  }

  /**
   * Signs a PKCS#10 CSR for the given identities (SPIFFE URIs etc., from the authenticated
   * caller). `requestedTtlSeconds` ≤ 0 gets the default lifetime.
   */
  async signCsr(csrPem: string, identities: string[], requestedTtlSeconds: number): Promise<IssuedCertificate> {
    if (identities.length === 0) throw new SecurityError('CSR_INVALID', 'no identity to put in the certificate');
    const ttl = grantedTtlSeconds(requestedTtlSeconds, this.defaultTtlSeconds, this.maxTtlSeconds);
    const csr = parseCsr(csrPem);
    if (!(await csr.verify())) throw new SecurityError('CSR_INVALID', 'the CSR signature does not verify');
    checkPublicKey(csr.publicKey);
    const commonName = csr.subjectName.getField('CN')[0];
    const leaf = await issueLeaf(this.signer, { publicKey: csr.publicKey, sans: identities, ttlSeconds: ttl, commonName, now: this.now() });
    return this.issued(leaf);
  }

  /** A certificate and key the CA makes for the control plane itself (its TLS port). */
  async issueServing(sans: string[], ttlSeconds: number): Promise<ServingCertificate> {
    const { keys, privateKeyPem } = await generateKeyPair(this.options.keyAlgorithm ?? 'ECDSA');
    const leaf = await issueLeaf(this.signer, { publicKey: keys.publicKey, sans, ttlSeconds, now: this.now() });
    return { ...this.issued(leaf), keyPem: privateKeyPem };
  }

  private issued(leaf: x509.X509Certificate): IssuedCertificate {
    return {
      chainPem: [`${leaf.toString('pem')}\n`, ...this.signer.intermediatesPem, this.signer.rootPem],
      notAfter: leaf.notAfter,
      serialNumber: leaf.serialNumber,
    };
  }
}

function oneLine(subject: string): string {
  return subject.replace(/\n/g, ', ') || '(empty subject)';
}

function parseCsr(pem: string): x509.Pkcs10CertificateRequest {
  if (typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
    throw new SecurityError('CSR_INVALID', 'csr: expected a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)');
  }
  try {
    return new x509.Pkcs10CertificateRequest(pem);
  } catch (err) {
    throw new SecurityError('CSR_INVALID', `csr: does not parse: ${(err as Error).message}`);
  }
}

/** RSA of at least 2048 bits, or EC P-256 / P-384. */
function checkPublicKey(key: x509.PublicKey): void {
  let k: crypto.KeyObject;
  try {
    k = crypto.createPublicKey({ key: Buffer.from(key.rawData), format: 'der', type: 'spki' });
  } catch (err) {
    throw new SecurityError('CSR_INVALID', `csr: unsupported public key: ${(err as Error).message}`);
  }
  const d = k.asymmetricKeyDetails ?? {};
  if (k.asymmetricKeyType === 'rsa') {
    if ((d.modulusLength ?? 0) < RSA_KEY_BITS) throw new SecurityError('CSR_INVALID', `csr: RSA key of ${d.modulusLength} bits; at least ${RSA_KEY_BITS} are required`);
    return;
  }
  if (k.asymmetricKeyType === 'ec' && (d.namedCurve === 'prime256v1' || d.namedCurve === 'secp384r1')) return;
  throw new SecurityError('CSR_INVALID', `csr: unsupported key ${k.asymmetricKeyType ?? 'unknown'}${d.namedCurve ? ` (${d.namedCurve})` : ''}; RSA 2048+ or ECDSA P-256/P-384 are accepted`);
}

/** The DNS/IP names of the control plane's TLS port: istiod's Service name and the listen address. */
export function servingNames(listenAddress: string): string[] {
  const names = ['istiod.istio-system.svc'];
  if (listenAddress === '0.0.0.0' || listenAddress === '::') names.push('localhost', '127.0.0.1', '::1');
  else if (net.isIP(listenAddress) || listenAddress) names.push(listenAddress);
  return [...new Set(names)];
}
