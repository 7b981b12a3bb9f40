/**
 * envoy.filters.http.jwt_authn (Envoy's JwtAuthentication, the subset Istio's RequestAuthentication
 * produces): providers (issuer, audiences, keys inline or remote, token locations, forward,
 * forward_payload_header, payload_in_metadata, claim_to_headers, space-delimited claims) and
 * rules (path prefix → requirement: a provider, `requires_any` of providers, `allow_missing`,
 * `allow_missing_or_failed`). Signatures, expiry, not-before, issuer and audience are checked by
 * `jose`. A present but bad token is 401 with Envoy's messages and a `www-authenticate: Bearer`
 * header; a missing token passes when the requirement allows it (no payload, no principal).
 * The verified payload goes to dynamic metadata `envoy.filters.http.jwt_authn` under the
 * provider's `payload_in_metadata` name (Istio uses the issuer), for istio_authn and RBAC.
 * Anything else of the API is refused when parsed (NACK).
 *
 * Verified tokens are cached per provider by their raw string (jwt-cache.ts: bounded, honours
 * `exp`): a token seen again skips the signature check, the claim checks and the payload
 * normalization, and the filter continues at once. Counters `http.<stat_prefix>.jwt_authn.
 * {jwt_cache_hit,jwt_cache_miss}` (Envoy's names).
 */
import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { fail } from '../../core/errors.js';
import type { HeaderMap } from '../../core/header-map.js';
import type { FilterHeadersStatus, HttpFilter, HttpFilterCallbacks, HttpFilterConfig, HttpFilterFactory, HttpFilterParseContext } from '../../filter-api/http-filter.js';
import type { Counter } from '../../../stats/stats-store.js';
import { parseJwksSource } from './jwks-source.js';
import { VerifiedJwtCache, type VerifiedJwt } from './jwt-cache.js';

export const JWT_AUTHN_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';

const PROVIDER_FIELDS = new Set([
  'issuer', 'audiences', 'local_jwks', 'remote_jwks', 'forward', 'from_headers', 'from_params', 'from_cookies',
  'forward_payload_header', 'pad_forward_payload_header', 'payload_in_metadata', 'normalize_payload_in_metadata', 'claim_to_headers',
]);

interface Location {
  kind: 'header' | 'param' | 'cookie';
  name: string;
  prefix: string;
  /** the prefix lower-cased once (the match ignores case) */
  prefixLower: string;
}

interface Provider {
  name: string;
  issuer: string;
  audiences: string[];
  keys: JWTVerifyGetKey;
  forward: boolean;
  locations: Location[];
  payloadHeader: string | undefined;
  padPayloadHeader: boolean;
  metadataKey: string | undefined;
  spaceDelimited: Set<string>;
  claimHeaders: Array<{ header: string; claim: string }>;
  /** tokens this provider verified */
  verified: VerifiedJwtCache;
}

/** a requirement: providers that may satisfy it, and what a missing or failed token means */
interface Requirement {
  providers: Provider[];
  allowMissing: boolean;
  allowFailed: boolean;
}

interface Rule {
  prefix: string;
  req: Requirement;
}

function stderrLog(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} [warn] clew-proxy: ${msg}\n`);
}

function parseProvider(name: string, p: Record<string, any>, ctx: HttpFilterParseContext): Provider {
  const where = `jwt_authn providers[${name}]`;
  for (const k of Object.keys(p)) if (!PROVIDER_FIELDS.has(k) && p[k] !== undefined) fail(`${where}.${k} is not implemented by this proxy`);
  const locations: Location[] = [];
  for (const h of (p.from_headers ?? []) as Array<Record<string, any>>) {
    if (!h.name) fail(`${where}.from_headers: name is required`);
    const prefix = String(h.value_prefix ?? '');
    locations.push({ kind: 'header', name: String(h.name).toLowerCase(), prefix, prefixLower: prefix.toLowerCase() });
  }
  for (const q of (p.from_params ?? []) as string[]) locations.push({ kind: 'param', name: String(q), prefix: '', prefixLower: '' });
  for (const c of (p.from_cookies ?? []) as string[]) locations.push({ kind: 'cookie', name: String(c), prefix: '', prefixLower: '' });
  // Envoy's default: Authorization: Bearer, then the access_token query parameter
  if (locations.length === 0) locations.push({ kind: 'header', name: 'authorization', prefix: 'Bearer ', prefixLower: 'bearer ' }, { kind: 'param', name: 'access_token', prefix: '', prefixLower: '' });
  const norm = p.normalize_payload_in_metadata as Record<string, any> | undefined;
  for (const k of Object.keys(norm ?? {})) if (k !== 'space_delimited_claims') fail(`${where}.normalize_payload_in_metadata.${k} is not implemented by this proxy`);
  return {
    name,
    issuer: String(p.issuer ?? ''),
    audiences: ((p.audiences ?? []) as unknown[]).map(String),
    keys: parseJwksSource(p, where, ctx.shared, stderrLog),
    forward: p.forward === true,
    locations,
    payloadHeader: p.forward_payload_header ? String(p.forward_payload_header).toLowerCase() : undefined,
    padPayloadHeader: p.pad_forward_payload_header === true,
    metadataKey: p.payload_in_metadata ? String(p.payload_in_metadata) : undefined,
    spaceDelimited: new Set(((norm?.space_delimited_claims ?? []) as unknown[]).map(String)),
    claimHeaders: ((p.claim_to_headers ?? []) as Array<Record<string, any>>).map((c) => ({ header: String(c.header_name ?? '').toLowerCase(), claim: String(c.claim_name ?? '') })),
    verified: new VerifiedJwtCache(),
  };
}

function parseRequirement(r: Record<string, any> | undefined, providers: Map<string, Provider>, where: string): Requirement {
  if (!r || typeof r !== 'object') fail(`${where}: a requirement is required`);
  const out: Requirement = { providers: [], allowMissing: false, allowFailed: false };
  const one = (x: Record<string, any>, w: string, nested: boolean): void => {
    const keys = Object.keys(x).filter((k) => x[k] !== undefined);
    if (keys.length !== 1) fail(`${w}: exactly one requirement kind expected`);
    const k = keys[0];
    if (k === 'provider_name') {
      const p = providers.get(String(x.provider_name));
      if (!p) fail(`${w}.provider_name: no provider ${JSON.stringify(x.provider_name)}`);
      out.providers.push(p);
    } else if (k === 'allow_missing') out.allowMissing = true;
    else if (k === 'allow_missing_or_failed') out.allowFailed = out.allowMissing = true;
    else if (k === 'requires_any' && !nested) {
      const list = (x.requires_any.requirements ?? []) as Array<Record<string, any>>;
      if (list.length < 2) fail(`${w}.requires_any: at least two requirements`);
      list.forEach((y, i) => one(y, `${w}.requires_any.requirements[${i}]`, true));
    } else fail(`${w}.${k} is not implemented by this proxy`);
  };
  one(r, where, false);
  return out;
}

interface JwtCounters {
  cacheHit: Counter | undefined;
  cacheMiss: Counter | undefined;
}

export class JwtAuthnConfig implements HttpFilterConfig {
  constructor(readonly name: string, readonly rules: Rule[], readonly bypassCorsPreflight: boolean, readonly counters: JwtCounters = { cacheHit: undefined, cacheMiss: undefined }) {}
  create(): HttpFilter {
    return new JwtAuthnFilter(this);
  }
}

function pathOnly(p: string): string {
  const q = p.indexOf('?');
  return q < 0 ? p : p.slice(0, q);
}

/** the first rule whose prefix the path (without query) starts with */
function ruleFor(rules: Rule[], fullPath: string): Rule | undefined {
  const path = pathOnly(fullPath);
  for (let i = 0; i < rules.length; i++) if (path.startsWith(rules[i].prefix)) return rules[i];
  return undefined;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

interface Found {
  token: string;
  loc: Location;
}

/**
 * `v` starts with `lower` (a lower-cased prefix) ignoring case, as `v.slice(0, n).toLowerCase() ===
 * lower` decides, without the two strings per request: ASCII letters are folded by hand, and a
 * non-ASCII character in the window (whose lower case toLowerCase alone knows) takes that path.
 */
function startsWithLower(v: string, lower: string): boolean {
  const n = lower.length;
  if (v.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = v.charCodeAt(i);
    if (c > 127) return v.slice(0, n).toLowerCase() === lower;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) {
      // a non-ASCII character further on may still fold the window to a different length
      for (let j = i + 1; j < n; j++) if (v.charCodeAt(j) > 127) return v.slice(0, n).toLowerCase() === lower;
      return false;
    }
  }
  return true;
}

function extract(cb: HttpFilterCallbacks, providers: Provider[]): Found | undefined {
  for (const p of providers) {
    for (const loc of p.locations) {
      if (loc.kind === 'header') {
        const v = one(cb.headers[loc.name]);
        if (v === undefined) continue;
        if (loc.prefix && (v.length < loc.prefix.length || !startsWithLower(v, loc.prefixLower))) continue;
        const t = v.slice(loc.prefix.length).trim();
        if (t) return { token: t, loc };
      } else if (loc.kind === 'param') {
        const q = cb.path.indexOf('?');
        if (q < 0) continue;
        const t = new URLSearchParams(cb.path.slice(q + 1)).get(loc.name);
        if (t) return { token: t, loc };
      } else {
        const c = one(cb.headers.cookie);
        if (!c) continue;
        for (const part of c.split(';')) {
          const eq = part.indexOf('=');
          if (eq > 0 && part.slice(0, eq).trim() === loc.name) return { token: part.slice(eq + 1).trim(), loc };
        }
      }
    }
  }
  return undefined;
}

function failureMessage(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'Jwt is expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'Audiences in Jwt are not allowed';
    if (err.claim === 'nbf') return 'Jwt not yet valid';
    if (err.claim === 'iss') return 'Jwt issuer is not configured';
    return 'Jwt verification fails';
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "Jwks doesn't have key to match kid or alg from Jwt";
  if ((err as { code?: string })?.code === 'CLEW_JWKS_FETCH') return 'Jwks remote fetch is failed';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'Jwt verification fails';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections';
  return 'Jwt verification fails';
}

function b64url(s: string, pad: boolean): string {
  const b = Buffer.from(s).toString('base64url');
  return pad ? b + '='.repeat((4 - (b.length % 4)) % 4) : b;
}

/** the payload with Envoy's space-delimited claims split */
function normalized(payload: JWTPayload, p: Provider): Record<string, unknown> {
  const out: Record<string, unknown> = { ...payload };
  for (const c of ['scope', 'permission', ...p.spaceDelimited]) {
    const v = out[c];
    if (typeof v === 'string') out[c] = v.split(' ').filter(Boolean);
  }
  return out;
}

class JwtAuthnFilter implements HttpFilter {
  private destroyed = false;
  constructor(private readonly cfg: JwtAuthnConfig) {}

  decodeHeaders(cb: HttpFilterCallbacks): FilterHeadersStatus {
    if (this.cfg.bypassCorsPreflight && cb.method === 'OPTIONS' && cb.headers.origin !== undefined && cb.headers['access-control-request-method'] !== undefined) return 'continue';
    const rule = ruleFor(this.cfg.rules, cb.path);
    if (rule === undefined) return 'continue';
    const req = rule.req;
    const found = extract(cb, req.providers);
    if (!found) {
      if (req.allowMissing) return 'continue';
      this.deny(cb, 'Jwt is missing');
      return 'stop';
    }
    // a token one of the providers verified before, still valid: no verification again
    for (const p of req.providers) {
      const hit = p.verified.get(found.token);
      if (hit !== undefined) {
        this.cfg.counters.cacheHit?.inc();
        this.accept(cb, p, found, hit);
        return 'continue';
      }
    }
    this.cfg.counters.cacheMiss?.inc();
    let iss: string | undefined;
    try {
      iss = decodeJwt(found.token).iss;
    } catch {
      if (req.allowFailed) return 'continue';
      this.deny(cb, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections');
      return 'stop';
    }
    const provider = req.providers.find((p) => p.issuer === '' || p.issuer === iss);
    if (!provider) {
      if (req.allowFailed) return 'continue';
      this.deny(cb, 'Jwt issuer is not configured');
      return 'stop';
    }
    jwtVerify(found.token, provider.keys, {
      ...(provider.issuer ? { issuer: provider.issuer } : {}),
      ...(provider.audiences.length ? { audience: provider.audiences } : {}),
    }).then(
      (r) => {
        const v = provider.verified.set(found.token, r.payload, normalized(r.payload, provider));
        if (this.destroyed) return;
        this.accept(cb, provider, found, v);
        cb.continueDecoding();
      },
      (err: unknown) => {
        if (this.destroyed) return;
        if (req.allowFailed) return cb.continueDecoding();
        this.deny(cb, failureMessage(err));
      },
    );
    return 'stop';
  }

  private accept(cb: HttpFilterCallbacks, p: Provider, found: Found, v: VerifiedJwt): void {
    const h = cb.headers as HeaderMap;
    const payload = v.payload;
    if (!p.forward && found.loc.kind === 'header') h[found.loc.name] = undefined;
    if (p.payloadHeader) h[p.payloadHeader] = v.payloadHeader ??= b64url(JSON.stringify(payload), p.padPayloadHeader);
    for (const c of p.claimHeaders) {
      const v = (payload as Record<string, unknown>)[c.claim];
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') h[c.header] = String(v);
      else if (Array.isArray(v)) h[c.header] = v.map(String).join(',');
    }
    // the entry object is made once per verified token (a computed key in a literal is a runtime call per request); the stream copies it
    if (p.metadataKey) cb.setDynamicMetadata(JWT_AUTHN_FILTER, (v.metadataEntry ??= { [p.metadataKey]: v.metadata }));
  }

  private deny(cb: HttpFilterCallbacks, message: string): void {
    const url = `http://${cb.authority}${pathOnly(cb.path)}`;
    cb.sendLocalReply(401, message, undefined, {
      details: 'jwt_authn_access_denied',
      headers: { 'www-authenticate': `Bearer realm="${url}", error="invalid_token"` },
    });
  }

  onDestroy(): void {
    this.destroyed = true;
  }
}

export function parseJwtAuthn(c: Record<string, any>, name: string, ctx: HttpFilterParseContext): JwtAuthnConfig {
  for (const k of Object.keys(c)) if (!['@type', 'providers', 'rules', 'bypass_cors_preflight'].includes(k) && c[k] !== undefined) fail(`jwt_authn.${k} is not implemented by this proxy`);
  const providers = new Map<string, Provider>();
  for (const [pname, p] of Object.entries((c.providers ?? {}) as Record<string, Record<string, any>>)) providers.set(pname, parseProvider(pname, p ?? {}, ctx));
  const rules = ((c.rules ?? []) as Array<Record<string, any>>).map((r, i) => {
    const where = `jwt_authn.rules[${i}]`;
    for (const k of Object.keys(r)) if (k !== 'match' && k !== 'requires') fail(`${where}.${k} is not implemented by this proxy`);
    const m = (r.match ?? {}) as Record<string, any>;
    for (const k of Object.keys(m)) if (k !== 'prefix') fail(`${where}.match.${k} is not implemented by this proxy (prefix only)`);
    if (typeof m.prefix !== 'string') fail(`${where}.match.prefix is required`);
    // a rule without a requirement verifies nothing (Envoy)
    const req = r.requires === undefined ? { providers: [], allowMissing: true, allowFailed: true } : parseRequirement(r.requires, providers, `${where}.requires`);
    return { prefix: m.prefix, req };
  });
  const scope = ctx.stats?.scope(`http.${ctx.statPrefix ?? ''}.jwt_authn.`);
  return new JwtAuthnConfig(name, rules, c.bypass_cors_preflight === true, { cacheHit: scope?.counter('jwt_cache_hit'), cacheMiss: scope?.counter('jwt_cache_miss') });
}

export const jwtAuthnFilterFactory: HttpFilterFactory = {
  typeUrls: [JWT_AUTHN_TYPE],
  perRouteTypeUrls: [],
  parse: parseJwtAuthn,
};
