/**
 * The control plane's own TLS identity for its secure port (istiod's DNS certificate): issued by
 * the CA for istiod's Service name and the listen address, renewed at half its lifetime while
 * running, handed to grpc-js as a CertificateProvider so new connections get the new
 * certificate without a restart. The CA bundle part lets clients present workload
 * certificates (requested, not required).
 */
import type { experimental } from '@grpc/grpc-js';
import type { CertificateAuthority, ServingCertificate } from '../ca/certificate-authority.js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export const SERVING_CERT_TTL_S = 30 * 24 * 3600;

export class ServingCertProvider implements CertificateProvider {
  private current: ServingCertificate | undefined;
  private caListeners = new Set<CaListener>();
  private identityListeners = new Set<IdentityListener>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly ca: CertificateAuthority,
    private readonly names: string[],
    private readonly log: (line: string) => void = () => {},
    private readonly ttlSeconds = SERVING_CERT_TTL_S,
  ) {}

  /** Issues the first certificate; later ones follow at half of each lifetime. */
  async start(): Promise<ServingCertificate> {
    await this.renew();
    return this.current!;
  }

  certificate(): ServingCertificate | undefined {
    return this.current;
  }

  private async renew(): Promise<void> {
    const cert = await this.ca.issueServing(this.names, this.ttlSeconds);
    if (this.stopped) return;
    this.current = cert;
    const identity = { certificate: Buffer.from(cert.chainPem.slice(0, -1).join('')), privateKey: Buffer.from(cert.keyPem) };
    for (const l of this.identityListeners) l(identity);
    for (const l of this.caListeners) l({ caCertificate: Buffer.from(this.ca.rootCertPem()) });
    const lifetime = cert.notAfter.getTime() - Date.now();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.renew().catch((err) => {
        this.log(`CA: renewing the serving certificate failed: ${(err as Error).message}; retrying in 60 s`);
        this.timer = setTimeout(() => void this.renew().catch(() => {}), 60_000);
        this.timer.unref();
      });
    }, Math.max(1000, Math.min(lifetime / 2, 2 ** 31 - 1)));
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  // grpc-js registers its watcher only after adding these listeners, so the current value is
  // delivered on the next tick, not synchronously (it would reach no watcher)
  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    queueMicrotask(() => {
      if (this.caListeners.has(l)) l({ caCertificate: Buffer.from(this.ca.rootCertPem()) });
    });
  }

  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }

  addIdentityCertificateListener(l: IdentityListener): void {
    this.identityListeners.add(l);
    queueMicrotask(() => {
      if (this.current && this.identityListeners.has(l)) l({ certificate: Buffer.from(this.current.chainPem.slice(0, -1).join('')), privateKey: Buffer.from(this.current.keyPem) });
    });
  }

  removeIdentityCertificateListener(l: IdentityListener): void {
    this.identityListeners.delete(l);
  }
}
