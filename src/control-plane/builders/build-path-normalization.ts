/**
 * MeshConfig `pathNormalization` as HttpConnectionManager fields, as Istio translates it for
 * every HTTP listener (sidecar inbound and outbound, gateways):
 *   NONE                      normalize_path false
 *   BASE, DEFAULT (unset)     normalize_path true
 *   MERGE_SLASHES             normalize_path true, merge_slashes true
 *   DECODE_AND_MERGE_SLASHES  normalize_path true, merge_slashes true, UNESCAPE_AND_FORWARD
 * path_with_escaped_slashes_action is KEEP_UNCHANGED otherwise.
 */
import type { MeshConfig } from '../../config/mesh-config.js';
import type { EnvoyResource } from '../../xds/codec.js';

export function pathNormalizationFields(mesh: Readonly<MeshConfig>): EnvoyResource {
  const kind = mesh.pathNormalization?.normalization ?? 'DEFAULT';
  const out: EnvoyResource = { normalize_path: { value: kind !== 'NONE' }, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' };
  if (kind === 'MERGE_SLASHES' || kind === 'DECODE_AND_MERGE_SLASHES') out.merge_slashes = true;
  if (kind === 'DECODE_AND_MERGE_SLASHES') out.path_with_escaped_slashes_action = 'UNESCAPE_AND_FORWARD';
  return out;
}
