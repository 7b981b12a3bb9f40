/** What an analyzer sees besides the resources: the mesh config and the workloads known to exist. */
import type { ConfigResource, MeshConfig } from '../config/index.js';
import type { AnalysisMessage } from './analyze-message.js';

/** A workload instance (Istio's pod): WorkloadEntries of the config, the running registry's workloads. */
export interface AnalyzedWorkload {
  name: string;
  namespace: string;
  labels: Record<string, string>;
}

export interface AnalyzerContext {
  mesh: MeshConfig;
  workloads: readonly AnalyzedWorkload[];
}

export type Analyzer = (resources: readonly ConfigResource[], ctx: AnalyzerContext) => AnalysisMessage[];

/** Kubernetes' label selector match: every label of the selector is on the workload. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}
