/**
 * MeshConfig `extensionProviders` envoyExtAuthzHttp / envoyExtAuthzGrpc → the
 * `envoy.filters.http.ext_authz` filter Istio generates for AuthorizationPolicy CUSTOM (pilot's
 * authz builder, extauthz.go):
 * - `service` is `[<namespace>/]<host>` (a short name with a namespace means
 *   `<name>.<namespace>.svc.cluster.local`); it must be a service of the mesh; the cluster is
 *   `outbound|<port>||<host>`;
 * - timeout (Istio's default 600 s), failOpen → failure_mode_allow, statusOnError (an HTTP status
 *   code) → status_on_error, includeRequestBodyInCheck → with_request_body;
 * - HTTP: pathPrefix, includeRequestHeadersInCheck (or the deprecated includeHeadersInCheck) →
 *   allowed_headers, includeAdditionalHeadersInCheck → headers_to_add, headersToUpstreamOnAllow /
 *   headersToDownstreamOnDeny / headersToDownstreamOnAllow → allowed_upstream_headers /
 *   allowed_client_headers / allowed_client_headers_on_success (`*` prefix/suffix patterns,
 *   case-insensitive);
 * - gRPC: envoy_grpc with the cluster and an authority without `|`;
 * - filter_enabled_metadata: only requests the CUSTOM shadow RBAC filter marked
 *   (`istio_ext_authz_shadow_effective_policy_id` starting with `istio-ext-authz`).
 * A provider that does not resolve gives an error message instead (the caller denies all, as Istio).
 */
import type { ExtensionProvider } from '../../config/mesh-config.js';
import { parseDurationMs } from '../../xds/codec.js';
import type { EnvoyResource } from '../../xds/codec.js';
import { lookupEnumName } from '../../xds/proto-root.js';
import { EXT_AUTHZ_TYPE } from '../../xds/type-urls.js';
import type { PushContext } from '../push-context.js';
import { duration, outboundClusterName } from './build-common.js';

export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';
/** shadow_rules_stat_prefix of the CUSTOM RBAC filter, and the policy-name prefix ext_authz looks for */
export const EXT_AUTHZ_SHADOW_PREFIX = 'istio_ext_authz_';
export const EXT_AUTHZ_POLICY_PREFIX = 'istio-ext-authz';
const DEFAULT_TIMEOUT = '600s';

type M = EnvoyResource;

interface BodyCheck {
  maxRequestBytes?: number;
  allowPartialMessage?: boolean;
  packAsBytes?: boolean;
}

interface CommonProvider {
  service?: string;
  port?: number | string;
  timeout?: string;
  failOpen?: boolean;
  clearRouteCache?: boolean;
  statusOnError?: string;
  includeRequestBodyInCheck?: BodyCheck;
}

interface HttpProvider extends CommonProvider {
  pathPrefix?: string;
  includeHeadersInCheck?: string[];
  includeRequestHeadersInCheck?: string[];
  includeAdditionalHeadersInCheck?: Record<string, string>;
  headersToUpstreamOnAllow?: string[];
  headersToDownstreamOnDeny?: string[];
  headersToDownstreamOnAllow?: string[];
}

export function isExtAuthzProvider(p: ExtensionProvider | undefined): boolean {
  return p !== undefined && (p.envoyExtAuthzHttp !== undefined || p.envoyExtAuthzGrpc !== undefined);
}

/** Istio's header patterns: `abc*` prefix, `*abc` suffix, else exact; case-insensitive. */
function headerList(names: string[] | undefined): M | undefined {
  if (!names?.length) return undefined;
  return {
    patterns: names.map((n) => (n.startsWith('*') ? { suffix: n.slice(1), ignore_case: true } : n.endsWith('*') ? { prefix: n.slice(0, -1), ignore_case: true } : { exact: n, ignore_case: true })),
  };
}

/** The service's hostname, or an error. */
function resolveService(pc: PushContext, service: string | undefined): string | { error: string } {
  if (!service) return { error: 'service is required' };
  const slash = service.indexOf('/');
  const ns = slash < 0 ? undefined : service.slice(0, slash);
  const name = slash < 0 ? service : service.slice(slash + 1);
  const candidates = ns !== undefined && !name.includes('.') ? [`${name}.${ns}.svc.cluster.local`] : [name];
  for (const c of candidates) if (pc.service(c)) return c;
  const byName = pc.services.find((s) => s.name === name && (ns === undefined || s.namespace === ns));
  if (byName) return byName.hostname;
  return { error: `service ${JSON.stringify(service)} is not a service of the mesh` };
}

function enabledMetadata(): M {
  return {
    filter: 'envoy.filters.http.rbac',
    path: [{ key: `${EXT_AUTHZ_SHADOW_PREFIX}shadow_effective_policy_id` }],
    value: { string_match: { prefix: EXT_AUTHZ_POLICY_PREFIX } },
  };
}

function common(p: CommonProvider): M | { error: string } {
  const out: M = { transport_api_version: 'V3', filter_enabled_metadata: enabledMetadata() };
  if (p.failOpen) out.failure_mode_allow = true;
  if (p.clearRouteCache) out.clear_route_cache = true;
  if (p.statusOnError !== undefined && p.statusOnError !== '') {
    // Envoy's StatusCode enum (Istio accepts only its values too)
    const code = /^\d+$/.test(String(p.statusOnError)) ? lookupEnumName('envoy.type.v3.StatusCode', Number(p.statusOnError)) : undefined;
    if (code === undefined) return { error: `statusOnError ${JSON.stringify(p.statusOnError)} is not an HTTP status code Envoy knows` };
    out.status_on_error = { code };
  }
  const b = p.includeRequestBodyInCheck;
  if (b) {
    out.with_request_body = { max_request_bytes: b.maxRequestBytes ?? 0, ...(b.allowPartialMessage ? { allow_partial_message: true } : {}), ...(b.packAsBytes ? { pack_as_bytes: true } : {}) };
    // Envoy requires a positive limit; Istio leaves 0 to Envoy's validation (a NACK): refuse here instead
    if (!(Number(out.with_request_body.max_request_bytes) > 0)) return { error: 'includeRequestBodyInCheck.maxRequestBytes must be greater than 0' };
  }
  return out;
}

/** The ext_authz HTTP filter for a provider, or why it cannot be built. */
export function buildExtAuthzFilter(pc: PushContext, provider: ExtensionProvider): M | { error: string } {
  const http = provider.envoyExtAuthzHttp as HttpProvider | undefined;
  const grpc = provider.envoyExtAuthzGrpc as CommonProvider | undefined;
  const p = http ?? grpc;
  if (p === undefined) return { error: `extension provider "${provider.name}" is not envoyExtAuthzHttp or envoyExtAuthzGrpc` };
  const port = Number(p.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { error: `port ${JSON.stringify(p.port)} is not in 1-65535` };
  const host = resolveService(pc, p.service);
  if (typeof host !== 'string') return host;
  const timeoutText = p.timeout ?? DEFAULT_TIMEOUT;
  if (parseDurationMs(timeoutText) === undefined) return { error: `timeout ${JSON.stringify(p.timeout)} is not a duration` };
  const base = common(p);
  if ('error' in base) return base as { error: string };
  const cluster = outboundClusterName(port, undefined, host);
  const cfg: M = { '@type': EXT_AUTHZ_TYPE, ...base };
  if (http) {
    if (http.pathPrefix && !http.pathPrefix.startsWith('/')) return { error: `pathPrefix must begin with /, found ${JSON.stringify(http.pathPrefix)}` };
    const service: M = { server_uri: { uri: `http://${host}`, cluster, timeout: duration(timeoutText) } };
    if (http.pathPrefix) service.path_prefix = http.pathPrefix;
    const allowed = headerList(http.includeRequestHeadersInCheck?.length ? http.includeRequestHeadersInCheck : http.includeHeadersInCheck);
    const add = Object.entries(http.includeAdditionalHeadersInCheck ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => ({ key, value }));
    if (allowed || add.length) service.authorization_request = { ...(allowed ? { allowed_headers: allowed } : {}), ...(add.length ? { headers_to_add: add } : {}) };
    const up = headerList(http.headersToUpstreamOnAllow);
    const deny = headerList(http.headersToDownstreamOnDeny);
    const allow = headerList(http.headersToDownstreamOnAllow);
    if (up || deny || allow) {
      service.authorization_response = {
        ...(up ? { allowed_upstream_headers: up } : {}),
        ...(deny ? { allowed_client_headers: deny } : {}),
        ...(allow ? { allowed_client_headers_on_success: allow } : {}),
      };
    }
    cfg.http_service = service;
  } else {
    cfg.grpc_service = { envoy_grpc: { cluster_name: cluster, authority: cluster.replaceAll('|', '_.') }, timeout: duration(timeoutText) };
  }
  return { name: EXT_AUTHZ_FILTER, typed_config: cfg };
}
