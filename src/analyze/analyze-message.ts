/** istioctl analyze's message shape: a code, a level, the resource, and Istio's message name. */
import type { ConfigResource, ValidationMessage } from '../config/index.js';
import { Codes } from '../config/messages.js';
import { istioWording, type ResourceLookup } from './analyze-wording.js';

export type AnalysisLevel = 'Error' | 'Warning' | 'Info';

export interface AnalysisMessage {
  code: string;
  /** Istio's name for the code, e.g. `ReferencedResourceNotFound` */
  name: string;
  level: AnalysisLevel;
  kind: string;
  namespace: string;
  resourceName: string;
  file?: string;
  line?: number;
  field?: string;
  message: string;
  /** the validator's own code when the message came from it under an Istio code (IST0106, IST0133, IST0002) */
  detailCode?: string;
}

/**
 * Istio's message codes Clew reports, with Istio's name and level (istio/istio
 * pkg/config/analysis/msg/messages.yaml). IST0104 GatewayPortNotOnWorkload and IST0113
 * MTLSPolicyConflict are retired in Istio (no analyzer emits them); IST0162 is IST0104's successor.
 */
export const ISTIO_CODES: Record<string, { name: string; level: AnalysisLevel }> = {
  IST0002: { name: 'Deprecated', level: 'Warning' },
  IST0101: { name: 'ReferencedResourceNotFound', level: 'Error' },
  IST0106: { name: 'SchemaValidationError', level: 'Error' },
  IST0108: { name: 'UnknownAnnotation', level: 'Warning' },
  IST0109: { name: 'ConflictingMeshGatewayVirtualServiceHosts', level: 'Error' },
  IST0110: { name: 'ConflictingSidecarWorkloadSelectors', level: 'Error' },
  IST0111: { name: 'MultipleSidecarsWithoutWorkloadSelectors', level: 'Error' },
  IST0112: { name: 'VirtualServiceDestinationPortSelectorRequired', level: 'Error' },
  IST0118: { name: 'PortNameIsNotUnderNamingConvention', level: 'Info' },
  IST0128: { name: 'NoServerCertificateVerificationDestinationLevel', level: 'Warning' },
  IST0129: { name: 'NoServerCertificateVerificationPortLevel', level: 'Warning' },
  IST0130: { name: 'VirtualServiceUnreachableRule', level: 'Warning' },
  IST0131: { name: 'VirtualServiceIneffectiveMatch', level: 'Info' },
  IST0132: { name: 'VirtualServiceHostNotFoundInGateway', level: 'Warning' },
  IST0133: { name: 'SchemaWarning', level: 'Warning' },
  IST0145: { name: 'ConflictingGateways', level: 'Error' },
  IST0157: { name: 'InvalidTelemetryProvider', level: 'Warning' },
  IST0159: { name: 'ConflictingTelemetryWorkloadSelectors', level: 'Error' },
  IST0160: { name: 'MultipleTelemetriesWithoutWorkloadSelectors', level: 'Error' },
  IST0162: { name: 'GatewayPortNotDefinedOnService', level: 'Warning' },
  IST0174: { name: 'UnknownDestinationRuleHost', level: 'Warning' },
};

/** Istio's names for the codes Clew reports. */
export const CODE_NAMES: Record<string, string> = Object.fromEntries(Object.entries(ISTIO_CODES).map(([c, v]) => [c, v.name]));

export const LEVEL_ORDER: Record<AnalysisLevel, number> = { Info: 0, Warning: 1, Error: 2 };

/** An analyzer's message about a resource, at Istio's level for the code. */
export function analysisMessage(r: ConfigResource, code: string, message: string, field?: string): AnalysisMessage {
  const def = ISTIO_CODES[code];
  if (!def) throw new Error(`analyze: ${code} is not in ISTIO_CODES`);
  return {
    code, name: def.name, level: def.level, kind: r.kind, namespace: r.metadata.namespace ?? 'default', resourceName: r.metadata.name,
    file: r.source?.file, line: r.source?.line, field, message,
  };
}

/**
 * A validator message as an analysis message, as istioctl maps its validation: Istio's own code
 * (at Istio's level) when the validator made one of Istio's checks; a deprecated field is IST0002
 * Deprecated; any other error is IST0106 SchemaValidationError and any other warning IST0133
 * SchemaWarning (the validator's code kept in `detailCode`). Istio's codes are worded with Istio's
 * templates (analyze-wording.ts).
 */
export function fromValidation(m: ValidationMessage, lookup?: ResourceLookup): AnalysisMessage {
  const ist = ISTIO_CODES[m.code] !== undefined;
  const code = ist ? m.code : m.code === Codes.deprecated ? 'IST0002' : m.severity === 'error' ? 'IST0106' : 'IST0133';
  const def = ISTIO_CODES[code];
  const text = ist ? istioWording(m, lookup) ?? m.message : m.field ? `${m.field}: ${m.message}` : m.message;
  return {
    code,
    name: def.name,
    level: def.level,
    kind: m.kind,
    namespace: m.namespace,
    resourceName: m.name,
    file: m.file || undefined,
    line: m.line || undefined,
    field: m.field || undefined,
    message: code === 'IST0002' ? `Deprecated: ${text}` : code === 'IST0106' ? `Schema validation error: ${text}` : code === 'IST0133' ? `Schema validation warning: ${text}` : text,
    ...(ist ? {} : { detailCode: m.code }),
  };
}

/** `Error [IST0101] (VirtualService default/reviews file.yaml:3) Referenced host not found` */
export function formatAnalysis(m: AnalysisMessage): string {
  const where = m.file ? ` ${m.file}${m.line ? `:${m.line}` : ''}` : '';
  return `${m.level} [${m.code}] (${m.kind} ${m.namespace}/${m.resourceName}${where}) ${m.message}`;
}
