/**
 * `clew analyze`'s engine: validation (schema, semantics, cross-resource: Istio's codes where it
 * has them) plus the analyzers, over files alone or merged with a running control plane's config
 * (a file's resource replaces the running one of the same kind, namespace and name).
 */
import { resourceKey, validateResources, type ConfigResource, type ValidationMessage } from '../config/index.js';
import { ANALYZERS } from './analyzers.js';
import { fromValidation, LEVEL_ORDER, type AnalysisLevel, type AnalysisMessage } from './analyze-message.js';

export interface AnalyzeInput {
  files: ConfigResource[];
  /** messages from loading the files (syntax, schema, semantics) */
  loadMessages: ValidationMessage[];
  running?: ConfigResource[];
  /** hostnames of the running registry (services of proxies and Kubernetes); with the config's Services and ServiceEntries, what a destination may name */
  registryHosts?: string[];
  /** only these namespaces' resources are reported (undefined: all) */
  namespace?: string;
}

export function analyze(input: AnalyzeInput): AnalysisMessage[] {
  const merged = new Map<string, ConfigResource>();
  for (const r of input.running ?? []) merged.set(resourceKey(r), r);
  for (const r of input.files) merged.set(resourceKey(r), r);
  const all = [...merged.values()];
  const out = [
    ...input.loadMessages.map(fromValidation),
    ...validateResources(all, { knownHosts: new Set(input.registryHosts ?? []) }).map(fromValidation),
    ...ANALYZERS.flatMap((a) => a(all)),
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
