/**
 * The agent part of the proxy (pilot-agent's SecretManager): the workload certificate behind the
 * SDS names `default` (key and chain) and `ROOTCA` (trust bundle). A new key and CSR, signed by the
 * control plane's CA; the next rotation at Istio's time: expiry - (0.5 ± 0.01 jitter) x lifetime,
 * i.e. about half-way. A failed request is retried with backoff while the current certificate
 * keeps serving. Each new certificate is handed to the secret manager, whose TLS contexts use it
 * for new handshakes only, so live connections are never dropped.
 */
import * as crypto from 'node:crypto';
import type { CaClient } from './ca-client.js';
import { makeKeyAndCsr, type KeyAlgorithm } from './csr.js';

export interface WorkloadCertificate {
  /** leaf and intermediates, PEM (the root is not sent to peers) */
  certChain: string;
  privateKey: string;
  /** trust bundle, PEM: the CA's root (and the --root-cert file's roots, for root rotation) */
  rootCert: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

export interface WorkloadCertificateOptions {
  ca: CaClient;
  spiffeId: string;
  algorithm: KeyAlgorithm;
  /** requested lifetime (s); Istio's agent asks for 24h (SECRET_TTL) */
  ttlSeconds: number;
  /** extra trust anchors (the --root-cert file's content), read at each renewal */
  extraRoots?: () => string | undefined;
  onCertificate(cert: WorkloadCertificate): void;
  log(level: 'info' | 'warn', msg: string): void;
  /** SECRET_GRACE_PERIOD_RATIO and its jitter (Istio: 0.5, 0.01) */
  graceRatio?: number;
  graceJitter?: number;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)?.map((c) => (c.endsWith('\n') ? c : `${c}\n`)) ?? [];
}

/**
 * Istio's rotateTime: when to renew a certificate obtained at `createdAt` and valid until notAfter
 * (ms from now). The lifetime counts from when the agent got the certificate (Istio's
 * SecretItem.CreatedTime), not from NotBefore: CAs backdate NotBefore for clock skew (2 min for
 * istiod and Clew's CA), which with a short TTL would put the rotation time in the past and make
 * the agent renew in a loop.
 */
export function rotationDelayMs(createdAt: Date, notAfter: Date, now: number, ratio = 0.5, jitter = 0.01, random = Math.random): number {
  const lifetime = notAfter.getTime() - createdAt.getTime();
  const r = Math.min(1, Math.max(0, ratio + (random() * 2 - 1) * jitter));
  return Math.max(0, notAfter.getTime() - r * lifetime - now);
}

export class WorkloadCertificateAgent {
  current: WorkloadCertificate | undefined;
  /** certificates obtained so far (rotations + 1) */
  issued = 0;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private stopped = false;
  private inFlight = false;

  constructor(private readonly opts: WorkloadCertificateOptions) {}

  start(): void {
    if (this.timer || this.inFlight || this.current) return;
    void this.renew();
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    // node timers hold at most 2^31-1 ms: a longer wait is taken in steps
    const step = Math.min(ms, 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (step < ms) this.schedule(ms - step);
      else void this.renew();
    }, step);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    try {
      const { keyPem, csrPem } = await makeKeyAndCsr(this.opts.algorithm, this.opts.spiffeId);
      const chain = await this.opts.ca.createCertificate(csrPem, this.opts.ttlSeconds);
      if (this.stopped) return;
      const leaf = new crypto.X509Certificate(chain[0]);
      if (!leaf.checkPrivateKey(crypto.createPrivateKey(keyPem))) throw new Error('the signed certificate does not match our key');
      const roots = [chain[chain.length - 1], ...splitPem(this.opts.extraRoots?.() ?? '')].map((c) => (c.endsWith('\n') ? c : `${c}\n`));
      const cert: WorkloadCertificate = {
        certChain: chain.slice(0, -1).map((c) => (c.endsWith('\n') ? c : `${c}\n`)).join(''),
        privateKey: keyPem,
        rootCert: [...new Set(roots)].join(''),
        serialNumber: leaf.serialNumber.toLowerCase(),
        notBefore: new Date(leaf.validFrom),
        notAfter: new Date(leaf.validTo),
      };
      this.current = cert;
      this.issued++;
      this.retryMs = RETRY_MIN_MS;
      this.opts.onCertificate(cert);
      const delay = rotationDelayMs(new Date(), cert.notAfter, Date.now(), this.opts.graceRatio, this.opts.graceJitter);
      this.opts.log('info', `workload certificate serial ${cert.serialNumber} valid until ${cert.notAfter.toISOString()}; next rotation in ${Math.round(delay / 1000)} s`);
      this.schedule(delay);
    } catch (err) {
      if (this.stopped) return;
      // the current certificate (if any) keeps serving; retry with backoff, before it expires
      const wait = this.retryMs;
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
      this.opts.log('warn', `workload certificate request failed (${(err as Error).message}); retrying in ${wait} ms`);
      this.schedule(wait);
    } finally {
      this.inFlight = false;
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.opts.ca.close();
  }
}
