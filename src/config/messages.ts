/**
 * Validation messages: one shape for YAML syntax errors, schema errors, semantic errors and
 * cross-resource analysis, so every caller (CLI, control plane) prints them the same way.
 */

export type Severity = 'error' | 'warning';

export interface ValidationMessage {
  file: string;
  line: number;
  kind: string;
  namespace: string;
  name: string;
  /** Field path such as `spec.http[0].route[1].weight`; empty for whole-document messages. */
  field: string;
  message: string;
  severity: Severity;
  /** Stable code: `IST0xxx` where Istio's analyzer has one, else `CLEW_*`. */
  code: string;
}

/**
 * `vs.yaml:14: VirtualService default/reviews: spec.http[0].route[1].weight: must be >= 0`;
 * warnings carry `warning: ` after the location.
 */
export function formatMessage(m: ValidationMessage): string {
  let out = `${m.file}:${m.line}: `;
  if (m.severity === 'warning') out += 'warning: ';
  if (m.kind) out += `${m.kind} ${m.namespace}/${m.name}: `;
  if (m.field) out += `${m.field}: `;
  return out + m.message;
}

export function hasErrors(messages: readonly ValidationMessage[]): boolean {
  return messages.some((m) => m.severity === 'error');
}

/** Stable message codes. */
export const Codes = {
  yamlSyntax: 'CLEW_YAML_SYNTAX',
  notObject: 'CLEW_NOT_AN_OBJECT',
  apiVersion: 'CLEW_UNSUPPORTED_API_VERSION',
  /** an Istio API group kind Clew does not implement */
  unsupportedKind: 'CLEW_UNSUPPORTED_KIND',
  duplicateResource: 'CLEW_DUPLICATE_RESOURCE',
  unknownField: 'CLEW_SCHEMA_UNKNOWN_FIELD',
  type: 'CLEW_SCHEMA_TYPE',
  required: 'CLEW_SCHEMA_REQUIRED',
  enum: 'CLEW_SCHEMA_ENUM',
  range: 'CLEW_SCHEMA_RANGE',
  exclusive: 'CLEW_SCHEMA_EXCLUSIVE',
  format: 'CLEW_SCHEMA_FORMAT',
  duration: 'CLEW_INVALID_DURATION',
  regex: 'CLEW_INVALID_REGEX',
  host: 'CLEW_INVALID_HOST',
  protocol: 'CLEW_UNKNOWN_PROTOCOL',
  name: 'CLEW_INVALID_NAME',
  empty: 'CLEW_EMPTY',
  duplicate: 'CLEW_DUPLICATE',
  tls: 'CLEW_TLS',
  mtls: 'CLEW_MTLS',
  secret: 'CLEW_SECRET',
  route: 'CLEW_ROUTE',
  weight: 'CLEW_WEIGHT',
  fault: 'CLEW_FAULT',
  header: 'CLEW_INVALID_HEADER',
  deprecated: 'CLEW_DEPRECATED',
  resolution: 'CLEW_RESOLUTION',
  sidecar: 'CLEW_SIDECAR',
  /** a valid Istio field Clew accepts but does not implement (warning) */
  noEffect: 'CLEW_NO_EFFECT',
  /** a valid Istio field Clew does not implement and refuses (security, routing or policy) */
  notImplemented: 'CLEW_NOT_IMPLEMENTED',
  exportTo: 'CLEW_EXPORT_TO',
  /** Istio analyzer codes (same meaning as istioctl analyze). */
  referenceNotFound: 'IST0101',
  conflictingVirtualServiceHosts: 'IST0109',
  portNameConvention: 'IST0118',
  unknownDestinationRuleHost: 'IST0174',
} as const;
