/**
 * Sidecar selector checks (Istio's sidecar SelectorAnalyzer): IST0111 more than one Sidecar of a
 * namespace without a workload selector; IST0110 two Sidecars selecting the same workload (the
 * workloads known: WorkloadEntries of the config, the running registry's workloads).
 */
import type { ConfigResource, SidecarSpec } from '../config/types.js';
import { analysisMessage, type AnalysisMessage } from './analyze-message.js';
import { selects, type AnalyzerContext } from './analyzer-types.js';

const labelsOf = (r: ConfigResource): Record<string, string> | undefined => (r.spec as SidecarSpec).workloadSelector?.labels;
const hasSelector = (r: ConfigResource): boolean => Object.keys(labelsOf(r) ?? {}).length > 0;

export function sidecarSelectors(resources: readonly ConfigResource[], ctx: AnalyzerContext): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  const byNs = new Map<string, ConfigResource[]>();
  for (const r of resources) {
    if (r.kind !== 'Sidecar') continue;
    const ns = r.metadata.namespace ?? 'default';
    byNs.set(ns, [...(byNs.get(ns) ?? []), r]);
  }
  for (const [ns, sidecars] of byNs) {
    const bare = sidecars.filter((s) => !hasSelector(s));
    if (bare.length > 1) {
      const names = bare.map((s) => s.metadata.name);
      for (const s of bare) {
        out.push(analysisMessage(s, 'IST0111', `The Sidecars [${names.join(' ')}] in namespace ${JSON.stringify(ns)} have no workload selector, which can lead to undefined behavior.`));
      }
    }
    const selecting = sidecars.filter(hasSelector);
    for (const w of ctx.workloads) {
      if (w.namespace !== ns) continue;
      const hits = selecting.filter((s) => selects(labelsOf(s), w.labels));
      if (hits.length < 2) continue;
      const names = hits.map((s) => s.metadata.name);
      for (const s of hits) {
        out.push(analysisMessage(s, 'IST0110',
          `The Sidecars [${names.join(' ')}] in namespace ${JSON.stringify(ns)} select the same workload pod ${JSON.stringify(w.name)}, which can lead to undefined behavior.`,
          'spec.workloadSelector'));
      }
    }
  }
  return out;
}
