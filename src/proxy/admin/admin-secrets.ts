/**
 * Secrets in the admin API, Envoy's shapes: the SecretsConfigDump of /config_dump (private keys
 * never shown: `[redacted]`, as Envoy does) and /certs (every TLS context's CA and certificate
 * chain: serial, SANs, validity, days until expiration).
 */
import { SECRET_TYPE } from '../../xds/type-urls.js';
import { certFacts, type CertFacts, type SecretManager } from '../secret/secret-manager.js';
import type { SecretValue } from '../secret/secret-types.js';
import type { TlsContext } from '../transport/tls-context.js';
import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { ListenerManager } from '../listener/listener-manager.js';
import { allChains } from '../listener/listener-config.js';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

function b64(pem: string): string {
  return Buffer.from(pem).toString('base64');
}

function secretJson(name: string, v: SecretValue): Record<string, unknown> {
  if (v.kind === 'tls_certificate') {
    return { '@type': SECRET_TYPE, name, tls_certificate: { certificate_chain: { inline_bytes: b64(v.certChain) }, private_key: { inline_string: '[redacted]' } } };
  }
  return { '@type': SECRET_TYPE, name, validation_context: { trusted_ca: { inline_bytes: b64(v.trustedCa) }, ...(v.crl ? { crl: { inline_bytes: b64(v.crl) } } : {}) } };
}

export function secretsConfigDump(secrets: SecretManager): Record<string, unknown> {
  const active: unknown[] = [];
  const warming: unknown[] = [];
  for (const s of secrets.list()) {
    if (s.entry) {
      active.push({ name: s.ref.name, version_info: s.entry.version, last_updated: s.entry.lastUpdated.toISOString(), secret: secretJson(s.ref.name, s.entry.value) });
    } else if (s.active) {
      warming.push({ name: s.ref.name, secret: { '@type': SECRET_TYPE, name: s.ref.name } });
    }
  }
  return { '@type': `${ADMIN}SecretsConfigDump`, dynamic_active_secrets: active, dynamic_warming_secrets: warming };
}

function details(facts: CertFacts[], path: string): unknown[] {
  const now = Date.now();
  return facts.map((f) => ({
    path,
    serial_number: f.serialNumber,
    subject_alt_names: f.subjectAltNames.map((s) => {
      const i = s.indexOf(':');
      const kind = s.slice(0, i);
      const value = s.slice(i + 1);
      return kind === 'URI' ? { uri: value } : kind === 'DNS' ? { dns: value } : kind === 'IP Address' ? { ip_address: value } : { [kind.toLowerCase()]: value };
    }),
    days_until_expiration: String(Math.max(0, Math.floor((f.notAfter.getTime() - now) / 86_400_000))),
    valid_from: f.notBefore.toISOString(),
    expiration_time: f.notAfter.toISOString(),
  }));
}

function contextCerts(ctx: TlsContext): unknown | undefined {
  const o = ctx.options();
  if (typeof o === 'string') return undefined;
  const cert = ctx.common.certificates[0];
  const val = ctx.common.validation;
  const certPath = cert?.sds ? `sds:${cert.sds.name}` : '<inline>';
  const caPath = val?.sds ? `sds:${val.sds.name}` : '<inline>';
  return {
    ca_cert: typeof o.ca === 'string' ? details(certFacts(o.ca), caPath) : [],
    cert_chain: typeof o.cert === 'string' ? details(certFacts(o.cert), certPath) : [],
  };
}

/** /certs: one entry per TLS context in use (clusters' transports, listeners' chains). */
export function certsJson(clusters: ClusterManager, listeners: ListenerManager): unknown {
  const out: unknown[] = [];
  const seen = new Set<TlsContext>();
  const add = (ctx: TlsContext | undefined): void => {
    if (!ctx || seen.has(ctx)) return;
    seen.add(ctx);
    const c = contextCerts(ctx);
    if (c) out.push(c);
  };
  for (const c of clusters.clusters.values()) for (const t of c.transports.all()) add((t as { context?: TlsContext }).context);
  for (const l of listeners.listeners.values()) for (const ch of allChains(l.config)) add(ch.tls?.context);
  return { certificates: out };
}
