/** Per-resource validation: the kind's declarative schema, then its semantic rules (both from the kinds table). */
import { Codes, type ValidationMessage } from './messages.js';
import { checkSchema, isPlainObject } from './schema-dsl.js';
import { kindDefinition } from './kinds.js';
import type { ConfigResource } from './types.js';
import { Reporter } from './validate-reporter.js';
import { isDns1123Label, isDns1123Subdomain } from './value-host.js';

/** Schema and semantic validation of one resource (no cross-resource checks). */
export function validateResource(resource: ConfigResource): ValidationMessage[] {
  const rep = new Reporter(resource);
  const { name, namespace } = resource.metadata;
  if (!isDns1123Subdomain(name)) {
    rep.error('metadata.name', `invalid name "${name}" (lower-case alphanumerics, '-' and '.', starting and ending alphanumeric)`, Codes.name);
  }
  if (!isDns1123Label(namespace)) rep.error('metadata.namespace', `invalid namespace "${namespace}" (must be a DNS-1123 label)`, Codes.name);

  const def = kindDefinition(resource.kind);
  if (!def) return rep.messages;
  const spec = resource.spec;
  if (spec === undefined || spec === null) {
    if (!def.specOptional) rep.error('spec', 'is required', Codes.required);
    return rep.messages;
  }
  checkSchema(spec, def.schema, 'spec', (path, message, code) => rep.error(path, message, code));
  if (isPlainObject(spec)) def.semantic?.(spec, rep);
  return rep.messages;
}
