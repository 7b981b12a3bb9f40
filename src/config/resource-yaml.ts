/** Resource identity and YAML output (the control plane's config directory). */
import { stringify } from 'yaml';
import type { ConfigResource } from './types.js';

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
      if (r.spec !== undefined) doc.spec = r.spec;
      return stringify(doc, { lineWidth: 0 });
    })
    .join('---\n');
}
