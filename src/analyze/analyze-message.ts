/** istioctl analyze's message shape: a code, a level, the resource, and Istio's message name. */
import type { ValidationMessage } from '../config/index.js';

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
}

/** Istio's names for the codes Clew reports. */
export const CODE_NAMES: Record<string, string> = {
  IST0101: 'ReferencedResourceNotFound',
  IST0106: 'SchemaValidationError',
  IST0108: 'UnknownAnnotation',
  IST0109: 'ConflictingMeshGatewayVirtualServiceHosts',
  IST0118: 'PortNameIsNotUnderNamingConvention',
  IST0132: 'VirtualServiceHostNotFoundInGateway',
  IST0145: 'ConflictingGateways',
  IST0159: 'ConflictingTelemetryWorkloadSelectors',
  IST0160: 'MultipleTelemetriesWithoutWorkloadSelectors',
  IST0174: 'UnknownDestinationRuleHost',
};

export const LEVEL_ORDER: Record<AnalysisLevel, number> = { Info: 0, Warning: 1, Error: 2 };

/**
 * A validator message as an analysis message: Istio's own code when it has one; any other error
 * (schema or semantics) is IST0106 SchemaValidationError; other warnings keep Clew's code.
 */
export function fromValidation(m: ValidationMessage): AnalysisMessage {
  const ist = /^IST\d{4}$/.test(m.code);
  const code = ist ? m.code : m.severity === 'error' ? 'IST0106' : m.code;
  return {
    code,
    name: CODE_NAMES[code] ?? code,
    level: m.severity === 'error' ? 'Error' : 'Warning',
    kind: m.kind,
    namespace: m.namespace,
    resourceName: m.name,
    file: m.file || undefined,
    line: m.line || undefined,
    field: m.field || undefined,
    message: m.field && !ist ? `${m.field}: ${m.message}` : m.message,
  };
}

/** `Error [IST0101] (VirtualService default/reviews file.yaml:3) Referenced host not found` */
export function formatAnalysis(m: AnalysisMessage): string {
  const where = m.file ? ` ${m.file}${m.line ? `:${m.line}` : ''}` : '';
  return `${m.level} [${m.code}] (${m.kind} ${m.namespace}/${m.resourceName}${where}) ${m.message}`;
}
