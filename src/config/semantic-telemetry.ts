/**
 * Telemetry semantics (Istio's validation rules): provider references, selectors and target
 * references, custom tags, metric tag overrides, access-log filter expressions (CEL).
 */
import { celExpressionError } from '../xds/cel-expression.js';
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asObj, asObjList, asStr, findDuplicates, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';

/** Kinds a Telemetry may target, per API group (Istio's PolicyTargetReference rules). */
const TARGET_KINDS: Record<string, string[]> = {
  'gateway.networking.k8s.io': ['Gateway', 'GatewayClass'],
  '': ['Service'],
  core: ['Service'],
  'networking.istio.io': ['ServiceEntry'],
};

function validateProviders(list: unknown, p: string, rep: Reporter): void {
  const providers = asObjList(list);
  providers.forEach((prov, i) => {
    if (asStr(prov.name) === '') rep.error(joinKey(joinIndex(p, i), 'name'), 'must not be empty', Codes.empty);
  });
  findDuplicates(providers.map((prov) => asStr(prov.name)), (name, i) =>
    rep.warn(joinKey(joinIndex(p, i), 'name'), `provider "${name}" is listed twice`, Codes.duplicate),
  );
}

function validateTargetRef(ref: Obj, p: string, namespace: string, rep: Reporter): void {
  const group = asStr(ref.group) ?? '';
  const kind = asStr(ref.kind);
  const allowed = TARGET_KINDS[group];
  if (!allowed) {
    rep.error(joinKey(p, 'group'), `unsupported group "${group}" (expected gateway.networking.k8s.io, networking.istio.io or "" for Service)`, Codes.format);
  } else if (kind !== undefined && !allowed.includes(kind)) {
    rep.error(joinKey(p, 'kind'), `kind "${kind}" is not supported for group "${group}" (expected ${allowed.join(' or ')})`, Codes.format);
  }
  const ns = asStr(ref.namespace);
  if (ns !== undefined && ns !== '' && ns !== namespace) {
    rep.error(joinKey(p, 'namespace'), 'cross namespace referencing is not currently supported', Codes.format);
  }
}

/** accessLogging filter.expression: a CEL expression the proxy compiles (Envoy's CEL access-log filter) */
function validateLogFilter(filter: Obj, p: string, rep: Reporter): void {
  const expression = asStr(filter.expression);
  if (expression === undefined) return;
  const at = joinKey(p, 'expression');
  if (expression === '') rep.error(at, 'must not be empty', Codes.empty);
  else {
    const error = celExpressionError(expression);
    if (error) rep.error(at, `${error} in "${expression}"`, Codes.format);
  }
}

export function validateTelemetry(spec: Obj, rep: Reporter): void {
  const namespace = rep.resource.metadata.namespace;
  for (const [k, v] of Object.entries(asObj(asObj(spec.selector).matchLabels))) {
    const p = joinKey('spec.selector.matchLabels', k);
    if (k === '') rep.error(p, 'label key must not be empty', Codes.format);
    else if (k.includes('*')) rep.error(p, 'wildcard not allowed in label key match', Codes.format);
    if (typeof v === 'string' && v.includes('*')) rep.error(p, 'wildcard not allowed in label value match', Codes.format);
  }
  if (has(spec, 'targetRef')) validateTargetRef(asObj(spec.targetRef), 'spec.targetRef', namespace, rep);
  asObjList(spec.targetRefs).forEach((ref, i) => validateTargetRef(ref, joinIndex('spec.targetRefs', i), namespace, rep));

  asObjList(spec.tracing).forEach((t, i) => {
    const p = joinIndex('spec.tracing', i);
    validateProviders(t.providers, joinKey(p, 'providers'), rep);
    for (const [name, tag] of Object.entries(asObj(t.customTags))) {
      const tp = joinKey(joinKey(p, 'customTags'), name);
      const o = asObj(tag);
      if (!['literal', 'environment', 'header', 'formatter'].some((k) => has(o, k))) {
        rep.error(tp, 'must set one of literal, environment, header or formatter', Codes.empty);
      }
    }
  });

  asObjList(spec.metrics).forEach((m, i) => {
    const p = joinIndex('spec.metrics', i);
    validateProviders(m.providers, joinKey(p, 'providers'), rep);
    asObjList(m.overrides).forEach((o, j) => {
      const op = joinIndex(joinKey(p, 'overrides'), j);
      if (asStr(asObj(o.match).customMetric) === '') rep.error(joinKey(joinKey(op, 'match'), 'customMetric'), 'must not be empty', Codes.empty);
      for (const [tag, raw] of Object.entries(asObj(o.tagOverrides))) {
        const tp = joinKey(joinKey(op, 'tagOverrides'), tag);
        const to = asObj(raw);
        const operation = asStr(to.operation) ?? 'UPSERT';
        if (operation === 'UPSERT' && !asStr(to.value)) rep.error(tp, 'value must be set when operation is UPSERT', Codes.required);
        if (operation === 'REMOVE' && has(to, 'value')) rep.error(joinKey(tp, 'value'), 'value must not be set when operation is REMOVE', Codes.exclusive);
      }
    });
  });

  asObjList(spec.accessLogging).forEach((l, i) => {
    const p = joinIndex('spec.accessLogging', i);
    validateProviders(l.providers, joinKey(p, 'providers'), rep);
    validateLogFilter(asObj(l.filter), joinKey(p, 'filter'), rep);
  });
}
