/**
 * IST0157 InvalidTelemetryProvider (Istio's telemetry ProviderAnalyzer): with no default access
 * log provider in the mesh config, a Telemetry access-logging entry that is not disabled and
 * names no provider does nothing.
 */
import type { ConfigResource, TelemetrySpec } from '../config/types.js';
import { analysisMessage, type AnalysisMessage } from './analyze-message.js';
import type { AnalyzerContext } from './analyzer-types.js';

export function telemetryProviders(resources: readonly ConfigResource[], ctx: AnalyzerContext): AnalysisMessage[] {
  if ((ctx.mesh.defaultProviders?.accessLogging ?? []).length > 0) return [];
  const out: AnalysisMessage[] = [];
  for (const t of resources) {
    if (t.kind !== 'Telemetry') continue;
    ((t.spec as TelemetrySpec).accessLogging ?? []).forEach((l, i) => {
      if (l.disabled === true || (l.providers ?? []).length > 0) return;
      out.push(analysisMessage(t, 'IST0157',
        `The Telemetry ${t.metadata.name} in namespace ${JSON.stringify(t.metadata.namespace ?? 'default')} with empty providers will be ignored.`,
        `spec.accessLogging[${i}]`));
    });
  }
  return out;
}
