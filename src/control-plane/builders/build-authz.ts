/**
 * AuthorizationPolicy → Envoy RBAC filters for one proxy (pilot's authz builder, Istio's
 * semantics):
 * - policies in force: the root namespace's without a selector (mesh-wide), the proxy
 *   namespace's without one, and those whose selector (or Gateway targetRef) picks the workload;
 * - CUSTOM first (a shadow RBAC filter + the provider's ext_authz filter: build-ext-authz.ts),
 *   then one RBAC filter per action, in evaluation order DENY, AUDIT (Envoy LOG), ALLOW; an ALLOW
 *   filter exists as soon as one ALLOW policy applies, and denies what none of them allows
 *   (`spec: {}` allows nothing; `rules: [{}]` allows everything);
 * - Envoy policy names `ns[<ns>]-policy[<name>]-rule[<i>]`; dry-run policies
 *   (`istio.io/dry-run: "true"`) become shadow rules with stat prefix `istio_dry_run_allow_` /
 *   `istio_dry_run_deny_`;
 * - on TCP chains (network RBAC, stat prefix `tcp.`): a rule with HTTP-only fields is dropped
 *   from ALLOW (less is allowed) and loses only those fields in DENY/AUDIT (more is denied).
 */
import type { ConfigResource } from '../../config/types.js';
import {
  isPathTemplate, parseIpBlock, parseWhenKey, pathTemplateRegex, type WhenKey,
} from '../../config/authz-model.js';
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { NETWORK_RBAC_TYPE, RBAC_TYPE } from '../../xds/type-urls.js';
import type { PushContext } from '../push-context.js';
import { findExtensionProvider } from '../../config/mesh-config.js';
import { policiesInForce } from './build-policy-selection.js';
import { buildAuthnFilters } from './build-authn.js';
import { buildExtAuthzFilter, EXT_AUTHZ_POLICY_PREFIX, EXT_AUTHZ_SHADOW_PREFIX, isExtAuthzProvider } from './build-ext-authz.js';

export const HTTP_RBAC_FILTER = 'envoy.filters.http.rbac';
export const NETWORK_RBAC_FILTER = 'envoy.filters.network.rbac';
/** where the JWT filter leaves request.auth.* for RBAC (Istio's istio_authn filter metadata) */
export const AUTHN_METADATA_FILTER = 'istio_authn';

export interface AuthzSource {
  principals?: string[]; notPrincipals?: string[];
  requestPrincipals?: string[]; notRequestPrincipals?: string[];
  namespaces?: string[]; notNamespaces?: string[];
  serviceAccounts?: string[]; notServiceAccounts?: string[];
  ipBlocks?: string[]; notIpBlocks?: string[];
  remoteIpBlocks?: string[]; notRemoteIpBlocks?: string[];
}
export interface AuthzOperation {
  hosts?: string[]; notHosts?: string[];
  ports?: string[]; notPorts?: string[];
  methods?: string[]; notMethods?: string[];
  paths?: string[]; notPaths?: string[];
}
export interface AuthzRule {
  from?: Array<{ source?: AuthzSource }>;
  to?: Array<{ operation?: AuthzOperation }>;
  when?: Array<{ key: string; values?: string[]; notValues?: string[] }>;
}
export interface AuthorizationPolicySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: { group?: string; kind: string; name: string };
  targetRefs?: Array<{ group?: string; kind: string; name: string }>;
  action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  /** CUSTOM: the MeshConfig extension provider (envoyExtAuthzHttp / envoyExtAuthzGrpc) */
  provider?: { name?: string };
  rules?: AuthzRule[];
}
export type AuthorizationPolicy = ConfigResource<AuthorizationPolicySpec>;

const DRY_RUN = 'istio.io/dry-run';

/** The AuthorizationPolicies in force for a proxy, in namespace/name order. */
export function applicablePolicies(pc: PushContext, proxy: ProxyIdentity): AuthorizationPolicy[] {
  return policiesInForce<AuthorizationPolicySpec>(pc, proxy, 'AuthorizationPolicy');
}

// ---------------------------------------------------------------- string and field matchers
type M = EnvoyResource;

/** Istio's string match: `*` present, `abc*` prefix, `*abc` suffix, else exact */
function stringMatch(v: string, opts: { ignoreCase?: boolean; prefix?: string } = {}): M {
  const pre = opts.prefix ?? '';
  const ic = opts.ignoreCase ? { ignore_case: true } : {};
  if (v === '*') return { safe_regex: { regex: '.+' } };
  if (v.endsWith('*')) return { prefix: pre + v.slice(0, -1), ...ic };
  if (v.startsWith('*')) return { suffix: v.slice(1), ...ic };
  return { exact: pre + v, ...ic };
}

function regexEscape(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** `*`-patterns inside a larger regex */
function globRegex(v: string): string {
  if (v === '*') return '.+';
  if (v.endsWith('*')) return `${regexEscape(v.slice(0, -1))}.*`;
  if (v.startsWith('*')) return `.*${regexEscape(v.slice(1))}`;
  return regexEscape(v);
}

const orIds = (ids: M[]): M => (ids.length === 1 ? ids[0] : { or_ids: { ids } });
const andIds = (ids: M[]): M => (ids.length === 0 ? { any: true } : ids.length === 1 ? ids[0] : { and_ids: { ids } });
const orRules = (rules: M[]): M => (rules.length === 1 ? rules[0] : { or_rules: { rules } });
const andRules = (rules: M[]): M => (rules.length === 0 ? { any: true } : rules.length === 1 ? rules[0] : { and_rules: { rules } });

const principalId = (v: string): M => ({ authenticated: { principal_name: stringMatch(v, { prefix: v === '*' || v.startsWith('*') ? '' : 'spiffe://' }) } });
const namespaceId = (v: string): M => ({ authenticated: { principal_name: { safe_regex: { regex: `.*/ns/${globRegex(v)}/.*` } } } });
function serviceAccountId(v: string, defaultNs: string): M {
  const slash = v.indexOf('/');
  const ns = slash < 0 ? defaultNs : v.slice(0, slash);
  const sa = slash < 0 ? v : v.slice(slash + 1);
  return { authenticated: { principal_name: { safe_regex: { regex: `spiffe://.+/ns/${regexEscape(ns)}/(.+/|)sa/${regexEscape(sa)}(/.+)?` } } } };
}
function cidr(v: string): M {
  const b = parseIpBlock(v)!;
  return { address_prefix: b.address, prefix_len: { value: b.prefixLen } };
}
const authnMeta = (key: string, value: M): M => ({ metadata: { filter: AUTHN_METADATA_FILTER, path: [{ key }], value } });
const requestPrincipalId = (v: string): M => authnMeta('request.auth.principal', { string_match: stringMatch(v) });
const headerMatch = (name: string, v: string, ignoreCase = false): M => ({ header: { name, string_match: stringMatch(v, { ignoreCase }) } });
/** host with or without a port, case-insensitive (Istio) */
function hostRule(v: string): M {
  if (v === '*') return { header: { name: ':authority', present_match: true } };
  if (v.endsWith('*')) return headerMatch(':authority', v, true);
  const withPort = v.startsWith('*')
    ? { safe_regex: { regex: `(?i).*${regexEscape(v.slice(1))}:[0-9]+` } }
    : { prefix: `${v}:`, ignore_case: true };
  return orRules([headerMatch(':authority', v, true), { header: { name: ':authority', string_match: withPort } }]);
}
function pathRule(v: string): M {
  if (isPathTemplate(v)) return { url_path: { path: { safe_regex: { regex: pathTemplateRegex(v) } } } };
  return { url_path: { path: stringMatch(v) } };
}

/** values ORed, notValues ORed under a not; both ANDed */
function idField(values: string[] | undefined, notValues: string[] | undefined, one: (v: string) => M): M[] {
  const out: M[] = [];
  if (values?.length) out.push(orIds(values.map(one)));
  if (notValues?.length) out.push({ not_id: orIds(notValues.map(one)) });
  return out;
}
function permField(values: string[] | undefined, notValues: string[] | undefined, one: (v: string) => M): M[] {
  const out: M[] = [];
  if (values?.length) out.push(orRules(values.map(one)));
  if (notValues?.length) out.push({ not_rule: orRules(notValues.map(one)) });
  return out;
}

// ---------------------------------------------------------------- rules
interface Built {
  permissions: M[];
  principals: M[];
}

/** A rule's RBAC policy, or undefined when it is dropped (ALLOW rule with HTTP-only fields on TCP). */
function buildRule(rule: AuthzRule, ns: string, tcp: boolean, action: string): Built | undefined {
  const drop = tcp && action === 'ALLOW';
  const from = rule.from ?? [];
  const to = rule.to ?? [];
  const when = rule.when ?? [];
  const principalsFor = (s: AuthzSource): M[] | undefined => {
    if (tcp && (s.requestPrincipals?.length || s.notRequestPrincipals?.length) && drop) return undefined;
    return [
      ...idField(s.principals, s.notPrincipals, principalId),
      ...(tcp ? [] : idField(s.requestPrincipals, s.notRequestPrincipals, requestPrincipalId)),
      ...idField(s.namespaces, s.notNamespaces, namespaceId),
      ...idField(s.serviceAccounts, s.notServiceAccounts, (v) => serviceAccountId(v, ns)),
      ...idField(s.ipBlocks, s.notIpBlocks, (v) => ({ direct_remote_ip: cidr(v) })),
      ...idField(s.remoteIpBlocks, s.notRemoteIpBlocks, (v) => ({ remote_ip: cidr(v) })),
    ];
  };
  const permissionsFor = (o: AuthzOperation): M[] | undefined => {
    const http = !!(o.hosts?.length || o.notHosts?.length || o.methods?.length || o.notMethods?.length || o.paths?.length || o.notPaths?.length);
    if (tcp && http && drop) return undefined;
    return [
      ...(tcp ? [] : permField(o.hosts, o.notHosts, hostRule)),
      ...permField(o.ports, o.notPorts, (v) => ({ destination_port: Number(v) })),
      ...(tcp ? [] : permField(o.methods, o.notMethods, (v) => headerMatch(':method', v))),
      ...(tcp ? [] : permField(o.paths, o.notPaths, pathRule)),
    ];
  };
  // when: principal-side and permission-side conditions
  const whenIds: M[] = [];
  const whenPerms: M[] = [];
  for (const c of when) {
    const k = parseWhenKey(c.key) as WhenKey;
    if (k.kind.startsWith('request.') && tcp) {
      if (drop) return undefined;
      continue;
    }
    const conv = whenCondition(k, ns);
    if (conv.side === 'principal') whenIds.push(...idField(c.values, c.notValues, conv.one));
    else whenPerms.push(...permField(c.values, c.notValues, conv.one));
  }
  const principals: M[] = [];
  if (from.length === 0) principals.push(andIds(whenIds));
  for (const f of from) {
    const ids = principalsFor(f.source ?? {});
    if (ids === undefined) continue;
    principals.push(andIds([...ids, ...whenIds]));
  }
  const permissions: M[] = [];
  if (to.length === 0) permissions.push(andRules(whenPerms));
  for (const t of to) {
    const rules = permissionsFor(t.operation ?? {});
    if (rules === undefined) continue;
    permissions.push(andRules([...rules, ...whenPerms]));
  }
  if (principals.length === 0 || permissions.length === 0) return undefined;
  return { permissions, principals };
}

function whenCondition(k: WhenKey, ns: string): { side: 'principal' | 'permission'; one: (v: string) => M } {
  switch (k.kind) {
    case 'request.headers': return { side: 'principal', one: (v) => headerMatch(k.header, v) };
    case 'request.auth.principal': return { side: 'principal', one: requestPrincipalId };
    case 'request.auth.audiences':
    case 'request.auth.presenter':
      return { side: 'principal', one: (v) => authnMeta(k.kind, { list_match: { one_of: { string_match: stringMatch(v) } } }) };
    case 'request.auth.claims':
      return {
        side: 'principal',
        one: (v) => ({
          metadata: {
            filter: AUTHN_METADATA_FILTER,
            path: [{ key: 'request.auth.claims' }, ...k.claim.map((key) => ({ key }))],
            value: { list_match: { one_of: { string_match: stringMatch(v) } } },
          },
        }),
      };
    case 'source.ip': return { side: 'principal', one: (v) => ({ direct_remote_ip: cidr(v) }) };
    case 'remote.ip': return { side: 'principal', one: (v) => ({ remote_ip: cidr(v) }) };
    case 'source.namespace': return { side: 'principal', one: namespaceId };
    case 'source.principal': return { side: 'principal', one: principalId };
    case 'source.serviceAccount': return { side: 'principal', one: (v) => serviceAccountId(v, ns) };
    case 'destination.ip': return { side: 'permission', one: (v) => ({ destination_ip: cidr(v) }) };
    case 'destination.port': return { side: 'permission', one: (v) => ({ destination_port: Number(v) }) };
    case 'connection.sni': return { side: 'permission', one: (v) => ({ requested_server_name: stringMatch(v) }) };
  }
}

// ---------------------------------------------------------------- filters
type Action = 'ALLOW' | 'DENY' | 'LOG';

interface ActionRules {
  /** an ALLOW policy applies (even with no rules: it then allows nothing) */
  present: boolean;
  enforced: Record<string, M>;
  shadow: Record<string, M>;
  shadowPresent: boolean;
}

function collect(policies: AuthorizationPolicy[], action: 'ALLOW' | 'DENY' | 'AUDIT', tcp: boolean): ActionRules {
  const out: ActionRules = { present: false, enforced: {}, shadow: {}, shadowPresent: false };
  for (const p of policies) {
    if ((p.spec?.action ?? 'ALLOW') !== action) continue;
    const dry = p.metadata.annotations?.[DRY_RUN] === 'true';
    if (dry) out.shadowPresent = true;
    else out.present = true;
    (p.spec?.rules ?? []).forEach((rule, i) => {
      const b = buildRule(rule, p.metadata.namespace, tcp, action);
      if (!b) return;
      const name = `ns[${p.metadata.namespace}]-policy[${p.metadata.name}]-rule[${i}]`;
      (dry ? out.shadow : out.enforced)[name] = b;
    });
  }
  return out;
}

function rbacConfig(action: Action, policies: Record<string, M>): M {
  const c: M = {};
  if (action !== 'ALLOW') c.action = action;
  if (Object.keys(policies).length) c.policies = policies;
  return c;
}

/** The RBAC filters' typed configs (without name/@type) in evaluation order. */
function filterConfigs(policies: AuthorizationPolicy[], tcp: boolean): M[] {
  const out: M[] = [];
  const steps: Array<['DENY' | 'AUDIT' | 'ALLOW', Action, string]> = [
    ['DENY', 'DENY', 'istio_dry_run_deny_'],
    ['AUDIT', 'LOG', 'istio_dry_run_audit_'],
    ['ALLOW', 'ALLOW', 'istio_dry_run_allow_'],
  ];
  for (const [istio, envoy, shadowPrefix] of steps) {
    const r = collect(policies, istio, tcp);
    // DENY/AUDIT without rules do nothing; ALLOW with no rule still denies what it does not allow
    const enforce = istio === 'ALLOW' ? r.present : Object.keys(r.enforced).length > 0;
    const shadow = istio === 'ALLOW' ? r.shadowPresent : Object.keys(r.shadow).length > 0;
    if (!enforce && !shadow) continue;
    const c: M = {};
    if (enforce) c.rules = rbacConfig(envoy, r.enforced);
    if (shadow) {
      c.shadow_rules = rbacConfig(envoy, r.shadow);
      c.shadow_rules_stat_prefix = shadowPrefix;
    }
    out.push(c);
  }
  return out;
}

export interface AuthzFilters {
  /** HTTP filters before the router */
  http: EnvoyResource[];
  /** network filters before tcp_proxy */
  tcp: EnvoyResource[];
}

export const NO_AUTHZ: AuthzFilters = { http: [], tcp: [] };

/** Istio's answer to a CUSTOM policy it cannot build (unknown or mixed providers): deny everything. */
export const BAD_CUSTOM_POLICY = 'default-deny-all-due-to-bad-CUSTOM-action';
const DENY_ALL: M = { action: 'DENY', policies: { [BAD_CUSTOM_POLICY]: { permissions: [{ any: true }], principals: [{ any: true }] } } };

const httpRbac = (c: M): M => ({ name: HTTP_RBAC_FILTER, typed_config: { '@type': RBAC_TYPE, ...c } });
const tcpRbac = (c: M): M => ({ name: NETWORK_RBAC_FILTER, typed_config: { '@type': NETWORK_RBAC_TYPE, stat_prefix: 'tcp.', ...c } });

/** The CUSTOM rules as DENY-shaped RBAC policies named `istio-ext-authz-ns[..]-policy[..]-rule[i]`. */
function customRules(policies: AuthorizationPolicy[], tcp: boolean): Record<string, M> {
  const out: Record<string, M> = {};
  for (const p of policies) {
    (p.spec?.rules ?? []).forEach((rule, i) => {
      const b = buildRule(rule, p.metadata.namespace, tcp, 'DENY');
      if (b) out[`${EXT_AUTHZ_POLICY_PREFIX}-ns[${p.metadata.namespace}]-policy[${p.metadata.name}]-rule[${i}]`] = b;
    });
  }
  return out;
}

/**
 * CUSTOM policies (Istio's evaluation order: before DENY and ALLOW): a shadow RBAC filter marks
 * the requests a CUSTOM rule covers (`istio_ext_authz_shadow_effective_policy_id`), and the
 * provider's ext_authz filter checks only those. One provider per workload; a provider that is
 * unknown or does not build makes the workload deny everything, as Istio does. On TCP chains an
 * HTTP provider does nothing (as Istio); a gRPC provider would need the network ext_authz filter,
 * which Clew's proxy lacks, so the connections its rules cover are refused (fail closed).
 */
function customFilters(pc: PushContext, all: AuthorizationPolicy[]): AuthzFilters {
  const policies = all.filter((p) => p.spec?.action === 'CUSTOM');
  if (policies.length === 0) return NO_AUTHZ;
  const names = [...new Set(policies.map((p) => p.spec?.provider?.name ?? ''))];
  const provider = names.length === 1 ? findExtensionProvider(pc.meshConfig, names[0]) : undefined;
  const ext = provider !== undefined && isExtAuthzProvider(provider) ? buildExtAuthzFilter(pc, provider) : undefined;
  if (ext === undefined || 'error' in ext) return { http: [httpRbac({ rules: DENY_ALL })], tcp: [tcpRbac({ rules: DENY_ALL })] };
  const shadow = httpRbac({ shadow_rules: { action: 'DENY', policies: customRules(policies, false) }, shadow_rules_stat_prefix: EXT_AUTHZ_SHADOW_PREFIX });
  const tcpPolicies = customRules(policies, true);
  const tcp = provider!.envoyExtAuthzGrpc !== undefined && Object.keys(tcpPolicies).length > 0 ? [tcpRbac({ rules: { action: 'DENY', policies: tcpPolicies } })] : [];
  return { http: [shadow, ext], tcp };
}

/** RequestAuthentication's jwt_authn + istio_authn, then CUSTOM (ext_authz), then the RBAC filters. */
export function buildAuthzFilters(pc: PushContext, proxy: ProxyIdentity): AuthzFilters {
  const applicable = applicablePolicies(pc, proxy);
  const policies = applicable.filter((p) => (p.spec?.action ?? 'ALLOW') !== 'CUSTOM');
  const custom = customFilters(pc, applicable);
  const authn = buildAuthnFilters(pc, proxy);
  if (policies.length === 0 && authn.length === 0 && custom === NO_AUTHZ) return NO_AUTHZ;
  return {
    http: [...authn, ...custom.http, ...filterConfigs(policies, false).map(httpRbac)],
    tcp: [...custom.tcp, ...filterConfigs(policies, true).map(tcpRbac)],
  };
}
