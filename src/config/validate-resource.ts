/** Per-resource validation: the kind's declarative schema, then its semantic rules. */
import { Codes, type ValidationMessage } from './messages.js';
import { checkSchema, isPlainObject, type Schema } from './schema-dsl.js';
import { destinationRuleSchema } from './schema-destination-rule.js';
import { gatewaySchema } from './schema-gateway.js';
import { kubeServiceSchema } from './schema-kube.js';
import { serviceEntrySchema, workloadEntrySchema } from './schema-service-entry.js';
import { sidecarSchema } from './schema-sidecar.js';
import { telemetrySchema } from './schema-telemetry.js';
import { virtualServiceSchema } from './schema-virtual-service.js';
import { validateDestinationRule } from './semantic-destination-rule.js';
import { validateGateway } from './semantic-gateway.js';
import { validateKubeService } from './semantic-kube-service.js';
import { validateServiceEntry, validateWorkloadEntry } from './semantic-service-entry.js';
import { validateSidecar } from './semantic-sidecar.js';
import { validateTelemetry } from './semantic-telemetry.js';
import { validateVirtualService } from './semantic-virtual-service.js';
import type { Obj } from './semantic-util.js';
import type { ConfigResource, IstioKind } from './types.js';
import { Reporter } from './validate-reporter.js';
import { isDns1123Label, isDns1123Subdomain } from './value-host.js';

interface KindRules {
  schema: Schema;
  semantic?: (spec: Obj, rep: Reporter) => void;
}

const RULES: Record<IstioKind, KindRules> = {
  VirtualService: { schema: virtualServiceSchema, semantic: validateVirtualService },
  DestinationRule: { schema: destinationRuleSchema, semantic: validateDestinationRule },
  Gateway: { schema: gatewaySchema, semantic: validateGateway },
  ServiceEntry: { schema: serviceEntrySchema, semantic: validateServiceEntry },
  WorkloadEntry: { schema: workloadEntrySchema, semantic: (s, r) => validateWorkloadEntry(s, 'spec', r) },
  Sidecar: { schema: sidecarSchema, semantic: validateSidecar },
  Service: { schema: kubeServiceSchema, semantic: validateKubeService },
  Telemetry: { schema: telemetrySchema, semantic: validateTelemetry },
};

/** Schema and semantic validation of one resource (no cross-resource checks). */
export function validateResource(resource: ConfigResource): ValidationMessage[] {
  const rep = new Reporter(resource);
  const { name, namespace } = resource.metadata;
  if (!isDns1123Subdomain(name)) {
    rep.error('metadata.name', `invalid name "${name}" (lower-case alphanumerics, '-' and '.', starting and ending alphanumeric)`, Codes.name);
  }
  if (!isDns1123Label(namespace)) rep.error('metadata.namespace', `invalid namespace "${namespace}" (must be a DNS-1123 label)`, Codes.name);

  const rules = RULES[resource.kind];
  if (!rules) return rep.messages;
  const spec = resource.spec;
  if (spec === undefined || spec === null) {
    if (resource.kind !== 'Telemetry') rep.error('spec', 'is required', Codes.required);
    return rep.messages;
  }
  checkSchema(spec, rules.schema, 'spec', (path, message, code) => rep.error(path, message, code));
  if (isPlainObject(spec)) rules.semantic?.(spec, rep);
  return rep.messages;
}
