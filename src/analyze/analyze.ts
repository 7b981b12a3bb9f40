/**
 * `clew analyze`'s engine: validation (schema, semantics, cross-resource: Istio's codes where it
 * has them) plus the analyzers (analyzer-list.ts), over files alone or merged with a running
 * control plane's config (a file's resource replaces the running one of the same kind, namespace
 * and name). The control plane runs the same engine for `GET /apis/v1/analyze`.
 */
import { defaultMeshConfig, resourceKey, validateResources, type ConfigResource, type MeshConfig, type ValidationMessage } from '../config/index.js';
import type { WorkloadEntrySpec } from '../config/types.js';
import { ANALYZERS } from './analyzer-list.js';
import type { AnalyzedWorkload } from './analyzer-types.js';
import { fromValidation, LEVEL_ORDER, type AnalysisLevel, type AnalysisMessage } from './analyze-message.js';

export interface AnalyzeInput {
  files: ConfigResource[];
  /** messages from loading the files (syntax, schema, semantics) */
  loadMessages: ValidationMessage[];
  running?: ConfigResource[];
  /** hostnames of the running registry (services of proxies and Kubernetes); with the config's Services and ServiceEntries, what a destination may name */
  registryHosts?: string[];
  /** workloads of the running registry (WorkloadEntries of the config are added) */
  workloads?: AnalyzedWorkload[];
  /** the mesh config in force (default: Istio's default mesh config) */
  mesh?: MeshConfig;
  /** only these namespaces' resources are reported (undefined: all) */
  namespace?: string;
}

export function analyze(input: AnalyzeInput): AnalysisMessage[] {
  const merged = new Map<string, ConfigResource>();
  for (const r of input.running ?? []) merged.set(resourceKey(r), r);
  for (const r of input.files) merged.set(resourceKey(r), r);
  const all = [...merged.values()];
  const mesh = input.mesh ?? defaultMeshConfig();
  const workloads: AnalyzedWorkload[] = [
    ...(input.workloads ?? []),
    ...all.filter((r) => r.kind === 'WorkloadEntry')
      .map((r) => ({ name: r.metadata.name, namespace: r.metadata.namespace ?? 'default', labels: { ...r.metadata.labels, ...(r.spec as WorkloadEntrySpec).labels } })),
  ];
  const lookup = (kind: string, namespace: string, name: string) => merged.get(`${kind}/${namespace}/${name}`);
  const out = [
    ...input.loadMessages.map((m) => fromValidation(m, lookup)),
    ...validateResources(all, { knownHosts: new Set(input.registryHosts ?? []), meshConfig: mesh }).map((m) => fromValidation(m, lookup)),
    ...ANALYZERS.flatMap((a) => a(all, { mesh, workloads })),
  ];
  const seen = new Set<string>();
  return out
    .filter((m) => input.namespace === undefined || m.namespace === input.namespace)
    .filter((m) => {
      const k = `${m.code}|${m.kind}|${m.namespace}|${m.resourceName}|${m.field}|${m.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => LEVEL_ORDER[b.level] - LEVEL_ORDER[a.level] || a.code.localeCompare(b.code) || `${a.namespace}/${a.resourceName}`.localeCompare(`${b.namespace}/${b.resourceName}`));
}

/** Whether any message is at or above the threshold (istioctl's --failure-threshold, default Error). */
export function failsAt(messages: readonly AnalysisMessage[], threshold: AnalysisLevel): boolean {
  return messages.some((m) => LEVEL_ORDER[m.level] >= LEVEL_ORDER[threshold]);
}
