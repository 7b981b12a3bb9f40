/**
 * RequestAuthentication semantics (Istio's validation): an issuer per rule, `jwks` that parses as
 * a JWK Set, `jwksUri` an http(s) URL of at most 2048 characters, header names for
 * outputClaimToHeaders, at most 4096 rules, and only Gateway targetRefs (the others Clew does
 * not implement).
 */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asList, asObj, asObjList, asStr, findDuplicates, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';

const CLAIM_HEADER = /^[-_A-Za-z0-9]+$/;

/** why an inline JWKS is refused, or undefined */
export function jwksError(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'jwks is not valid JSON';
  }
  const keys = (v as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return 'jwks must be a JWK Set with a non-empty "keys" array';
  for (const [i, k] of keys.entries()) {
    const kty = (k as { kty?: unknown })?.kty;
    if (!['RSA', 'EC', 'OKP', 'oct'].includes(String(kty))) return `jwks keys[${i}]: unknown kty ${JSON.stringify(kty)}`;
  }
  return undefined;
}

export function validateRequestAuthentication(spec: Obj, rep: Reporter): void {
  for (const [k, v] of Object.entries(asObj(asObj(spec.selector).matchLabels))) {
    const p = joinKey('spec.selector.matchLabels', k);
    if (k === '' || k.includes('*')) rep.error(p, 'label key must be non-empty and without wildcards', Codes.format);
    if (typeof v === 'string' && v.includes('*')) rep.error(p, 'wildcard not allowed in label value match', Codes.format);
  }
  const refs = [...(has(spec, 'targetRef') ? [asObj(spec.targetRef)] : []), ...asObjList(spec.targetRefs)];
  refs.forEach((r, i) => {
    const group = asStr(r.group) ?? '';
    if (!(asStr(r.kind) === 'Gateway' && (group === '' || group === 'gateway.networking.k8s.io'))) {
      rep.error(has(spec, 'targetRef') ? 'spec.targetRef.kind' : joinKey(joinIndex('spec.targetRefs', i), 'kind'),
        `only Gateway (gateway.networking.k8s.io) targets are implemented by Clew (got ${group || 'core'}/${asStr(r.kind) ?? ''})`, Codes.format);
    }
  });
  const rules = asObjList(spec.jwtRules);
  if (rules.length > 4096) rep.error('spec.jwtRules', 'at most 4096 rules', Codes.range);
  rules.forEach((r, i) => {
    const p = joinIndex('spec.jwtRules', i);
    if ((asStr(r.issuer) ?? '') === '') rep.error(joinKey(p, 'issuer'), 'must not be empty', Codes.empty);
    const uri = asStr(r.jwksUri);
    if (uri !== undefined) {
      let ok = uri.length <= 2048;
      try {
        const u = new URL(uri);
        ok &&= u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        ok = false;
      }
      if (!ok) rep.error(joinKey(p, 'jwksUri'), `invalid jwksUri "${uri}" (an http or https URL of at most 2048 characters)`, Codes.format);
    }
    if (!has(r, 'jwks') && !has(r, 'jwksUri')) {
      rep.error(p, 'jwks or jwksUri is required (finding the keys by OpenID discovery of the issuer is not implemented by Clew)', Codes.required);
    }
    const jwks = asStr(r.jwks);
    if (jwks !== undefined) {
      const err = jwksError(jwks);
      if (err) rep.error(joinKey(p, 'jwks'), err, Codes.format);
    }
    asObjList(r.fromHeaders).forEach((h, j) => {
      if ((asStr(h.name) ?? '') === '') rep.error(joinKey(joinIndex(joinKey(p, 'fromHeaders'), j), 'name'), 'must not be empty', Codes.empty);
    });
    asList(r.fromParams).forEach((v, j) => {
      if (v === '') rep.error(joinIndex(joinKey(p, 'fromParams'), j), 'must not be empty', Codes.empty);
    });
    asObjList(r.outputClaimToHeaders).forEach((h, j) => {
      const hp = joinIndex(joinKey(p, 'outputClaimToHeaders'), j);
      if (!CLAIM_HEADER.test(asStr(h.header) ?? '')) rep.error(joinKey(hp, 'header'), 'must match ^[-_A-Za-z0-9]+$', Codes.header);
      if ((asStr(h.claim) ?? '') === '') rep.error(joinKey(hp, 'claim'), 'must not be empty', Codes.empty);
    });
  });
  findDuplicates(rules.map((r) => asStr(r.issuer)), (iss, i) =>
    rep.warn(joinKey(joinIndex('spec.jwtRules', i), 'issuer'), `issuer "${iss}" has another rule in this policy`, Codes.duplicate));
}
