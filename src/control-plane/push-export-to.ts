/**
 * exportTo as Istio reads it: `*` everywhere, `.` the resource's own namespace, `~` nowhere,
 * anything else a namespace. A resource without exportTo takes the mesh default for its kind
 * (MeshConfig defaultServiceExportTo, defaultVirtualServiceExportTo,
 * defaultDestinationRuleExportTo), and without one of those it is exported everywhere.
 */
import type { MeshConfig } from '../config/mesh-config.js';

/** The namespace annotation a Kubernetes Service carries its exportTo in (comma separated). */
export const EXPORT_TO_ANNOTATION = 'networking.istio.io/exportTo';

export type ExportKind = 'service' | 'virtualService' | 'destinationRule';

const MESH_FIELD: Record<ExportKind, string> = {
  service: 'defaultServiceExportTo',
  virtualService: 'defaultVirtualServiceExportTo',
  destinationRule: 'defaultDestinationRuleExportTo',
};

/** The mesh's default exportTo for a kind; `['*']` when the mesh config sets none. */
export function meshDefaultExportTo(mesh: Readonly<MeshConfig>, kind: ExportKind): readonly string[] {
  const v = mesh[MESH_FIELD[kind]];
  if (Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'string')) return v as string[];
  return ['*'];
}

/** Whether a resource of `ownNamespace` with this exportTo (empty: `fallback`) is visible in `namespace`. */
export function isExportedTo(
  exportTo: readonly string[] | undefined,
  fallback: readonly string[],
  ownNamespace: string,
  namespace: string,
): boolean {
  const list = exportTo && exportTo.length > 0 ? exportTo : fallback;
  for (const e of list) {
    if (e === '*' || e === namespace || (e === '.' && ownNamespace === namespace)) return true;
  }
  return false;
}
