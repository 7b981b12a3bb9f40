/** Per-route filter configs: fault injection (HTTPFault) and CORS (CorsPolicy). */
import type { CorsPolicy, HTTPFaultInjection } from '../../config/types.js';
import type { EnvoyResource } from '../../xds/codec.js';
import { CORS_POLICY_TYPE, FAULT_TYPE } from '../../xds/type-urls.js';
import { duration, fractionFromInteger, fractionFromPercent } from './build-common.js';
import { stringMatcher } from './build-route-match.js';

export const FAULT_FILTER = 'envoy.filters.http.fault';
export const CORS_FILTER = 'envoy.filters.http.cors';

const GRPC_CODES: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

export function grpcStatusCode(s: string): number | undefined {
  const n = Number(s);
  if (Number.isInteger(n) && s.trim() !== '') return n;
  return GRPC_CODES[s.toUpperCase()];
}

/** Istio fault → HTTPFault. Unspecified percentages inject into no request, as in Istio. */
export function buildFault(f: HTTPFaultInjection): EnvoyResource {
  const out: EnvoyResource = { '@type': FAULT_TYPE };
  if (f.delay) {
    out.delay = {
      percentage: f.delay.percentage ? fractionFromPercent(f.delay.percentage) : fractionFromInteger(f.delay.percent),
    };
    if (f.delay.fixedDelay) out.delay.fixed_delay = duration(f.delay.fixedDelay);
  }
  if (f.abort) {
    out.abort = { percentage: fractionFromPercent(f.abort.percentage) };
    if (f.abort.grpcStatus !== undefined) {
      const code = grpcStatusCode(f.abort.grpcStatus);
      if (code !== undefined) out.abort.grpc_status = code;
    } else if (f.abort.httpStatus !== undefined) {
      out.abort.http_status = f.abort.httpStatus;
    }
  }
  return out;
}

export function buildCorsPolicy(c: CorsPolicy): EnvoyResource {
  const origins: EnvoyResource[] = [];
  for (const o of c.allowOrigins ?? []) {
    const m = stringMatcher(o);
    if (m) origins.push(m);
  }
  for (const o of c.allowOrigin ?? []) origins.push(o === '*' ? { safe_regex: { google_re2: {}, regex: '.*' } } : { exact: o });
  const out: EnvoyResource = {
    '@type': CORS_POLICY_TYPE,
    filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
  };
  if (origins.length) out.allow_origin_string_match = origins;
  if (c.allowMethods?.length) out.allow_methods = c.allowMethods.join(',');
  if (c.allowHeaders?.length) out.allow_headers = c.allowHeaders.join(',');
  if (c.exposeHeaders?.length) out.expose_headers = c.exposeHeaders.join(',');
  if (c.maxAge) out.max_age = String(Math.floor((duration(c.maxAge)?.seconds ?? 0)));
  if (c.allowCredentials !== undefined) out.allow_credentials = { value: c.allowCredentials };
  return out;
}
