/** PeerAuthentication spec schema (security.istio.io v1beta1 and v1). */
import { enm, map, obj, type Schema } from './schema-dsl.js';
import { labelSelector } from './schema-common.js';

/** MutualTLS.Mode: UNSET=0 inherits from the parent scope */
export const MTLS_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;

const mutualTls = obj({ mode: enm(...MTLS_MODES) });

function portKey(k: string): string | undefined {
  return /^\d+$/.test(k) ? undefined : `port "${k}" is not a number`;
}

export const peerAuthenticationSchema: Schema = obj({
  selector: labelSelector,
  mtls: mutualTls,
  // keyed by the workload's container port (a uint32 key in proto)
  portLevelMtls: map(mutualTls, portKey),
});
