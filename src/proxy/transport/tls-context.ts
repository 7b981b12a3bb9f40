/**
 * A TLS context built from parsed config and the secrets it names: node SecureContext options
 * (and a SecureContext) made when first needed and again after any of its secrets changed (a
 * rotation). Connections made after a change use the new context; live ones keep the one they
 * were made with, so a rotation never drops a connection.
 */
import { constants as cryptoConstants } from 'node:crypto';
import * as tls from 'node:tls';
import { secretKey, type SecretProvider, type SecretRef } from '../secret/secret-types.js';
import type { CommonTlsConfig } from './tls-config.js';

export interface TlsContextOptions {
  /** server side: session timeout (s) and no tickets */
  sessionTimeoutS?: number;
  noTickets?: boolean;
}

export class TlsContext {
  private opts: tls.SecureContextOptions | undefined;
  private ctx: tls.SecureContext | undefined;
  private error: string | undefined;
  private readonly unwatch: Array<() => void> = [];
  private watching = false;
  /** bumped at every rebuild: sessions and servers made for an older context are replaced */
  generation = 0;
  /** the trusted CA in force (static, or the SDS validation context's) */
  trustedCa: string | undefined;

  constructor(
    readonly common: CommonTlsConfig,
    private readonly secrets: SecretProvider,
    private readonly extra: TlsContextOptions = {},
    private readonly onChange?: () => void,
  ) {}

  /** Starts watching (and so requesting) the SDS secrets; idempotent. */
  start(): void {
    if (this.watching) return;
    this.watching = true;
    for (const ref of this.refs()) {
      this.unwatch.push(
        this.secrets.watch(ref, () => {
          this.opts = undefined;
          this.ctx = undefined;
          this.error = undefined;
          this.onChange?.();
        }),
      );
    }
  }

  /** the SDS secrets this context needs */
  refs(): SecretRef[] {
    const out: SecretRef[] = [];
    for (const c of this.common.certificates) if (c.sds) out.push(c.sds);
    if (this.common.validation?.sds) out.push(this.common.validation.sds);
    return out;
  }

  /** The names of secrets that have not arrived yet (empty: the context can be built). */
  missing(): string[] {
    return this.refs()
      .filter((r) => this.secrets.get(r) === undefined)
      .map((r) => secretKey(r));
  }

  /** Whether a trusted CA (static or SDS) checks the peer's chain. */
  get verifiesPeer(): boolean {
    return !!this.common.validation;
  }

  /** SecureContext options now, or a reason why there are none (a secret missing or not loadable). */
  options(): tls.SecureContextOptions | string {
    if (this.opts) return this.opts;
    if (this.error) return this.error;
    const c = this.common;
    const o: tls.SecureContextOptions = { minVersion: c.minVersion, maxVersion: c.maxVersion };
    if (c.ciphers) o.ciphers = c.ciphers;
    if (c.ecdhCurve) o.ecdhCurve = c.ecdhCurve;
    if (this.extra.sessionTimeoutS !== undefined) o.sessionTimeout = this.extra.sessionTimeoutS;
    if (this.extra.noTickets) o.secureOptions = cryptoConstants.SSL_OP_NO_TICKET;
    const cert = c.certificates[0];
    if (cert?.inline) {
      o.cert = cert.inline.certChain;
      o.key = cert.inline.privateKey;
    } else if (cert?.sds) {
      const s = this.secrets.get(cert.sds)?.value;
      if (!s) return `secret ${cert.sds.name} not ready`;
      if (s.kind !== 'tls_certificate') return (this.error = `secret ${cert.sds.name} is not a tls_certificate`);
      o.cert = s.certChain;
      o.key = s.privateKey;
    }
    const v = c.validation;
    let trusted: string | undefined;
    if (v) {
      let ca = v.trustedCa;
      let crl = v.crl;
      if (v.sds) {
        const s = this.secrets.get(v.sds)?.value;
        if (!s) return `secret ${v.sds.name} not ready`;
        if (s.kind !== 'validation_context') return (this.error = `secret ${v.sds.name} is not a validation_context`);
        ca = s.trustedCa;
        crl = s.crl ?? crl;
      }
      if (ca) o.ca = trusted = ca;
      if (crl) o.crl = crl;
    }
    try {
      this.ctx = tls.createSecureContext(o);
    } catch (err) {
      return (this.error = `TLS context does not load: ${(err as Error).message}`);
    }
    this.trustedCa = trusted;
    this.generation++;
    return (this.opts = o);
  }

  /** The SecureContext now, or the reason why there is none. */
  current(): tls.SecureContext | string {
    const o = this.options();
    return typeof o === 'string' ? o : this.ctx!;
  }

  close(): void {
    for (const u of this.unwatch.splice(0)) u();
    this.watching = false;
  }
}
