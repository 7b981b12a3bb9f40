/**
 * RequestAuthentication → Envoy jwt_authn + Istio's istio_authn filter (pilot's authn policy
 * applier): every jwtRule of the policies in force for a proxy becomes a provider `origins-<i>`
 * (issuer, audiences, keys, token locations, forward, payload and claim headers, payload in
 * metadata under the issuer); one rule on `/` requires any of them or no token at all
 * (`allow_missing`): a bad token is 401, a missing one passes without a principal, and an
 * AuthorizationPolicy with `requestPrincipals` is what requires one. `jwks` is inlined;
 * `jwksUri` is fetched by the proxy (remote_jwks, cached 5 min, retried with backoff).
 */
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { TYPED_STRUCT_TYPE } from '../../xds/type-urls.js';
import { parseGoDuration } from '../../xds/codec.js';
import type { PushContext } from '../push-context.js';
import { policiesInForce } from './build-policy-selection.js';

export const JWT_AUTHN_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
export const ISTIO_AUTHN_TYPE = 'type.googleapis.com/io.istio.network.authn.Config';

export interface JwtRule {
  issuer: string;
  audiences?: string[];
  jwksUri?: string;
  jwks?: string;
  fromHeaders?: Array<{ name: string; prefix?: string }>;
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: Array<{ header: string; claim: string }>;
  timeout?: string;
  spaceDelimitedClaims?: string[];
}

export interface RequestAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: { group?: string; kind: string; name: string };
  targetRefs?: Array<{ group?: string; kind: string; name: string }>;
  jwtRules?: JwtRule[];
}

function seconds(ms: number): EnvoyResource {
  const nanos = Math.round((ms % 1000) * 1e6);
  return nanos ? { seconds: Math.floor(ms / 1000), nanos } : { seconds: Math.floor(ms / 1000) };
}

function clusterFor(uri: string): string {
  const u = new URL(uri);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return `outbound|${port}||${u.hostname}`;
}

function provider(r: JwtRule): EnvoyResource {
  const p: EnvoyResource = { issuer: r.issuer };
  if (r.audiences?.length) p.audiences = r.audiences;
  if (r.jwks !== undefined) p.local_jwks = { inline_string: r.jwks };
  else if (r.jwksUri !== undefined) {
    const ns = r.timeout ? parseGoDuration(r.timeout) : undefined;
    const timeoutMs = ns === undefined ? 5000 : Math.round(ns / 1e6);
    p.remote_jwks = { http_uri: { uri: r.jwksUri, cluster: clusterFor(r.jwksUri), timeout: seconds(timeoutMs) }, cache_duration: { seconds: 300 } };
  }
  if (r.forwardOriginalToken) p.forward = true;
  if (r.fromHeaders?.length) p.from_headers = r.fromHeaders.map((h) => (h.prefix ? { name: h.name, value_prefix: h.prefix } : { name: h.name }));
  if (r.fromParams?.length) p.from_params = r.fromParams;
  if (r.fromCookies?.length) p.from_cookies = r.fromCookies;
  if (r.outputPayloadToHeader) p.forward_payload_header = r.outputPayloadToHeader;
  if (r.outputClaimToHeaders?.length) p.claim_to_headers = r.outputClaimToHeaders.map((c) => ({ header_name: c.header, claim_name: c.claim }));
  if (r.spaceDelimitedClaims?.length) p.normalize_payload_in_metadata = { space_delimited_claims: r.spaceDelimitedClaims };
  p.payload_in_metadata = r.issuer;
  return p;
}

/** jwt_authn + istio_authn for the proxy (before the RBAC filters), or none without a jwtRule */
export function buildAuthnFilters(pc: PushContext, proxy: ProxyIdentity): EnvoyResource[] {
  const rules = policiesInForce<RequestAuthenticationSpec>(pc, proxy, 'RequestAuthentication').flatMap((p) => p.spec?.jwtRules ?? []);
  if (rules.length === 0) return [];
  const providers: Record<string, EnvoyResource> = {};
  rules.forEach((r, i) => (providers[`origins-${i}`] = provider(r)));
  const requirements = [...Object.keys(providers).map((provider_name) => ({ provider_name })), { allow_missing: {} }];
  return [
    {
      name: 'envoy.filters.http.jwt_authn',
      typed_config: {
        '@type': JWT_AUTHN_TYPE,
        providers,
        rules: [{ match: { prefix: '/' }, requires: { requires_any: { requirements } } }],
        bypass_cors_preflight: true,
      },
    },
    { name: 'istio_authn', typed_config: { '@type': TYPED_STRUCT_TYPE, type_url: ISTIO_AUTHN_TYPE, value: {} } },
  ];
}
