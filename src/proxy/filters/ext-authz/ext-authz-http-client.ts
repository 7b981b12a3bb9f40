/**
 * ext_authz over HTTP (Envoy's http_service): the check is a request to a host of the configured
 * cluster, through that cluster's connection pool (its transport socket, so mTLS to a meshed
 * authorization server works), with the client's method and `path_prefix` + path, Host,
 * Authorization and the allowed headers, `headers_to_add`, and the buffered body when
 * with_request_body is on (Content-Length 0 otherwise).
 * The answer: 200 allows (allowed_upstream_headers go to the upstream request,
 * allowed_client_headers_on_success to the client's response); 5xx, no answer, a reset or the
 * timeout is an error; any other status denies with that status, the server's body and its
 * headers (all but Host when allowed_client_headers is unset).
 */
import { isHeaderName, isHeaderValue } from '../../../xds/field-values.js';
import type { HeaderMap } from '../../core/header-map.js';
import type { InHeaders, OutHeaders } from '../../core/pool.js';
import { sideCall } from '../../upstream/side-call.js';
import type { ClusterSlot } from '../../upstream/cluster-slot.js';
import { authzHost, headerValue, type AuthzClient, type CheckInput, type CheckResult, type HeaderEdit } from './ext-authz-check.js';
import type { HttpTarget, NameList } from './ext-authz-config.js';

/** the most of an authorization server's response body kept for the denied reply */
const MAX_DENIED_BODY = 64 * 1024;
/** request headers every check carries (Host, Method and Path travel in the request line) */
const ALWAYS_SENT = new Set(['authorization']);
/** response headers never copied from the authorization server (framing, connection) */
const NOT_COPIED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'proxy-connection', 'te', 'trailer']);
/** with allowed_client_headers set, these still reach the client (Envoy) */
const CLIENT_ALWAYS = new Set(['www-authenticate', 'location', 'path', 'status']);

function edits(h: InHeaders, allow: NameList | undefined, append: boolean, always?: Set<string>): HeaderEdit[] {
  const out: HeaderEdit[] = [];
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || k.startsWith(':') || NOT_COPIED.has(k)) continue;
    if (allow !== undefined && !allow(k) && !always?.has(k)) continue;
    for (const one of Array.isArray(v) ? v : [v]) if (isHeaderName(k) && isHeaderValue(one)) out.push({ key: k, value: one, append });
  }
  return out;
}

export function checkRequestHeaders(t: HttpTarget, input: CheckInput): OutHeaders {
  const out: OutHeaders = {};
  for (const [k, v] of Object.entries(input.headers as HeaderMap)) {
    if (v === undefined || k.startsWith(':') || k === 'host' || k === 'content-length' || NOT_COPIED.has(k)) continue;
    if (ALWAYS_SENT.has(k) || t.allowedHeaders?.(k)) out[k] = headerValue(v);
  }
  for (const [k, v] of t.headersToAdd) out[k] = v;
  out['content-length'] = String(input.body?.length ?? 0);
  if (input.body !== undefined) out['x-envoy-auth-partial-body'] = String(input.partialBody);
  return out;
}

/** Maps an authorization server's HTTP answer to a decision (Envoy's raw HTTP client). */
export function httpCheckResult(t: HttpTarget, status: number, headers: InHeaders, body: string): CheckResult {
  if (status === 200) {
    return {
      kind: 'ok',
      upstream: [...edits(headers, t.upstreamHeaders ?? (() => false), false), ...edits(headers, t.upstreamHeadersToAppend ?? (() => false), true)],
      remove: [],
      downstream: edits(headers, t.clientHeadersOnSuccess ?? (() => false), false),
    };
  }
  if (status >= 500) return { kind: 'error', reason: `the authorization server answered ${status}` };
  return { kind: 'denied', status, headers: edits(headers, t.clientHeaders, false, CLIENT_ALWAYS), body };
}

export class HttpAuthzClient implements AuthzClient {
  constructor(private readonly t: HttpTarget, private readonly slot: ClusterSlot) {}

  check(input: CheckInput, done: (r: CheckResult) => void): () => void {
    const picked = authzHost(this.slot, this.t.cluster);
    if ('error' in picked) {
      done(picked.error);
      return () => undefined;
    }
    const { cluster, host } = picked;
    const t = this.t;
    const req = { method: input.method, path: t.pathPrefix + input.path, authority: input.authority, headers: checkRequestHeaders(t, input), body: input.body ?? null };
    return sideCall(cluster, host, req, { timeoutMs: t.timeoutMs, maxBody: MAX_DENIED_BODY, overLimit: 'truncate' }, (o) => {
      if (o.kind === 'response') done(httpCheckResult(t, o.response.status, o.response.headers, o.response.body.toString('utf8')));
      else if (o.kind === 'timeout') done({ kind: 'error', reason: `no answer within ${t.timeoutMs} ms (timeout)` });
      else done({ kind: 'error', reason: o.kind === 'error' ? o.message : 'response too large' });
    });
  }
}
