/**
 * envoy.filters.http.ratelimit config (envoy.extensions.filters.http.ratelimit.v3.RateLimit),
 * parsed once per LDS update (a throw is the NACK): domain (required), stage, request_type
 * (internal / external / both), timeout (Envoy's default 20 ms), failure_mode_deny,
 * rate_limited_as_resource_exhausted, rate_limit_service (grpc_service.envoy_grpc cluster and
 * authority; transport_api_version V3), disable_x_envoy_ratelimited_header, rate_limited_status
 * (default 429), response_headers_to_add, status_on_error (default 500), stat_prefix.
 * enable_x_ratelimit_headers other than OFF, google_grpc and any other field that is set are
 * refused: they would change what is limited or answered.
 */
import { durationToMs } from '../../../xds/codec.js';
import { fail } from '../../core/errors.js';
import { checkHeaderValue } from '../../router/header-ops.js';
import type { GrpcTarget } from '../../grpc-client/grpc-unary-client.js';
import { httpStatusCode } from '../ext-authz/ext-authz-config.js';

export const RATELIMIT_FILTER = 'envoy.filters.http.ratelimit';
/** Envoy's default timeout of a ShouldRateLimit call */
export const DEFAULT_RLS_TIMEOUT_MS = 20;

const KNOWN = new Set([
  '@type', 'domain', 'stage', 'request_type', 'timeout', 'failure_mode_deny', 'rate_limited_as_resource_exhausted', 'rate_limit_service',
  'enable_x_ratelimit_headers', 'disable_x_envoy_ratelimited_header', 'rate_limited_status', 'response_headers_to_add', 'status_on_error', 'stat_prefix',
]);

export interface RateLimitSettings {
  domain: string;
  stage: number;
  requestType: 'internal' | 'external' | 'both';
  target: GrpcTarget;
  failureModeDeny: boolean;
  resourceExhausted: boolean;
  xEnvoyRateLimitedHeader: boolean;
  limitedStatus: number;
  statusOnError: number;
  /** added to the responses of limited requests: [name, value, append] */
  responseHeaders: Array<[string, string, boolean]>;
  statPrefix: string;
}

/** a proto3 field that is set (defaults are the same as absent) */
function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== false && v !== '' && v !== 0 && !(Array.isArray(v) && v.length === 0);
}

function only(o: Record<string, any>, known: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!known.includes(k) && isSet(o[k])) fail(`${where}.${k} is not implemented by this proxy`);
}

function parseService(s: Record<string, any> | undefined, timeoutMs: number, where: string): GrpcTarget {
  if (!s) fail(`${where} is required`);
  only(s, ['grpc_service', 'transport_api_version'], where);
  const api = s.transport_api_version;
  if (api !== undefined && api !== 'V3' && api !== 2) fail(`${where}.transport_api_version: only V3 is implemented`);
  const g = s.grpc_service as Record<string, any> | undefined;
  if (!g) fail(`${where}.grpc_service is required`);
  only(g, ['envoy_grpc', 'timeout'], `${where}.grpc_service`);
  const e = g.envoy_grpc as Record<string, any> | undefined;
  if (!e) fail(`${where}.grpc_service: envoy_grpc is required (google_grpc is not implemented by this proxy)`);
  only(e, ['cluster_name', 'authority'], `${where}.grpc_service.envoy_grpc`);
  const cluster = String(e.cluster_name ?? '');
  if (!cluster) fail(`${where}.grpc_service.envoy_grpc.cluster_name is required`);
  const authority = String(e.authority || cluster);
  checkHeaderValue(`${where}.grpc_service.envoy_grpc.authority`, authority);
  return { cluster, authority, timeoutMs };
}

function headerOptions(list: unknown, where: string): Array<[string, string, boolean]> {
  return ((list ?? []) as Array<Record<string, any>>).map((h, i) => {
    const key = String(h.header?.key ?? '').toLowerCase();
    if (!key || key.startsWith(':')) fail(`${where}[${i}].header.key: a header name is required`);
    const value = checkHeaderValue(`${where}[${i}].header.value`, String(h.header?.value ?? ''));
    const append = h.append_action ? h.append_action === 'APPEND_IF_EXISTS_OR_ADD' || h.append_action === 0 : h.append?.value !== false && h.append !== false;
    return [key, value, append];
  });
}

export function parseRateLimitConfig(c: Record<string, any>, name: string): RateLimitSettings {
  const where = name || RATELIMIT_FILTER;
  for (const k of Object.keys(c)) if (!KNOWN.has(k) && isSet(c[k])) fail(`${where}.${k} is not implemented by this proxy`);
  const domain = String(c.domain ?? '');
  if (!domain) fail(`${where}.domain is required`);
  const stage = Number(c.stage ?? 0);
  if (!Number.isInteger(stage) || stage < 0 || stage > 10) fail(`${where}.stage: ${String(c.stage)} must be between 0 and 10`);
  const rt = String(c.request_type || 'both');
  if (rt !== 'internal' && rt !== 'external' && rt !== 'both') fail(`${where}.request_type: ${rt} (internal, external or both)`);
  const xr = c.enable_x_ratelimit_headers ?? 'OFF';
  if (xr !== 'OFF' && xr !== 0) fail(`${where}.enable_x_ratelimit_headers: ${String(xr)} is not implemented by this proxy`);
  let timeoutMs = DEFAULT_RLS_TIMEOUT_MS;
  if (c.timeout !== undefined && c.timeout !== null) {
    const ms = durationToMs(c.timeout);
    if (ms === undefined || !(ms > 0)) fail(`${where}.timeout: the timeout must be positive`);
    timeoutMs = ms;
  }
  const limitedStatus = c.rate_limited_status ? httpStatusCode(c.rate_limited_status.code, `${where}.rate_limited_status.code`) : 429;
  if (limitedStatus < 400) fail(`${where}.rate_limited_status.code: ${limitedStatus} is not an error status`);
  return {
    domain,
    stage,
    requestType: rt,
    target: parseService(c.rate_limit_service, timeoutMs, `${where}.rate_limit_service`),
    failureModeDeny: c.failure_mode_deny === true,
    resourceExhausted: c.rate_limited_as_resource_exhausted === true,
    xEnvoyRateLimitedHeader: c.disable_x_envoy_ratelimited_header !== true,
    limitedStatus,
    statusOnError: c.status_on_error ? httpStatusCode(c.status_on_error.code, `${where}.status_on_error.code`) : 500,
    responseHeaders: headerOptions(c.response_headers_to_add, `${where}.response_headers_to_add`),
    statPrefix: String(c.stat_prefix ?? ''),
  };
}
