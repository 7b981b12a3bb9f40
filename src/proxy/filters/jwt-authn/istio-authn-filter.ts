/**
 * istio_authn (Istio's authn filter, `io.istio.network.authn.Config` carried in a TypedStruct):
 * turns the JWT filter's verified payload (dynamic metadata `envoy.filters.http.jwt_authn`) into
 * the attributes AuthorizationPolicy matches, as dynamic metadata `istio_authn`:
 * `request.auth.principal` (`<iss>/<sub>`), `request.auth.audiences`, `request.auth.presenter`
 * (lists), `request.auth.claims` (every claim as a list of strings, objects kept nested for
 * `request.auth.claims[a][b]`) and `request.auth.raw_claims` (the payload as JSON). Without a
 * verified token it sets nothing: requestPrincipals then match nothing.
 */
import type { FilterHeadersStatus, HttpFilter, HttpFilterCallbacks, HttpFilterConfig, HttpFilterFactory } from '../../filter-api/http-filter.js';
import { fail } from '../../core/errors.js';
import { JWT_AUTHN_FILTER } from './jwt-authn-filter.js';

export const ISTIO_AUTHN_TYPE = 'type.googleapis.com/io.istio.network.authn.Config';
export const ISTIO_AUTHN_METADATA = 'istio_authn';

function claimValue(v: unknown, depth = 0): unknown {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x)));
  if (v !== null && typeof v === 'object') {
    if (depth > 8) return [JSON.stringify(v)];
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = claimValue(x, depth + 1);
    return out;
  }
  return v === undefined || v === null ? [] : [String(v)];
}

/** the attributes of one verified payload */
export function authnAttributes(payload: Record<string, unknown>): Record<string, unknown> {
  const iss = typeof payload.iss === 'string' ? payload.iss : '';
  const sub = typeof payload.sub === 'string' ? payload.sub : '';
  const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud.map(String) : [String(payload.aud)];
  const attrs: Record<string, unknown> = {
    'request.auth.principal': `${iss}/${sub}`,
    'request.auth.audiences': aud,
    'request.auth.claims': claimValue(payload),
    'request.auth.raw_claims': JSON.stringify(payload),
  };
  if (typeof payload.azp === 'string') attrs['request.auth.presenter'] = [payload.azp];
  return attrs;
}

/**
 * The attributes by payload object: the JWT filter hands out one payload object per verified token
 * (its cache), so a token seen again reuses its attributes. Weak: they go with the payload.
 */
const attributesOf = new WeakMap<object, Record<string, unknown>>();

const filter: HttpFilter = {
  decodeHeaders(cb: HttpFilterCallbacks): FilterHeadersStatus {
    const md = cb.dynamicMetadata(JWT_AUTHN_FILTER);
    if (md === undefined) return 'continue';
    // the first payload in key order, as Object.values would give it, without the array per request
    for (const k in md) {
      if (!Object.hasOwn(md, k)) continue;
      const payload = md[k];
      if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
        let attrs = attributesOf.get(payload);
        if (attrs === undefined) attributesOf.set(payload, (attrs = authnAttributes(payload as Record<string, unknown>)));
        cb.setDynamicMetadata(ISTIO_AUTHN_METADATA, attrs);
        break;
      }
    }
    return 'continue';
  },
};

const config = (name: string): HttpFilterConfig => ({ name, create: () => filter });

export const istioAuthnFilterFactory: HttpFilterFactory = {
  typeUrls: [ISTIO_AUTHN_TYPE],
  perRouteTypeUrls: [],
  parse: (c, name) => {
    for (const k of Object.keys(c)) if (k !== '@type' && c[k] !== undefined) fail(`istio_authn.${k} is not implemented by this proxy`);
    return config(name);
  },
};
