/**
 * Envoy's TLS transport socket messages (extensions.transport_sockets.tls.v3) parsed once per CDS
 * or LDS update into plain config: CommonTlsContext, UpstreamTlsContext, DownstreamTlsContext.
 * Every field this proxy does not implement is refused by name (NACK), so a config that asks for
 * a TLS behaviour is never served with another. Certificates come inline, from files (read here,
 * so an unreadable file is a NACK) or by SDS name (SecretRef; resolved by the TLS contexts).
 */
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { fail } from '../core/errors.js';
import { compileStringMatcher, type StringPredicate } from '../core/string-matcher.js';
import type { SecretRef, SecretValue } from '../secret/secret-types.js';

/** Istio's config source for the agent's secrets: the `sds-grpc` bootstrap cluster. */
export const AGENT_SDS_CLUSTER = 'sds-grpc';

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export type SanType = 'DNS' | 'URI' | 'IP_ADDRESS' | 'EMAIL';

export interface SanMatcher {
  /** undefined: any SAN type (match_subject_alt_names) */
  type: SanType | undefined;
  test: StringPredicate;
  /** the matcher as configured, for messages */
  text: string;
}

export interface CertificateSource {
  inline: { certChain: string; privateKey: string } | undefined;
  sds: SecretRef | undefined;
}

export interface ValidationConfig {
  /** trusted CA PEM from the static validation context */
  trustedCa: string | undefined;
  crl: string | undefined;
  /** the SDS validation context (its trusted CA replaces the static one) */
  sds: SecretRef | undefined;
  sanMatchers: SanMatcher[];
  /** verify_certificate_spki: base64 SHA-256 of the SubjectPublicKeyInfo */
  spkiPins: string[];
  /** verify_certificate_hash: hex SHA-256 of the DER certificate (colons and case ignored) */
  certHashes: string[];
}

export interface CommonTlsConfig {
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
  /** OpenSSL cipher list (cipher_suites); undefined = node's default list */
  ciphers: string | undefined;
  ecdhCurve: string | undefined;
  certificates: CertificateSource[];
  validation: ValidationConfig | undefined;
  alpn: string[];
}

export interface UpstreamTlsConfig {
  common: CommonTlsConfig;
  sni: string | undefined;
  /** TLS session resumption: sessions kept per host (Envoy max_session_keys, default 1; 0 = none) */
  maxSessionKeys: number;
}

export interface DownstreamTlsConfig {
  common: CommonTlsConfig;
  requireClientCertificate: boolean;
  requireSni: boolean;
  /** session_timeout in seconds; undefined = OpenSSL's default */
  sessionTimeoutS: number | undefined;
  /** disable_stateless_session_resumption: no session tickets */
  noTickets: boolean;
}

/** Envoy's defaults: TLS 1.2 to 1.3 on both sides (Istio's meshMTLS default too). */
const DEFAULT_MIN: TlsVersion = 'TLSv1.2';
const DEFAULT_MAX: TlsVersion = 'TLSv1.3';

const VERSIONS: Record<string, TlsVersion | undefined> = {
  TLS_AUTO: undefined,
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};
const VERSION_ORDER: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

type Obj = Record<string, any>;

/** Refuses (NACK) any field of `o` not in `known`: the proxy never ignores a TLS setting. */
export function onlyKnown(o: Obj | undefined, known: readonly string[], where: string): void {
  if (!o) return;
  for (const k of Object.keys(o)) {
    if (k === '@type' || known.includes(k)) continue;
    fail(`${where}.${k}: not implemented by this proxy`);
  }
}

/** envoy.config.core.v3.DataSource as text (PEM): filename (read now), inline_string, inline_bytes. */
export function readDataSource(ds: Obj | undefined, where: string): string | undefined {
  if (!ds) return undefined;
  onlyKnown(ds, ['filename', 'inline_string', 'inline_bytes', 'environment_variable'], where);
  if (ds.filename !== undefined) {
    try {
      return fs.readFileSync(String(ds.filename), 'utf8');
    } catch (err) {
      fail(`${where}.filename: cannot read ${ds.filename}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (ds.inline_string !== undefined) return String(ds.inline_string);
  // bytes fields decode as base64 strings (DECODE_OPTIONS); builders may pass a Buffer
  if (ds.inline_bytes !== undefined) return Buffer.isBuffer(ds.inline_bytes) ? ds.inline_bytes.toString('utf8') : Buffer.from(String(ds.inline_bytes), 'base64').toString('utf8');
  if (ds.environment_variable !== undefined) {
    const v = process.env[String(ds.environment_variable)];
    if (v === undefined) fail(`${where}.environment_variable: ${ds.environment_variable} is not set`);
    return v;
  }
  fail(`${where}: empty data source`);
}

/**
 * SdsSecretConfig -> SecretRef. Two config sources are understood: ADS (`{ads: {}}`, named
 * credentials from the control plane) and Istio's agent (`api_config_source` with a gRPC service
 * on the `sds-grpc` cluster), which this proxy serves itself. Anything else is a NACK.
 */
export function parseSdsSecretConfig(c: Obj, where: string): SecretRef {
  onlyKnown(c, ['name', 'sds_config'], where);
  const name = String(c.name ?? '');
  if (!name) fail(`${where}.name: required`);
  const src = c.sds_config as Obj | undefined;
  if (!src) fail(`${where}.sds_config: required (inline secrets by name are not supported)`);
  onlyKnown(src, ['ads', 'api_config_source', 'initial_fetch_timeout', 'resource_api_version'], `${where}.sds_config`);
  if (src.ads !== undefined) return { name, source: 'ads' };
  const api = src.api_config_source as Obj | undefined;
  if (api) {
    onlyKnown(api, ['api_type', 'grpc_services', 'transport_api_version', 'set_node_on_first_message_only', 'refresh_delay', 'request_timeout'], `${where}.sds_config.api_config_source`);
    const services = (api.grpc_services ?? []) as Obj[];
    const cluster = services[0]?.envoy_grpc?.cluster_name;
    if (api.api_type === 'GRPC' && services.length === 1 && cluster === AGENT_SDS_CLUSTER) return { name, source: 'agent' };
    fail(`${where}.sds_config.api_config_source: only a gRPC source on cluster ${AGENT_SDS_CLUSTER} (the proxy's own agent) or ads is supported`);
  }
  fail(`${where}.sds_config: only ads or the ${AGENT_SDS_CLUSTER} agent source is supported`);
}

function version(v: unknown, dflt: TlsVersion, where: string): TlsVersion {
  if (v === undefined) return dflt;
  const s = String(v);
  if (!(s in VERSIONS)) fail(`${where}: unknown TLS version ${s}`);
  return VERSIONS[s] ?? dflt;
}

/** BoringSSL's equal-preference groups `[A|B]` have no OpenSSL form: flattened in order. */
function cipherList(suites: string[], where: string): string {
  const flat = suites.flatMap((s) => s.replace(/^\[|\]$/g, '').split('|')).map((s) => s.trim()).filter(Boolean);
  const list = flat.join(':');
  try {
    tls.createSecureContext({ ciphers: list });
  } catch (err) {
    fail(`${where}: ${(err as Error).message} (${list})`);
  }
  return list;
}

const SAN_TYPES: Record<string, SanType | undefined> = { DNS: 'DNS', URI: 'URI', IP_ADDRESS: 'IP_ADDRESS', EMAIL: 'EMAIL' };

function sanMatcher(m: Obj, type: SanType | undefined, where: string): SanMatcher {
  let test: StringPredicate;
  try {
    test = compileStringMatcher(m);
  } catch (err) {
    fail(`${where}: ${(err as Error).message}`);
  }
  return { type, test, text: JSON.stringify(m) };
}

function parseValidation(v: Obj, where: string): Omit<ValidationConfig, 'sds'> {
  onlyKnown(v, ['trusted_ca', 'match_typed_subject_alt_names', 'match_subject_alt_names', 'verify_certificate_spki', 'verify_certificate_hash', 'crl', 'trust_chain_verification'], where);
  if (v.trust_chain_verification !== undefined && v.trust_chain_verification !== 'VERIFY_TRUST_CHAIN') fail(`${where}.trust_chain_verification: only VERIFY_TRUST_CHAIN is supported`);
  const sanMatchers: SanMatcher[] = [];
  ((v.match_typed_subject_alt_names ?? []) as Obj[]).forEach((t, i) => {
    const w = `${where}.match_typed_subject_alt_names[${i}]`;
    onlyKnown(t, ['san_type', 'matcher'], w);
    const type = SAN_TYPES[String(t.san_type ?? '')];
    if (!type) fail(`${w}.san_type: ${t.san_type ?? 'SAN_TYPE_UNSPECIFIED'} is not supported (DNS, URI, IP_ADDRESS, EMAIL)`);
    if (!t.matcher) fail(`${w}.matcher: required`);
    sanMatchers.push(sanMatcher(t.matcher, type, `${w}.matcher`));
  });
  ((v.match_subject_alt_names ?? []) as Obj[]).forEach((m, i) => sanMatchers.push(sanMatcher(m, undefined, `${where}.match_subject_alt_names[${i}]`)));
  return {
    trustedCa: readDataSource(v.trusted_ca, `${where}.trusted_ca`),
    crl: readDataSource(v.crl, `${where}.crl`),
    sanMatchers,
    spkiPins: ((v.verify_certificate_spki ?? []) as string[]).map(String),
    certHashes: ((v.verify_certificate_hash ?? []) as string[]).map((h) => String(h).replace(/:/g, '').toLowerCase()),
  };
}

export function parseCommonTlsContext(c: Obj | undefined, where: string): CommonTlsConfig {
  const ctx = c ?? {};
  onlyKnown(
    ctx,
    ['tls_params', 'tls_certificates', 'tls_certificate_sds_secret_configs', 'validation_context', 'validation_context_sds_secret_config', 'combined_validation_context', 'alpn_protocols'],
    where,
  );
  const p = (ctx.tls_params ?? {}) as Obj;
  onlyKnown(p, ['tls_minimum_protocol_version', 'tls_maximum_protocol_version', 'cipher_suites', 'ecdh_curves'], `${where}.tls_params`);
  const minVersion = version(p.tls_minimum_protocol_version, DEFAULT_MIN, `${where}.tls_params.tls_minimum_protocol_version`);
  const maxVersion = version(p.tls_maximum_protocol_version, DEFAULT_MAX, `${where}.tls_params.tls_maximum_protocol_version`);
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) fail(`${where}.tls_params: minimum version ${minVersion} is above maximum ${maxVersion}`);
  const suites = (p.cipher_suites ?? []) as string[];
  const curves = (p.ecdh_curves ?? []) as string[];
  const certificates: CertificateSource[] = [];
  ((ctx.tls_certificates ?? []) as Obj[]).forEach((t, i) => {
    const w = `${where}.tls_certificates[${i}]`;
    onlyKnown(t, ['certificate_chain', 'private_key'], w);
    const certChain = readDataSource(t.certificate_chain, `${w}.certificate_chain`);
    const privateKey = readDataSource(t.private_key, `${w}.private_key`);
    if (!certChain || !privateKey) fail(`${w}: certificate_chain and private_key are both required`);
    try {
      tls.createSecureContext({ cert: certChain, key: privateKey });
    } catch (err) {
      fail(`${w}: certificate and key do not load: ${(err as Error).message}`);
    }
    certificates.push({ inline: { certChain, privateKey }, sds: undefined });
  });
  ((ctx.tls_certificate_sds_secret_configs ?? []) as Obj[]).forEach((s, i) => {
    certificates.push({ inline: undefined, sds: parseSdsSecretConfig(s, `${where}.tls_certificate_sds_secret_configs[${i}]`) });
  });
  if (certificates.length > 1) fail(`${where}: more than one certificate is not supported (got ${certificates.length})`);
  let validation: ValidationConfig | undefined;
  const setValidation = (v: Obj | undefined, sds: Obj | undefined, w: string): void => {
    const base = v ? parseValidation(v, `${w}`) : { trustedCa: undefined, crl: undefined, sanMatchers: [], spkiPins: [], certHashes: [] };
    validation = { ...base, sds: sds ? parseSdsSecretConfig(sds, `${where}.${sds === ctx.validation_context_sds_secret_config ? 'validation_context_sds_secret_config' : 'combined_validation_context.validation_context_sds_secret_config'}`) : undefined };
  };
  const kinds = [ctx.validation_context, ctx.validation_context_sds_secret_config, ctx.combined_validation_context].filter((x) => x !== undefined).length;
  if (kinds > 1) fail(`${where}: only one of validation_context, validation_context_sds_secret_config, combined_validation_context`);
  if (ctx.validation_context) setValidation(ctx.validation_context, undefined, `${where}.validation_context`);
  else if (ctx.validation_context_sds_secret_config) setValidation(undefined, ctx.validation_context_sds_secret_config, where);
  else if (ctx.combined_validation_context) {
    const cv = ctx.combined_validation_context as Obj;
    onlyKnown(cv, ['default_validation_context', 'validation_context_sds_secret_config'], `${where}.combined_validation_context`);
    if (!cv.validation_context_sds_secret_config) fail(`${where}.combined_validation_context.validation_context_sds_secret_config: required`);
    setValidation(cv.default_validation_context, cv.validation_context_sds_secret_config, `${where}.combined_validation_context.default_validation_context`);
  }
  const val = validation as ValidationConfig | undefined;
  if (val && !val.trustedCa && !val.sds && (val.sanMatchers.length > 0 || val.spkiPins.length > 0 || val.certHashes.length > 0)) {
    // Envoy: SAN and pin checks run on a verified chain only
    fail(`${where}: certificate checks (SAN, SPKI, hash) need a trusted CA`);
  }
  if (val?.trustedCa) {
    try {
      tls.createSecureContext({ ca: val.trustedCa, ...(val.crl ? { crl: val.crl } : {}) });
    } catch (err) {
      fail(`${where}: trusted CA does not load: ${(err as Error).message}`);
    }
  }
  return {
    minVersion,
    maxVersion,
    ciphers: suites.length ? cipherList(suites, `${where}.tls_params.cipher_suites`) : undefined,
    ecdhCurve: curves.length ? curves.join(':') : undefined,
    certificates,
    validation: val,
    alpn: ((ctx.alpn_protocols ?? []) as string[]).map(String),
  };
}

export function parseUpstreamTlsContext(c: Obj, where: string): UpstreamTlsConfig {
  onlyKnown(c, ['common_tls_context', 'sni', 'max_session_keys', 'allow_renegotiation'], where);
  if (c.allow_renegotiation === true) fail(`${where}.allow_renegotiation: not implemented by this proxy`);
  const mk = c.max_session_keys;
  return {
    common: parseCommonTlsContext(c.common_tls_context, `${where}.common_tls_context`),
    sni: c.sni ? String(c.sni) : undefined,
    maxSessionKeys: mk === undefined ? 1 : Number(typeof mk === 'object' ? mk.value ?? 0 : mk),
  };
}

export function parseDownstreamTlsContext(c: Obj, where: string): DownstreamTlsConfig {
  onlyKnown(c, ['common_tls_context', 'require_client_certificate', 'require_sni', 'session_timeout', 'disable_stateless_session_resumption'], where);
  const common = parseCommonTlsContext(c.common_tls_context, `${where}.common_tls_context`);
  if (common.certificates.length === 0) fail(`${where}.common_tls_context: a server needs a certificate (tls_certificates or tls_certificate_sds_secret_configs)`);
  const req = c.require_client_certificate;
  const requireClientCertificate = (typeof req === 'object' ? req?.value : req) === true;
  if (requireClientCertificate && !common.validation) fail(`${where}.require_client_certificate: needs a validation context (trusted CA) to check client certificates against`);
  const sni = c.require_sni;
  const st = c.session_timeout as { seconds?: number } | undefined;
  return {
    common,
    requireClientCertificate,
    requireSni: (typeof sni === 'object' ? sni?.value : sni) === true,
    sessionTimeoutS: st ? Number(st.seconds ?? 0) : undefined,
    noTickets: c.disable_stateless_session_resumption === true,
  };
}

/**
 * An SDS resource (extensions.transport_sockets.tls.v3.Secret) from ADS: a tls_certificate
 * (chain and key, which must load together) or a validation_context (trusted CA, CRL). Anything
 * else is a NACK.
 */
export function parseSdsSecret(s: Obj): SecretValue {
  const name = String(s.name ?? '');
  const where = `secret ${name}`;
  if (!name) fail('secret without name');
  onlyKnown(s, ['name', 'tls_certificate', 'validation_context'], where);
  if (s.tls_certificate) {
    const t = s.tls_certificate as Obj;
    onlyKnown(t, ['certificate_chain', 'private_key'], `${where}.tls_certificate`);
    const certChain = readDataSource(t.certificate_chain, `${where}.tls_certificate.certificate_chain`);
    const privateKey = readDataSource(t.private_key, `${where}.tls_certificate.private_key`);
    if (!certChain || !privateKey) fail(`${where}.tls_certificate: certificate_chain and private_key are both required`);
    try {
      tls.createSecureContext({ cert: certChain, key: privateKey });
    } catch (err) {
      fail(`${where}.tls_certificate: certificate and key do not load: ${(err as Error).message}`);
    }
    return { kind: 'tls_certificate', certChain, privateKey };
  }
  if (s.validation_context) {
    const v = s.validation_context as Obj;
    onlyKnown(v, ['trusted_ca', 'crl'], `${where}.validation_context`);
    const trustedCa = readDataSource(v.trusted_ca, `${where}.validation_context.trusted_ca`);
    if (!trustedCa) fail(`${where}.validation_context.trusted_ca: required`);
    const crl = readDataSource(v.crl, `${where}.validation_context.crl`);
    try {
      tls.createSecureContext({ ca: trustedCa, ...(crl ? { crl } : {}) });
    } catch (err) {
      fail(`${where}.validation_context: trusted CA does not load: ${(err as Error).message}`);
    }
    return { kind: 'validation_context', trustedCa, crl };
  }
  fail(`${where}: neither tls_certificate nor validation_context`);
}
