/**
 * Per-resource validation: Kubernetes' metadata rules (name, namespace, label and annotation
 * keys, with Kubernetes' messages), then the kind's declarative schema and semantic rules (both
 * from the kinds table).
 */
import { Codes, type ValidationMessage } from './messages.js';
import { checkSchema, isPlainObject } from './schema-dsl.js';
import { kindDefinition, type NameRule } from './kinds.js';
import type { ConfigResource } from './types.js';
import { Reporter } from './validate-reporter.js';
import { joinKey } from './field-path.js';
import {
  dns1035LabelErrors, dns1123LabelErrors, dns1123SubdomainErrors, invalidValue, labelValueErrors, qualifiedNameErrors,
} from './value-kube-name.js';

const NAME_RULES: Record<NameRule, (v: string) => string[]> = {
  dns1123Subdomain: dns1123SubdomainErrors,
  dns1035Label: dns1035LabelErrors,
};

function checkMetadata(resource: ConfigResource, nameRule: NameRule, rep: Reporter): void {
  const { name, namespace, labels, annotations } = resource.metadata;
  for (const e of NAME_RULES[nameRule](name)) rep.error('metadata.name', invalidValue(name, e), Codes.name);
  for (const e of dns1123LabelErrors(namespace)) rep.error('metadata.namespace', invalidValue(namespace, e), Codes.name);
  for (const [field, map] of [['metadata.labels', labels], ['metadata.annotations', annotations]] as const) {
    if (!isPlainObject(map)) continue;
    for (const [k, v] of Object.entries(map)) {
      for (const e of qualifiedNameErrors(k)) rep.error(field, invalidValue(k, e), Codes.name);
      if (field === 'metadata.labels' && typeof v === 'string') {
        for (const e of labelValueErrors(v)) rep.error(joinKey(field, k), invalidValue(v, e), Codes.name);
      }
    }
  }
}

/** Schema and semantic validation of one resource (no cross-resource checks). */
export function validateResource(resource: ConfigResource): ValidationMessage[] {
  const rep = new Reporter(resource);
  const def = kindDefinition(resource.kind);
  checkMetadata(resource, def?.nameRule ?? 'dns1123Subdomain', rep);
  if (!def) return rep.messages;
  const spec = resource.spec;
  if (spec === undefined || spec === null) {
    if (!def.specOptional) rep.error('spec', 'is required', Codes.required);
    return rep.messages;
  }
  // kinds without spec (Secret) name their top-level fields
  checkSchema(spec, def.schema, def.topLevelSpec ? '' : 'spec', (path, message, code, severity = 'error') => rep.add(severity, path, message, code));
  if (isPlainObject(spec)) def.semantic?.(spec, rep);
  return rep.messages;
}
