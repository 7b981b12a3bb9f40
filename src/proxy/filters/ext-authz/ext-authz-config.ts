/**
 * envoy.filters.http.ext_authz config, parsed once per LDS update (a throw is the NACK):
 * - the service: `grpc_service.envoy_grpc` (cluster, authority, timeout; default 200 ms) or
 *   `http_service` (server_uri cluster and timeout, path_prefix, authorization_request
 *   allowed_headers / headers_to_add, authorization_response allowed_upstream_headers[_to_append] /
 *   allowed_client_headers / allowed_client_headers_on_success);
 * - failure_mode_allow (+ _header_add), status_on_error (default 403), with_request_body,
 *   filter_enabled_metadata (Istio's CUSTOM: run only when the shadow RBAC matched a CUSTOM rule),
 *   allowed_headers / disallowed_headers, include_tls_session, clear_route_cache, stat_prefix,
 *   transport_api_version (V3 only).
 * Every other field that is set (google_grpc, per-route overrides of the check, metadata context
 * namespaces, header mutation rules, ...) is refused: it would change who gets in.
 */
import { durationToMs } from '../../../xds/codec.js';
import { lookupEnumValue } from '../../../xds/proto-root.js';
import { fail } from '../../core/errors.js';
import { compileStringMatcher, type StringPredicate } from '../../core/string-matcher.js';
import { checkHeaderValue } from '../../router/header-ops.js';
import { compileMetadataMatcher, type MetadataPredicate } from '../rbac/rbac-engine.js';

export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';
/** Envoy's default timeout of a check (both services) */
export const DEFAULT_CHECK_TIMEOUT_MS = 200;

const KNOWN = new Set([
  '@type', 'grpc_service', 'http_service', 'transport_api_version', 'failure_mode_allow', 'failure_mode_allow_header_add',
  'with_request_body', 'clear_route_cache', 'status_on_error', 'filter_enabled_metadata', 'stat_prefix', 'allowed_headers',
  'disallowed_headers', 'include_tls_session',
]);

/** a ListStringMatcher compiled: does a (lower-case) header name match one pattern */
export type NameList = (name: string) => boolean;

export interface GrpcTarget {
  kind: 'grpc';
  cluster: string;
  /** :authority of the Check call (Istio sets one: `|` is not valid in an authority) */
  authority: string;
  timeoutMs: number;
}

export interface HttpTarget {
  kind: 'http';
  cluster: string;
  timeoutMs: number;
  pathPrefix: string;
  /** request headers sent besides Host, Method, Path, Content-Length and Authorization */
  allowedHeaders: NameList | undefined;
  headersToAdd: Array<[string, string]>;
  /** auth response headers set on the upstream request on allow (override) */
  upstreamHeaders: NameList | undefined;
  /** ... appended on allow */
  upstreamHeadersToAppend: NameList | undefined;
  /** auth response headers on the client's response when denied (undefined: all but Host) */
  clientHeaders: NameList | undefined;
  /** ... when allowed (undefined: none) */
  clientHeadersOnSuccess: NameList | undefined;
}

export interface BodySettings {
  maxBytes: number;
  allowPartial: boolean;
  packAsBytes: boolean;
}

export interface ExtAuthzSettings {
  target: GrpcTarget | HttpTarget;
  failureModeAllow: boolean;
  failureModeAllowHeaderAdd: boolean;
  statusOnError: number;
  body: BodySettings | undefined;
  clearRouteCache: boolean;
  enabledMetadata: MetadataPredicate | undefined;
  statPrefix: string;
  /** gRPC: which request headers go into the CheckRequest (undefined: all) */
  allowedHeaders: NameList | undefined;
  disallowedHeaders: NameList | undefined;
  includeTlsSession: boolean;
}

/** a proto3 field that is set (defaults are the same as absent) */
function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== false && v !== '' && v !== 0 && !(Array.isArray(v) && v.length === 0);
}

function only(o: Record<string, any>, known: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!known.includes(k) && isSet(o[k])) fail(`${where}.${k} is not implemented by this proxy`);
}

/** envoy.type.v3.HttpStatus code: a number, or the StatusCode enum name the wire decoder gives */
export function httpStatusCode(code: unknown, where: string): number {
  const n = typeof code === 'number' ? code : /^\d+$/.test(String(code)) ? Number(code) : lookupEnumValue('envoy.type.v3.StatusCode', String(code));
  if (n === undefined || !(n >= 100 && n <= 599)) fail(`${where}: ${JSON.stringify(code)} is not an HTTP status code`);
  return n;
}

/** envoy.type.matcher.v3.ListStringMatcher over header names */
export function compileNameList(l: Record<string, any> | undefined, where: string): NameList | undefined {
  if (l === undefined || l === null) return undefined;
  only(l, ['patterns'], where);
  const preds: StringPredicate[] = ((l.patterns ?? []) as Array<Record<string, any>>).map((p, i) => {
    try {
      return compileStringMatcher(p);
    } catch (err) {
      fail(`${where}.patterns[${i}]: ${(err as Error).message}`);
    }
  });
  return (name) => preds.some((p) => p(name));
}

function timeoutOf(d: unknown, where: string): number {
  if (d === undefined || d === null) return DEFAULT_CHECK_TIMEOUT_MS;
  const ms = durationToMs(d as Parameters<typeof durationToMs>[0]);
  if (ms === undefined || !(ms > 0)) fail(`${where}: the timeout must be positive`);
  return ms;
}

function parseGrpcService(g: Record<string, any>, where: string): GrpcTarget {
  only(g, ['envoy_grpc', 'timeout'], where);
  const e = g.envoy_grpc as Record<string, any> | undefined;
  if (!e) fail(`${where}: envoy_grpc is required (google_grpc is not implemented by this proxy)`);
  only(e, ['cluster_name', 'authority'], `${where}.envoy_grpc`);
  const cluster = String(e.cluster_name ?? '');
  if (!cluster) fail(`${where}.envoy_grpc.cluster_name is required`);
  const authority = String(e.authority || cluster);
  checkHeaderValue(`${where}.envoy_grpc.authority`, authority);
  return { kind: 'grpc', cluster, authority, timeoutMs: timeoutOf(g.timeout, `${where}.timeout`) };
}

function parseHttpService(h: Record<string, any>, where: string, topAllowed: NameList | undefined): HttpTarget {
  only(h, ['server_uri', 'path_prefix', 'authorization_request', 'authorization_response'], where);
  const uri = (h.server_uri ?? {}) as Record<string, any>;
  only(uri, ['uri', 'cluster', 'timeout'], `${where}.server_uri`);
  const cluster = String(uri.cluster ?? '');
  if (!cluster) fail(`${where}.server_uri.cluster is required`);
  const pathPrefix = String(h.path_prefix ?? '');
  if (pathPrefix && (!pathPrefix.startsWith('/') || !/^[\x21-\x7e]*$/.test(pathPrefix))) fail(`${where}.path_prefix: ${JSON.stringify(pathPrefix)} must start with / and have no spaces or control characters`);
  const req = (h.authorization_request ?? {}) as Record<string, any>;
  only(req, ['allowed_headers', 'headers_to_add'], `${where}.authorization_request`);
  const headersToAdd = ((req.headers_to_add ?? []) as Array<Record<string, any>>).map((x, i): [string, string] => {
    const key = String(x.key ?? '').toLowerCase();
    if (!key) fail(`${where}.authorization_request.headers_to_add[${i}].key is required`);
    return [key, checkHeaderValue(`${where}.authorization_request.headers_to_add[${i}].value`, String(x.value ?? ''))];
  });
  const res = (h.authorization_response ?? {}) as Record<string, any>;
  const rw = `${where}.authorization_response`;
  only(res, ['allowed_upstream_headers', 'allowed_upstream_headers_to_append', 'allowed_client_headers', 'allowed_client_headers_on_success'], rw);
  return {
    kind: 'http',
    cluster,
    timeoutMs: timeoutOf(uri.timeout, `${where}.server_uri.timeout`),
    pathPrefix,
    allowedHeaders: compileNameList(req.allowed_headers, `${where}.authorization_request.allowed_headers`) ?? topAllowed,
    headersToAdd,
    upstreamHeaders: compileNameList(res.allowed_upstream_headers, `${rw}.allowed_upstream_headers`),
    upstreamHeadersToAppend: compileNameList(res.allowed_upstream_headers_to_append, `${rw}.allowed_upstream_headers_to_append`),
    clientHeaders: compileNameList(res.allowed_client_headers, `${rw}.allowed_client_headers`),
    clientHeadersOnSuccess: compileNameList(res.allowed_client_headers_on_success, `${rw}.allowed_client_headers_on_success`),
  };
}

export function parseExtAuthzConfig(c: Record<string, any>, name: string): ExtAuthzSettings {
  const where = name || EXT_AUTHZ_FILTER;
  for (const k of Object.keys(c)) if (!KNOWN.has(k) && isSet(c[k])) fail(`${where}: ${k} is not implemented by this proxy`);
  const api = c.transport_api_version;
  if (api !== undefined && api !== 'V3' && api !== 'AUTO' && api !== 2 && api !== 0) fail(`${where}.transport_api_version: only V3 is implemented`);
  if (c.grpc_service && c.http_service) fail(`${where}: grpc_service and http_service are exclusive`);
  // the HTTP client sends only Authorization and the allowed headers; it does not apply a deny list
  if (c.http_service && isSet(c.disallowed_headers)) fail(`${where}.disallowed_headers with http_service is not implemented by this proxy`);
  const allowedHeaders = compileNameList(c.allowed_headers, `${where}.allowed_headers`);
  const target = c.grpc_service
    ? parseGrpcService(c.grpc_service, `${where}.grpc_service`)
    : c.http_service
      ? parseHttpService(c.http_service, `${where}.http_service`, allowedHeaders)
      : fail(`${where}: grpc_service or http_service is required`);
  let body: BodySettings | undefined;
  if (c.with_request_body) {
    const b = c.with_request_body as Record<string, any>;
    only(b, ['max_request_bytes', 'allow_partial_message', 'pack_as_bytes'], `${where}.with_request_body`);
    const maxBytes = Number(b.max_request_bytes ?? 0);
    if (!(maxBytes > 0)) fail(`${where}.with_request_body.max_request_bytes must be greater than 0`);
    body = { maxBytes, allowPartial: b.allow_partial_message === true, packAsBytes: b.pack_as_bytes === true };
  }
  return {
    target,
    failureModeAllow: c.failure_mode_allow === true,
    failureModeAllowHeaderAdd: c.failure_mode_allow_header_add === true,
    statusOnError: c.status_on_error ? httpStatusCode(c.status_on_error.code, `${where}.status_on_error.code`) : 403,
    body,
    clearRouteCache: c.clear_route_cache === true,
    enabledMetadata: c.filter_enabled_metadata ? compileMetadataMatcher(c.filter_enabled_metadata, `${where}.filter_enabled_metadata`) : undefined,
    statPrefix: String(c.stat_prefix ?? ''),
    allowedHeaders: target.kind === 'grpc' ? allowedHeaders : undefined,
    disallowedHeaders: compileNameList(c.disallowed_headers, `${where}.disallowed_headers`),
    includeTlsSession: c.include_tls_session === true,
  };
}
