/**
 * AuthorizationPolicy semantics (Istio's validation, plus what Clew does not implement yet):
 * `provider` only with CUSTOM, and CUSTOM needs a provider name (that it names an ext_authz
 * provider of the mesh config is checked across resources); every `from` has a source and every `to` an
 * operation; `when` keys known and with values; address blocks, ports and path templates
 * well-formed; serviceAccounts not mixed with principals/namespaces. A DENY rule with HTTP-only
 * fields and no ports warns that it denies more on TCP ports (Istio's widening rule).
 */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asList, asObj, asObjList, asStr, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';
import {
  HTTP_ONLY_OPERATION_FIELDS, HTTP_ONLY_SOURCE_FIELDS, isHttpOnlyWhen, parseIpBlock, parseWhenKey, pathTemplateError,
} from './authz-model.js';

const MAX_RULES = 512;

function strings(o: Obj, field: string, p: string, rep: Reporter, check?: (v: string) => string | undefined): void {
  asList(o[field]).forEach((v, i) => {
    const fp = joinIndex(joinKey(p, field), i);
    if (typeof v !== 'string' || v === '') return rep.error(fp, 'must be a non-empty string', Codes.empty);
    const err = check?.(v);
    if (err) rep.error(fp, err, Codes.format);
  });
}

const ipBlock = (v: string): string | undefined => (parseIpBlock(v) ? undefined : `invalid IP address or CIDR block "${v}"`);
const port = (v: string): string | undefined => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535 ? undefined : `invalid port "${v}" (1-65535)`);
const noWildcard = (v: string): string | undefined => (v.includes('*') ? `wildcards are not allowed in service accounts ("${v}")` : undefined);
const principalLike = (v: string): string | undefined => (v.length > 1 && v.slice(1, -1).includes('*') ? `"${v}": only a prefix, suffix or whole-value "*" is supported` : undefined);

function validateSource(s: Obj, p: string, rep: Reporter): void {
  if (Object.keys(s).length === 0) rep.error(p, 'must not be empty (a source needs at least one field)', Codes.empty);
  for (const f of ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces']) strings(s, f, p, rep, principalLike);
  for (const f of ['serviceAccounts', 'notServiceAccounts']) strings(s, f, p, rep, noWildcard);
  for (const f of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) strings(s, f, p, rep, ipBlock);
  if ((has(s, 'serviceAccounts') || has(s, 'notServiceAccounts'))
    && ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'].some((f) => has(s, f))) {
    rep.error(p, 'serviceAccounts cannot be combined with principals or namespaces', Codes.exclusive);
  }
  if (asList(s.serviceAccounts).length + asList(s.notServiceAccounts).length > 16) rep.error(joinKey(p, 'serviceAccounts'), 'at most 16 service accounts', Codes.range);
}

function validateOperation(o: Obj, p: string, rep: Reporter): void {
  if (Object.keys(o).length === 0) rep.error(p, 'must not be empty (an operation needs at least one field)', Codes.empty);
  for (const f of ['hosts', 'notHosts', 'methods', 'notMethods']) strings(o, f, p, rep, principalLike);
  for (const f of ['ports', 'notPorts']) strings(o, f, p, rep, port);
  for (const f of ['paths', 'notPaths']) strings(o, f, p, rep, (v) => pathTemplateError(v) ?? (v.includes('{') ? undefined : principalLike(v)));
}

function validateWhen(c: Obj, p: string, rep: Reporter): void {
  const key = asStr(c.key) ?? '';
  const parsed = parseWhenKey(key);
  if (typeof parsed === 'string') rep.error(joinKey(p, 'key'), parsed, Codes.format);
  if (asList(c.values).length === 0 && asList(c.notValues).length === 0) rep.error(p, 'at least one of values or notValues is required', Codes.required);
  if (typeof parsed === 'string') return;
  const check = parsed.kind === 'source.ip' || parsed.kind === 'remote.ip' || parsed.kind === 'destination.ip' ? ipBlock
    : parsed.kind === 'destination.port' ? port : undefined;
  strings(c, 'values', p, rep, check);
  strings(c, 'notValues', p, rep, check);
}

/** A DENY rule naming HTTP-only fields but no ports: on TCP ports it matches everything else it names. */
function widensOnTcp(rule: Obj): boolean {
  const http = asObjList(rule.from).some((f) => HTTP_ONLY_SOURCE_FIELDS.some((k) => has(asObj(f.source), k)))
    || asObjList(rule.to).some((t) => HTTP_ONLY_OPERATION_FIELDS.some((k) => has(asObj(t.operation), k)))
    || asObjList(rule.when).some((w) => {
      const k = parseWhenKey(asStr(w.key) ?? '');
      return typeof k !== 'string' && isHttpOnlyWhen(k);
    });
  const ports = asObjList(rule.to).some((t) => has(asObj(t.operation), 'ports') || has(asObj(t.operation), 'notPorts'));
  return http && !ports;
}

export function validateAuthorizationPolicy(spec: Obj, rep: Reporter): void {
  const action = asStr(spec.action) ?? 'ALLOW';
  if (has(spec, 'provider') && action !== 'CUSTOM') rep.error('spec.provider', 'provider is only allowed with action CUSTOM', Codes.format);
  if (action === 'CUSTOM' && !asStr(asObj(spec.provider).name)) {
    rep.error('spec.provider.name', 'CUSTOM needs the name of an extension provider (envoyExtAuthzHttp or envoyExtAuthzGrpc in the mesh config)', Codes.required);
  }
  for (const [k, v] of Object.entries(asObj(asObj(spec.selector).matchLabels))) {
    const p = joinKey('spec.selector.matchLabels', k);
    if (k === '' || k.includes('*')) rep.error(p, 'label key must be non-empty and without wildcards', Codes.format);
    if (typeof v === 'string' && v.includes('*')) rep.error(p, 'wildcard not allowed in label value match', Codes.format);
  }
  const refs = [...(has(spec, 'targetRef') ? [asObj(spec.targetRef)] : []), ...asObjList(spec.targetRefs)];
  if (refs.length > 16) rep.error('spec.targetRefs', 'at most 16 target references', Codes.range);
  refs.forEach((r, i) => {
    const p = has(spec, 'targetRef') && i === 0 ? 'spec.targetRef' : joinIndex('spec.targetRefs', has(spec, 'targetRef') ? i - 1 : i);
    const group = asStr(r.group) ?? '';
    if (!(asStr(r.kind) === 'Gateway' && (group === '' || group === 'gateway.networking.k8s.io'))) {
      rep.error(joinKey(p, 'kind'), `only Gateway (gateway.networking.k8s.io) targets are implemented by Clew (got ${group || 'core'}/${asStr(r.kind) ?? ''})`, Codes.format);
    }
    const ns = asStr(r.namespace);
    if (ns && ns !== rep.resource.metadata.namespace) rep.error(joinKey(p, 'namespace'), 'cross namespace referencing is not supported', Codes.format);
  });
  const rules = asObjList(spec.rules);
  if (rules.length > MAX_RULES) rep.error('spec.rules', `at most ${MAX_RULES} rules`, Codes.range);
  rules.forEach((rule, i) => {
    const p = joinIndex('spec.rules', i);
    asObjList(rule.from).forEach((f, j) => {
      const fp = joinIndex(joinKey(p, 'from'), j);
      if (!has(f, 'source')) rep.error(joinKey(fp, 'source'), 'is required', Codes.required);
      else validateSource(asObj(f.source), joinKey(fp, 'source'), rep);
    });
    asObjList(rule.to).forEach((t, j) => {
      const tp = joinIndex(joinKey(p, 'to'), j);
      if (!has(t, 'operation')) rep.error(joinKey(tp, 'operation'), 'is required', Codes.required);
      else validateOperation(asObj(t.operation), joinKey(tp, 'operation'), rep);
    });
    asObjList(rule.when).forEach((c, j) => validateWhen(c, joinIndex(joinKey(p, 'when'), j), rep));
    if ((action === 'DENY' || action === 'AUDIT') && widensOnTcp(rule)) {
      rep.warn(p, `on TCP ports the HTTP-only fields of this ${action} rule are ignored, so it applies to every TCP connection it otherwise matches; add to.operation.ports to scope it`, Codes.format);
    }
  });
}
