/**
 * The proxy's secret manager: every SDS secret a TLS context names, by source and name.
 * - agent (`sds-grpc` in Istio's bootstrap): `default` and `ROOTCA` come from the workload
 *   certificate agent (workload-certificate.ts), started when a context first asks for them;
 *   `file-cert:<chain>~<key>` and `file-root:<bundle>` are read from files (Istio's agent names).
 * - ads: named credentials (`kubernetes://...`, gateway credentialName) from the control plane
 *   over ADS (type envoy.extensions.transport_sockets.tls.v3.Secret): the names watched by active
 *   contexts are the SDS subscription, and each update replaces the values (state of the world).
 * A watcher hears of every change; TLS contexts rebuild for new handshakes only.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { secretKey, type SecretEntry, type SecretProvider, type SecretRef, type SecretValue } from './secret-types.js';
import type { WorkloadCertificate } from './workload-certificate.js';

export const AGENT_CERT = 'default';
export const AGENT_ROOT = 'ROOTCA';

/** At most this many secrets watched at once (each named by config); more are refused. */
const MAX_SECRETS = 4096;

export interface SecretManagerOptions {
  /** the ADS SDS subscription: the ADS names active contexts watch */
  setAdsNames(names: string[]): void;
  /** starts the workload certificate agent (undefined: the proxy has no CA configured) */
  startAgent?: (onCertificate: (cert: WorkloadCertificate) => void) => { stop(): void; current(): WorkloadCertificate | undefined };
  log(level: 'info' | 'warn', msg: string): void;
}

/** What admin (/certs, config_dump, proxy-config secret) shows of one secret. */
export interface SecretStatus {
  ref: SecretRef;
  entry: SecretEntry | undefined;
  /** watched by an active TLS context */
  active: boolean;
}

export class SecretManager implements SecretProvider {
  private readonly entries = new Map<string, SecretEntry>();
  private readonly watchers = new Map<string, { ref: SecretRef; callbacks: Set<() => void> }>();
  private agent: { stop(): void; current(): WorkloadCertificate | undefined } | undefined;
  private warnedNoAgent = false;
  /** the last ADS names sent (sorted, joined) */
  private adsNames = '';
  /** overflow: watches refused because MAX_SECRETS were watched */
  overflow = 0;

  constructor(private readonly opts: SecretManagerOptions) {}

  get(ref: SecretRef): SecretEntry | undefined {
    return this.entries.get(secretKey(ref));
  }

  watch(ref: SecretRef, onChange: () => void): () => void {
    const key = secretKey(ref);
    let w = this.watchers.get(key);
    if (!w) {
      if (this.watchers.size >= MAX_SECRETS) {
        this.overflow++;
        this.opts.log('warn', `secret ${ref.name}: more than ${MAX_SECRETS} secrets watched; not requested`);
        return () => undefined;
      }
      this.watchers.set(key, (w = { ref, callbacks: new Set() }));
      this.request(ref);
    }
    const cb = (): void => onChange();
    w.callbacks.add(cb);
    return () => {
      const cur = this.watchers.get(key);
      if (!cur) return;
      cur.callbacks.delete(cb);
      if (cur.callbacks.size > 0) return;
      this.watchers.delete(key);
      if (ref.source === 'ads') {
        this.entries.delete(key);
        this.syncAdsNames();
      }
    };
  }

  private request(ref: SecretRef): void {
    if (ref.source === 'ads') return this.syncAdsNames();
    const name = ref.name;
    if (name === AGENT_CERT || name === AGENT_ROOT) return this.ensureAgent();
    if (name.startsWith('file-cert:') || name.startsWith('file-root:')) return this.readFiles(ref);
    this.opts.log('warn', `secret ${name}: the agent serves only ${AGENT_CERT}, ${AGENT_ROOT}, file-cert: and file-root: names`);
  }

  private syncAdsNames(): void {
    const names = [...this.watchers.values()].filter((w) => w.ref.source === 'ads').map((w) => w.ref.name).sort();
    const joined = names.join('\n');
    if (joined === this.adsNames) return;
    this.adsNames = joined;
    this.opts.setAdsNames(names);
  }

  private ensureAgent(): void {
    if (this.agent) return;
    if (!this.opts.startAgent) {
      if (!this.warnedNoAgent) {
        this.warnedNoAgent = true;
        this.opts.log('warn', `config asks for the workload certificate (SDS ${AGENT_CERT}/${AGENT_ROOT}) but this proxy has no CA configured (--root-cert, --ca-address, --token-file)`);
      }
      return;
    }
    this.agent = this.opts.startAgent((cert) => this.onWorkloadCertificate(cert));
  }

  /** The workload certificate in force (serial, dates), if the agent has one. */
  workloadCertificate(): WorkloadCertificate | undefined {
    return this.agent?.current();
  }

  close(): void {
    this.agent?.stop();
  }

  private onWorkloadCertificate(c: WorkloadCertificate): void {
    const version = c.notBefore.toISOString();
    this.set({ name: AGENT_CERT, source: 'agent' }, { kind: 'tls_certificate', certChain: c.certChain, privateKey: c.privateKey }, version);
    this.set({ name: AGENT_ROOT, source: 'agent' }, { kind: 'validation_context', trustedCa: c.rootCert, crl: undefined }, version);
  }

  /** Istio's file-cert:<chain>~<key> and file-root:<bundle> (DestinationRule/Gateway file paths). */
  private readFiles(ref: SecretRef): void {
    const name = ref.name;
    try {
      if (name.startsWith('file-root:')) {
        const ca = fs.readFileSync(name.slice('file-root:'.length), 'utf8');
        this.set(ref, { kind: 'validation_context', trustedCa: ca, crl: undefined }, 'file');
      } else {
        const [chain, key] = name.slice('file-cert:'.length).split('~');
        if (!chain || !key) throw new Error('expected file-cert:<chain file>~<key file>');
        this.set(ref, { kind: 'tls_certificate', certChain: fs.readFileSync(chain, 'utf8'), privateKey: fs.readFileSync(key, 'utf8') }, 'file');
      }
    } catch (err) {
      this.opts.log('warn', `secret ${name}: ${(err as Error).message}`);
    }
  }

  /**
   * An accepted SDS (ADS) state: the values of the watched ADS names. Names missing from it are
   * removed (their contexts wait again, as Envoy's do); values already validated by the caller.
   */
  applyAds(values: Map<string, SecretValue>, version: string): void {
    for (const w of this.watchers.values()) {
      if (w.ref.source !== 'ads') continue;
      const v = values.get(w.ref.name);
      if (v) this.set(w.ref, v, version);
      else if (this.entries.delete(secretKey(w.ref))) this.notify(secretKey(w.ref));
    }
  }

  private set(ref: SecretRef, value: SecretValue, version: string): void {
    const key = secretKey(ref);
    const old = this.entries.get(key);
    if (old && JSON.stringify(old.value) === JSON.stringify(value)) return;
    this.entries.set(key, { value, version, lastUpdated: new Date() });
    this.notify(key);
  }

  private notify(key: string): void {
    for (const cb of [...(this.watchers.get(key)?.callbacks ?? [])]) {
      try {
        cb();
      } catch (err) {
        this.opts.log('warn', `secret watcher failed: ${(err as Error).message}`);
      }
    }
  }

  /** Every secret known or watched (admin). */
  list(): SecretStatus[] {
    const out = new Map<string, SecretStatus>();
    for (const [k, w] of this.watchers) out.set(k, { ref: w.ref, entry: this.entries.get(k), active: true });
    for (const [k, e] of this.entries) {
      if (out.has(k)) continue;
      const i = k.indexOf(':');
      out.set(k, { ref: { source: k.slice(0, i) as SecretRef['source'], name: k.slice(i + 1) }, entry: e, active: false });
    }
    return [...out.values()].sort((a, b) => a.ref.name.localeCompare(b.ref.name));
  }
}

/** Facts about a PEM certificate (the first of a chain) for admin output. */
export interface CertFacts {
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  subjectAltNames: string[];
  subject: string;
  issuer: string;
}

export function certFacts(pem: string): CertFacts[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => {
    const c = new crypto.X509Certificate(b);
    return {
      serialNumber: c.serialNumber.toLowerCase(),
      notBefore: new Date(c.validFrom),
      notAfter: new Date(c.validTo),
      subjectAltNames: (c.subjectAltName ?? '').split(', ').filter(Boolean),
      subject: (c.subject ?? '').replace(/\n/g, ','),
      issuer: (c.issuer ?? '').replace(/\n/g, ','),
    };
  });
}
