/** Resource identity and YAML output (the control plane's config directory). */
import { stringify } from 'yaml';
import type { ConfigResource } from './types.js';
import { kindDefinition } from './kinds.js';

/** `Kind/namespace/name`. */
export function resourceKey(r: ConfigResource): string {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

/** Multi-document YAML with apiVersion, kind, metadata and spec; never the source position. */
export function toYaml(resources: ConfigResource[]): string {
  return resources
    .map((r) => {
      const metadata: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(r.metadata)) if (v !== undefined) metadata[k] = v;
      const doc: Record<string, unknown> = { apiVersion: r.apiVersion, kind: r.kind, metadata };
      if (kindDefinition(r.kind)?.topLevelSpec) Object.assign(doc, r.spec ?? {});
      else if (r.spec !== undefined) doc.spec = r.spec;
      // YAML 1.1 quoting ("on", "y", "0777"), so reading the file back (Kubernetes' rules) gives the same strings
      return stringify(doc, { lineWidth: 0, version: '1.1' });
    })
    .join('---\n');
}

/**
 * The resource as read APIs show it: values of sensitive kinds (Secret `data`/`stringData`) are
 * replaced by their size, so private keys never leave the control plane through a read.
 */
export function redacted(r: ConfigResource): ConfigResource {
  if (!kindDefinition(r.kind)?.sensitive) return r;
  const spec = { ...(r.spec as Record<string, unknown>) };
  for (const k of ['data', 'stringData']) {
    const m = spec[k];
    if (m && typeof m === 'object') {
      spec[k] = Object.fromEntries(Object.entries(m as Record<string, unknown>).map(([key, v]) => [key, `<redacted: ${typeof v === 'string' ? v.length : 0} characters>`]));
    }
  }
  return { ...r, spec };
}
