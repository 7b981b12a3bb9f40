/**
 * Envoy's RBAC engine (envoy.config.rbac.v3.RBAC) compiled once per config: an action and named
 * policies, each a list of permissions (what is asked) and principals (who asks), both ORed. A
 * policy matches when one permission and one principal match. The HTTP and the network RBAC
 * filters share it; on a connection (no request) header, path and metadata rules never match.
 *
 * Every rule kind Envoy has that this engine does not implement (CEL conditions, generic
 * matchers, URI templates, filter-state and sourced-metadata principals, audit logging) is
 * refused when the config is parsed: a NACK, never a rule silently skipped.
 */
import type { ConnectionContext } from '../../core/connection-context.js';
import type { HeaderMap } from '../../core/header-map.js';
import { compileCidr } from '../../core/cidr.js';
import { fail } from '../../core/errors.js';
import { compileHeaderMatcher, compileStringMatcher, type StringPredicate } from '../../core/string-matcher.js';
import { buildPathIndex, policyPathLiterals, type PathIndex } from './rbac-path-index.js';

/** What a rule can look at. HTTP fills the request part; network RBAC only `conn`. */
export interface RbacInput {
  conn: ConnectionContext;
  /** request headers (lower-case names; pseudo headers are read from the fields below) */
  headers?: HeaderMap;
  method?: string;
  /** path with query */
  path?: string;
  /** the path without its query, computed on first use by a url_path rule */
  urlPath?: string;
  authority?: string;
  /** dynamic metadata by filter namespace (the JWT filter's payload, Istio's request.auth.*) */
  metadata?(namespace: string): Record<string, unknown> | undefined;
}

type Rule = (r: RbacInput) => boolean;

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

export interface RbacPolicy {
  name: string;
  permission: Rule;
  principal: Rule;
}

export interface RbacEngine {
  action: RbacAction;
  policies: RbacPolicy[];
  /** the policies a request's path may match (rbac-path-index.ts); undefined: try them all */
  index: PathIndex<RbacPolicy> | undefined;
}

export interface RbacResult {
  /** the request may go on (LOG always allows) */
  allowed: boolean;
  /** the policy that matched (`undefined`: none did) */
  matched: string | undefined;
}

const NEVER: Rule = () => false;
const ALWAYS: Rule = () => true;

function only(obj: Record<string, any>, known: ReadonlySet<string>, where: string): void {
  for (const k of Object.keys(obj)) if (!known.has(k) && obj[k] !== undefined) fail(`${where}: ${k} is not implemented by this proxy`);
}

function oneKey(obj: Record<string, any>, where: string): string {
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined && obj[k] !== null);
  if (keys.length !== 1) fail(`${where}: exactly one rule kind expected (got ${keys.length ? keys.join(', ') : 'none'})`);
  return keys[0];
}

// two and three rules without a loop: most Istio rules have that few, and V8 inlines these
function anyOf(rules: Rule[]): Rule {
  if (rules.length === 1) return rules[0];
  if (rules.length === 2) {
    const [a, b] = rules;
    return (r) => a(r) || b(r);
  }
  if (rules.length === 3) {
    const [a, b, c] = rules;
    return (r) => a(r) || b(r) || c(r);
  }
  return (r) => {
    for (const f of rules) if (f(r)) return true;
    return false;
  };
}

function allOf(rules: Rule[]): Rule {
  if (rules.length === 1) return rules[0];
  if (rules.length === 2) {
    const [a, b] = rules;
    return (r) => a(r) && b(r);
  }
  if (rules.length === 3) {
    const [a, b, c] = rules;
    return (r) => a(r) && b(r) && c(r);
  }
  return (r) => {
    for (const f of rules) if (!f(r)) return false;
    return true;
  };
}

function pathOnly(p: string): string {
  const q = p.indexOf('?');
  return q < 0 ? p : p.slice(0, q);
}

/** The value a header rule looks at: the pseudo headers from the request, others from the header map (a list joined with ','). */
function headerValueOf(name: string): (r: RbacInput) => string | undefined {
  if (name === ':method') return (r) => r.method;
  if (name === ':path') return (r) => r.path;
  if (name === ':authority') return (r) => r.authority;
  if (name === ':scheme') return () => 'http';
  if (name.startsWith(':')) return () => undefined;
  return (r) => {
    const raw = r.headers![name];
    return Array.isArray(raw) ? raw.join(',') : raw;
  };
}

function plainKeys(o: Record<string, any>): string[] {
  return Object.keys(o).filter((k) => o[k] !== undefined && o[k] !== null);
}

/**
 * An OR of header rules that are all plain exact matches on one header (Istio's `methods`, and
 * `values` of a `request.headers[...]` condition) as one set lookup; undefined for anything else.
 * The rules were compiled (and checked) already: this only replaces their evaluation.
 */
function exactHeaderSet(list: Array<Record<string, any>>, key: 'header'): Rule | undefined {
  if (list.length < 2) return undefined;
  let name: string | undefined;
  const values = new Set<string>();
  for (const x of list) {
    if (!x || typeof x !== 'object') return undefined;
    const k = plainKeys(x);
    if (k.length !== 1 || k[0] !== key) return undefined;
    const h = x[key] as Record<string, any>;
    if (!h || typeof h !== 'object' || plainKeys(h).some((f) => f !== 'name' && f !== 'string_match')) return undefined;
    const sm = h.string_match as Record<string, any> | undefined;
    if (!sm || typeof sm !== 'object') return undefined;
    const sk = plainKeys(sm);
    if (sk.length !== 1 || sk[0] !== 'exact' || typeof sm.exact !== 'string') return undefined;
    const n = String(h.name ?? '').toLowerCase();
    if (!n || (name !== undefined && n !== name)) return undefined;
    name = n;
    values.add(sm.exact);
  }
  const value = headerValueOf(name!);
  return (r) => {
    if (r.headers === undefined) return false;
    const v = value(r);
    return v !== undefined && values.has(v);
  };
}

/**
 * An OR of url_path rules (Istio's `paths`) as one rule: the path without query is taken once
 * and each matcher tried on it, without a rule call per path. Undefined for any other OR. The
 * rules were compiled (and checked) already.
 */
function urlPathSet(list: Array<Record<string, any>>, where: string): Rule | undefined {
  if (list.length < 2) return undefined;
  for (const x of list) {
    if (!x || typeof x !== 'object') return undefined;
    const k = plainKeys(x);
    if (k.length !== 1 || k[0] !== 'url_path' || !x.url_path || typeof x.url_path !== 'object') return undefined;
    const uk = plainKeys(x.url_path);
    if (uk.length !== 1 || uk[0] !== 'path') return undefined;
  }
  const preds = list.map((x, i) => stringMatcher(x.url_path.path, `${where}.rules[${i}].url_path.path`));
  return (r) => {
    if (r.path === undefined) return false;
    const p = (r.urlPath ??= pathOnly(r.path));
    for (const m of preds) if (m(p)) return true;
    return false;
  };
}

/** HeaderMatcher over the request headers, with :method, :path, :authority and :scheme as Envoy sees them. */
function headerRule(h: Record<string, any>, where: string): Rule {
  let m;
  try {
    m = compileHeaderMatcher(h);
  } catch (err) {
    fail(`${where}: ${(err as Error).message}`);
  }
  const name = m.name;
  if (name.startsWith(':')) {
    // the pseudo header's value straight from the request (no header object per call)
    if (name === ':method') return (r) => r.headers !== undefined && m.testValue(r.method);
    if (name === ':path') return (r) => r.headers !== undefined && m.testValue(r.path);
    if (name === ':authority') return (r) => r.headers !== undefined && m.testValue(r.authority);
    if (name === ':scheme') return (r) => r.headers !== undefined && m.testValue('http');
    return (r) => r.headers !== undefined && m.testValue(undefined);
  }
  return (r) => r.headers !== undefined && m.test(r.headers);
}

function stringMatcher(m: Record<string, any> | undefined, where: string): StringPredicate {
  if (!m || typeof m !== 'object') fail(`${where}: a string matcher is required`);
  try {
    return compileStringMatcher(m);
  } catch (err) {
    fail(`${where}: ${(err as Error).message}`);
  }
}

/** envoy.type.matcher.v3.PathMatcher: the path without its query */
function urlPathRule(p: Record<string, any>, where: string): Rule {
  only(p, new Set(['path']), where);
  const m = stringMatcher(p.path, `${where}.path`);
  return (r) => r.path !== undefined && m((r.urlPath ??= pathOnly(r.path)));
}

// ---------------------------------------------------------------- metadata
type ValuePredicate = (v: unknown) => boolean;

/** envoy.type.matcher.v3.ValueMatcher over a plain JSON value */
function valueMatcher(v: Record<string, any> | undefined, where: string): ValuePredicate {
  if (!v || typeof v !== 'object') fail(`${where}: a value matcher is required`);
  const kind = oneKey(v, where);
  switch (kind) {
    case 'null_match': return (x) => x === null;
    case 'present_match': return v.present_match === false ? (x) => x === undefined : (x) => x !== undefined;
    case 'bool_match': return (x) => x === (v.bool_match === true);
    case 'string_match': {
      const m = stringMatcher(v.string_match, `${where}.string_match`);
      return (x) => typeof x === 'string' && m(x);
    }
    case 'double_match': {
      const d = v.double_match as Record<string, any>;
      if (d.exact !== undefined) return (x) => typeof x === 'number' && x === Number(d.exact);
      if (d.range) {
        const start = Number(d.range.start), end = Number(d.range.end);
        return (x) => typeof x === 'number' && x >= start && x < end;
      }
      fail(`${where}.double_match: exact or range expected`);
    }
    // fallthrough impossible: fail() throws
    case 'list_match': {
      const one = valueMatcher(v.list_match?.one_of, `${where}.list_match.one_of`);
      return (x) => Array.isArray(x) && x.some(one);
    }
    default:
      fail(`${where}: ${kind} is not implemented by this proxy`);
  }
}

/** envoy.type.matcher.v3.MetadataMatcher over the stream's dynamic metadata */
function metadataRule(m: Record<string, any>, where: string): Rule {
  only(m, new Set(['filter', 'path', 'value', 'invert']), where);
  const filter = String(m.filter ?? '');
  if (!filter) fail(`${where}: filter is required`);
  const path = ((m.path ?? []) as Array<Record<string, any>>).map((s, i) => {
    if (typeof s?.key !== 'string' || s.key === '') fail(`${where}.path[${i}]: key is required`);
    return s.key as string;
  });
  if (path.length === 0) fail(`${where}: path needs at least one segment`);
  const value = valueMatcher(m.value, `${where}.value`);
  const invert = m.invert === true;
  return (r) => {
    if (r.metadata === undefined) return false;
    let cur: unknown = r.metadata(filter);
    for (const k of path) {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) {
        cur = undefined;
        break;
      }
      cur = (cur as Record<string, unknown>)[k];
    }
    return value(cur) !== invert;
  };
}

/** A MetadataMatcher over dynamic metadata by namespace (ext_authz's filter_enabled_metadata). */
export type MetadataPredicate = (metadata: (namespace: string) => Record<string, unknown> | undefined) => boolean;

export function compileMetadataMatcher(m: Record<string, any>, where: string): MetadataPredicate {
  const rule = metadataRule(m, where);
  return (metadata) => rule({ metadata } as RbacInput);
}

// ---------------------------------------------------------------- permissions and principals
const PERMISSION_KINDS = new Set([
  'and_rules', 'or_rules', 'any', 'header', 'url_path', 'destination_ip', 'destination_port',
  'destination_port_range', 'metadata', 'not_rule', 'requested_server_name',
]);

function destIp(r: RbacInput): string {
  return r.conn.destination?.host ?? r.conn.localAddress;
}

function destPort(r: RbacInput): number {
  return r.conn.destination?.port ?? r.conn.localPort;
}

export function compilePermission(p: Record<string, any>, where: string): Rule {
  if (!p || typeof p !== 'object') fail(`${where}: a permission is required`);
  const kind = oneKey(p, where);
  if (!PERMISSION_KINDS.has(kind)) fail(`${where}: permission ${kind} is not implemented by this proxy`);
  const w = `${where}.${kind}`;
  switch (kind) {
    case 'any':
      return p.any === true ? ALWAYS : fail(`${w}: must be true`);
    case 'and_rules':
    case 'or_rules': {
      const raw = (p[kind].rules ?? []) as Array<Record<string, any>>;
      const rules = raw.map((x, i) => compilePermission(x, `${w}.rules[${i}]`));
      if (rules.length === 0) fail(`${w}: rules needs at least one entry`);
      return kind === 'and_rules' ? allOf(rules) : (exactHeaderSet(raw, 'header') ?? urlPathSet(raw, w) ?? anyOf(rules));
    }
    case 'not_rule': {
      const inner = compilePermission(p.not_rule, w);
      return (r) => !inner(r);
    }
    case 'header':
      return headerRule(p.header, w);
    case 'url_path':
      return urlPathRule(p.url_path, w);
    case 'destination_ip':
      {
        const m = compileCidr(p.destination_ip, w);
        return (r) => m(destIp(r));
      }
    case 'destination_port': {
      const port = Number(p.destination_port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`${w}: ${String(p.destination_port)} is not a port`);
      return (r) => destPort(r) === port;
    }
    case 'destination_port_range': {
      const start = Number(p.destination_port_range.start ?? 0);
      const end = Number(p.destination_port_range.end ?? 0);
      return (r) => {
        const port = destPort(r);
        return port >= start && port < end;
      };
    }
    case 'metadata':
      return metadataRule(p.metadata, w);
    case 'requested_server_name': {
      const m = stringMatcher(p.requested_server_name, w);
      return (r) => m(r.conn.tls?.sni ?? '');
    }
  }
  return NEVER;
}

const PRINCIPAL_KINDS = new Set([
  'and_ids', 'or_ids', 'any', 'authenticated', 'source_ip', 'direct_remote_ip', 'remote_ip',
  'header', 'url_path', 'metadata', 'not_id',
]);

/** The caller's address as the HCM resolved it (x-forwarded-for when trusted), else the socket's. */
function remoteIp(r: RbacInput): string {
  return r.conn.remoteAddress;
}

export function compilePrincipal(p: Record<string, any>, where: string): Rule {
  if (!p || typeof p !== 'object') fail(`${where}: a principal is required`);
  const kind = oneKey(p, where);
  if (!PRINCIPAL_KINDS.has(kind)) fail(`${where}: principal ${kind} is not implemented by this proxy`);
  const w = `${where}.${kind}`;
  switch (kind) {
    case 'any':
      return p.any === true ? ALWAYS : fail(`${w}: must be true`);
    case 'and_ids':
    case 'or_ids': {
      const raw = (p[kind].ids ?? []) as Array<Record<string, any>>;
      const ids = raw.map((x, i) => compilePrincipal(x, `${w}.ids[${i}]`));
      if (ids.length === 0) fail(`${w}: ids needs at least one entry`);
      return kind === 'and_ids' ? allOf(ids) : (exactHeaderSet(raw, 'header') ?? anyOf(ids));
    }
    case 'not_id': {
      const inner = compilePrincipal(p.not_id, w);
      return (r) => !inner(r);
    }
    case 'authenticated': {
      // the peer's certificate from the mTLS handshake: URI SANs, then DNS SANs, then the subject
      only(p.authenticated, new Set(['principal_name']), w);
      if (p.authenticated.principal_name === undefined) return (r) => r.conn.tls?.peerCertHash !== undefined;
      const m = stringMatcher(p.authenticated.principal_name, `${w}.principal_name`);
      return (r) => {
        const tls = r.conn.tls;
        if (tls === undefined || tls.peerCertHash === undefined) return false;
        for (const u of tls.peerUris) if (m(u)) return true;
        for (const d of tls.peerDns) if (m(d)) return true;
        return m(tls.peerSubject);
      };
    }
    case 'source_ip':
    case 'direct_remote_ip': {
      const m = compileCidr(p[kind], w);
      return (r) => m(r.conn.remoteAddress);
    }
    case 'remote_ip': {
      const m = compileCidr(p.remote_ip, w);
      return (r) => m(remoteIp(r));
    }
    case 'header':
      return headerRule(p.header, w);
    case 'url_path':
      return urlPathRule(p.url_path, w);
    case 'metadata':
      return metadataRule(p.metadata, w);
  }
  return NEVER;
}

const ACTIONS = new Set(['ALLOW', 'DENY', 'LOG']);

/** Compiles envoy.config.rbac.v3.RBAC; `where` prefixes every NACK message. */
export function compileRbac(c: Record<string, any>, where: string): RbacEngine {
  only(c, new Set(['action', 'policies']), where);
  const action = String(c.action ?? 'ALLOW');
  if (!ACTIONS.has(action)) fail(`${where}.action: ${action} is not implemented by this proxy`);
  const policies: RbacPolicy[] = [];
  const literals: Array<ReturnType<typeof policyPathLiterals>> = [];
  // policies is a map: Envoy evaluates it in key order, and reports the first match
  const raw = (c.policies ?? {}) as Record<string, Record<string, any>>;
  for (const name of Object.keys(raw).sort()) {
    const p = raw[name];
    const w = `${where}.policies[${name}]`;
    only(p ?? {}, new Set(['permissions', 'principals']), w);
    const perms = (p?.permissions ?? []) as Array<Record<string, any>>;
    const princs = (p?.principals ?? []) as Array<Record<string, any>>;
    if (perms.length === 0) fail(`${w}.permissions: at least one permission is required`);
    if (princs.length === 0) fail(`${w}.principals: at least one principal is required`);
    policies.push({
      name,
      permission: anyOf(perms.map((x, i) => compilePermission(x, `${w}.permissions[${i}]`))),
      principal: anyOf(princs.map((x, i) => compilePrincipal(x, `${w}.principals[${i}]`))),
    });
    literals.push(policyPathLiterals(perms));
  }
  return { action: action as RbacAction, policies, index: buildPathIndex(policies, literals) };
}

/** Envoy's decision: ALLOW allows on a match, DENY denies on a match, LOG always allows. */
export function evaluateRbac(e: RbacEngine, r: RbacInput): RbacResult {
  const ix = e.index;
  // only the policies the path may match (the index keeps their order): the same first match
  const list = ix === undefined ? e.policies : ix.candidates(r.path === undefined ? undefined : (r.urlPath ??= pathOnly(r.path)));
  return decide(e, firstMatch(list, r));
}

/** evaluateRbac without the path index: every policy in order (the index's property test compares the two). */
export function evaluateRbacPlain(e: RbacEngine, r: RbacInput): RbacResult {
  return decide(e, firstMatch(e.policies, r));
}

function firstMatch(list: readonly RbacPolicy[], r: RbacInput): string | undefined {
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    if (p.permission(r) && p.principal(r)) return p.name;
  }
  return undefined;
}

function decide(e: RbacEngine, matched: string | undefined): RbacResult {
  if (e.action === 'ALLOW') return { allowed: matched !== undefined, matched };
  if (e.action === 'DENY') return { allowed: matched === undefined, matched };
  return { allowed: true, matched };
}
