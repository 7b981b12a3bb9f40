/**
 * Route and virtual host `rate_limits` (envoy.config.route.v3.RateLimit), compiled once per RDS
 * update: each entry has a stage and a list of actions; at request time the actions of an entry
 * produce one descriptor (a list of key/value entries) for the global rate limit filter, or none
 * when an action has nothing to say (a missing header without skip_if_absent, a header match that
 * did not come out as expected). Implemented actions: source_cluster, destination_cluster,
 * request_headers (pseudo headers :path, :method, :authority, :scheme included), remote_address,
 * generic_key, header_value_match. Any other action, `limit` overrides and `disable_key` are
 * refused (NACK): they would change which bucket a request counts in.
 */
import { fail } from '../core/errors.js';
import type { HeaderMap } from '../core/header-map.js';
import { compileHeaderMatcher, type HeaderPredicate } from '../core/string-matcher.js';

export interface DescriptorEntry {
  key: string;
  value: string;
}

/** What the actions read from a request. */
export interface RateLimitInput {
  method: string;
  /** path with query, as Envoy's :path */
  path: string;
  authority: string;
  scheme: string;
  headers: HeaderMap;
  /** the downstream client's address */
  remoteAddress: string;
  /** the proxy's service cluster (node.cluster) */
  localCluster: string;
  /** the cluster the route sends the request to ('' when not a single cluster) */
  destinationCluster: string;
}

type Action = (r: RateLimitInput, out: DescriptorEntry[]) => boolean;

export interface RateLimitEntry {
  stage: number;
  actions: Action[];
}

const ACTIONS = new Set(['source_cluster', 'destination_cluster', 'request_headers', 'remote_address', 'generic_key', 'header_value_match']);

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function headerOf(r: RateLimitInput, name: string): string | undefined {
  switch (name) {
    case ':path': return r.path;
    case ':method': return r.method;
    case ':authority': return r.authority;
    case ':scheme': return r.scheme;
    case 'host': return first(r.headers.host) ?? r.authority;
    default: return first(r.headers[name]);
  }
}

/** a proto3 field that is set (defaults are the same as absent) */
function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== false && v !== '' && v !== 0 && !(Array.isArray(v) && v.length === 0);
}

function compileAction(a: Record<string, any>, where: string): Action {
  const set = Object.keys(a).filter((k) => isSet(a[k]) || (a[k] && typeof a[k] === 'object'));
  if (set.length !== 1) fail(`${where}: exactly one action must be set (got ${set.join(', ') || 'none'})`);
  const kind = set[0];
  if (!ACTIONS.has(kind)) fail(`${where}.${kind} is not implemented by this proxy (implemented: ${[...ACTIONS].join(', ')})`);
  const v = (a[kind] ?? {}) as Record<string, any>;
  const w = `${where}.${kind}`;
  const only = (known: string[]): void => {
    for (const k of Object.keys(v)) if (!known.includes(k) && isSet(v[k])) fail(`${w}.${k} is not implemented by this proxy`);
  };
  switch (kind) {
    case 'source_cluster':
      only([]);
      return (r, out) => (out.push({ key: 'source_cluster', value: r.localCluster }), true);
    case 'destination_cluster':
      only([]);
      return (r, out) => {
        if (!r.destinationCluster) return false;
        out.push({ key: 'destination_cluster', value: r.destinationCluster });
        return true;
      };
    case 'remote_address':
      only([]);
      return (r, out) => {
        if (!r.remoteAddress) return false;
        out.push({ key: 'remote_address', value: r.remoteAddress });
        return true;
      };
    case 'request_headers': {
      only(['header_name', 'descriptor_key', 'skip_if_absent']);
      const name = String(v.header_name ?? '').toLowerCase();
      const key = String(v.descriptor_key ?? '');
      if (!name) fail(`${w}.header_name is required`);
      if (!key) fail(`${w}.descriptor_key is required`);
      const skip = v.skip_if_absent === true;
      return (r, out) => {
        const value = headerOf(r, name);
        if (value === undefined) return skip;
        out.push({ key, value });
        return true;
      };
    }
    case 'generic_key': {
      only(['descriptor_value', 'descriptor_key']);
      const value = String(v.descriptor_value ?? '');
      if (!value) fail(`${w}.descriptor_value is required`);
      const key = String(v.descriptor_key || 'generic_key');
      return (_r, out) => (out.push({ key, value }), true);
    }
    case 'header_value_match': {
      only(['descriptor_key', 'descriptor_value', 'expect_match', 'headers']);
      const value = String(v.descriptor_value ?? '');
      if (!value) fail(`${w}.descriptor_value is required`);
      const key = String(v.descriptor_key || 'header_match');
      const expect = v.expect_match?.value ?? v.expect_match ?? true;
      const list = (v.headers ?? []) as Array<Record<string, any>>;
      if (list.length === 0) fail(`${w}.headers needs at least one header matcher`);
      const preds: HeaderPredicate[] = list.map((h, i) => {
        try {
          return compileHeaderMatcher(h);
        } catch (err) {
          fail(`${w}.headers[${i}]: ${(err as Error).message}`);
        }
      });
      const pseudo = preds.some((p) => p.name.startsWith(':'));
      return (r, out) => {
        const h = pseudo ? { ...r.headers, ':path': r.path, ':method': r.method, ':authority': r.authority, ':scheme': r.scheme } : r.headers;
        const matched = preds.every((p) => p.test(h));
        if (matched !== (expect !== false)) return false;
        out.push({ key, value });
        return true;
      };
    }
  }
  fail(`${w} is not implemented by this proxy`);
}

/** `rate_limits` of a route or virtual host (undefined or empty: none). */
export function compileRateLimits(list: unknown, where: string): RateLimitEntry[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) fail(`${where}: must be a list`);
  return (list as Array<Record<string, any>>).map((e, i) => {
    const w = `${where}[${i}]`;
    for (const k of Object.keys(e)) {
      if (k === 'stage' || k === 'actions' || !isSet(e[k])) continue;
      fail(`${w}.${k} is not implemented by this proxy`);
    }
    const stage = Number(e.stage?.value ?? e.stage ?? 0);
    if (!Number.isInteger(stage) || stage < 0 || stage > 10) fail(`${w}.stage: ${String(stage)} must be between 0 and 10`);
    const actions = ((e.actions ?? []) as Array<Record<string, any>>).map((a, j) => compileAction(a, `${w}.actions[${j}]`));
    if (actions.length === 0) fail(`${w}.actions needs at least one action`);
    return { stage, actions };
  });
}

/** The descriptors the entries of one stage produce for a request (Envoy: an entry whose actions do not all apply gives none). */
export function descriptorsOf(entries: readonly RateLimitEntry[], stage: number, r: RateLimitInput, out: DescriptorEntry[][]): void {
  for (const e of entries) {
    if (e.stage !== stage) continue;
    const d: DescriptorEntry[] = [];
    let ok = true;
    for (const a of e.actions) {
      if (!a(r, d)) {
        ok = false;
        break;
      }
    }
    if (ok && d.length > 0) out.push(d);
  }
}
