/**
 * What an authorization check is about (Envoy's AttributeContext, taken from the stream once) and
 * what an authorization service can answer. Both clients (HTTP and gRPC) speak in these terms, so
 * the filter does not know which protocol ran.
 */
import type { HeaderMap } from '../../core/header-map.js';
import type { HttpFilterCallbacks } from '../../filter-api/http-filter.js';
import type { Cluster } from '../../upstream/cluster.js';
import type { ClusterSlot } from '../../upstream/cluster-slot.js';
import type { Host } from '../../upstream/host.js';
import { sideCallHost } from '../../upstream/side-call.js';

export interface CheckPeer {
  address: string;
  port: number;
  principal: string;
}

export interface CheckInput {
  method: string;
  /** path with query (Envoy's CheckRequest keeps the query in `path`) */
  path: string;
  authority: string;
  scheme: string;
  protocol: string;
  /** x-request-id */
  id: string;
  /** request headers, lower-case names, pseudo headers excluded */
  headers: HeaderMap;
  /** content-length, or -1 when unknown */
  size: number;
  /** the buffered request body (with_request_body) */
  body: Buffer | undefined;
  partialBody: boolean;
  source: CheckPeer;
  destination: CheckPeer;
  sni: string;
}

export interface HeaderEdit {
  key: string;
  value: string;
  /** append to an existing header instead of replacing it */
  append: boolean;
}

export type CheckResult =
  | { kind: 'ok'; upstream: HeaderEdit[]; remove: string[]; downstream: HeaderEdit[] }
  | { kind: 'denied'; status: number; headers: HeaderEdit[]; body: string }
  | { kind: 'error'; reason: string };

/** A client of one authorization service. `check` answers once; the returned function cancels. */
export interface AuthzClient {
  check(input: CheckInput, done: (r: CheckResult) => void): () => void;
}

export function headerValue(v: string | string[] | undefined): string | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : v;
}

export function checkInputOf(cb: HttpFilterCallbacks, body: Buffer | undefined, partialBody: boolean): CheckInput {
  const h = cb.headers;
  const conn = cb.conn;
  const len = headerValue(h['content-length']);
  return {
    method: cb.method,
    path: cb.path,
    authority: cb.authority,
    scheme: headerValue(h['x-forwarded-proto']) ?? (conn.tls ? 'https' : 'http'),
    protocol: cb.isHttp2 ? 'HTTP/2' : cb.isHttp10 ? 'HTTP/1.0' : 'HTTP/1.1',
    id: headerValue(h['x-request-id']) ?? '',
    headers: h,
    size: len !== undefined && /^\d+$/.test(len) ? Number(len) : -1,
    body,
    partialBody,
    source: { address: conn.remoteAddress, port: conn.remotePort, principal: conn.tls?.peerPrincipal ?? '' },
    destination: { address: conn.localAddress, port: conn.localPort, principal: conn.tls?.localPrincipal ?? '' },
    sni: conn.tls?.sni ?? '',
  };
}

/** Applies header edits from an authorization answer to a header map (pseudo headers and Host are never touched). */
export function applyHeaderEdits(h: HeaderMap, edits: readonly HeaderEdit[]): number {
  let n = 0;
  for (const e of edits) {
    if (e.key.startsWith(':') || e.key === 'host') continue;
    const cur = h[e.key];
    if (e.append && cur !== undefined) h[e.key] = Array.isArray(cur) ? [...cur, e.value] : [cur, e.value];
    else h[e.key] = e.value;
    n++;
  }
  return n;
}

/**
 * The authorization server's cluster and a healthy host of it, or the error result a check gets
 * when there is none (the shared side-call host choice, in check terms).
 */
export function authzHost(slot: ClusterSlot, clusterName: string): { cluster: Cluster; host: Host } | { error: CheckResult } {
  const picked = sideCallHost(slot, clusterName);
  return 'error' in picked ? { error: { kind: 'error', reason: picked.error } } : picked;
}
