/**
 * The headers an HttpConnectionManager sets on every request it accepts (Envoy's): x-request-id
 * when missing (generate_request_id), the peer appended to x-forwarded-for (use_remote_address),
 * and x-forwarded-proto. Shared by ordinary streams and Upgrade requests.
 */
import { newUuid } from '../random-ids.js';
import type { HeaderMap } from '../router/header-ops.js';
import type { HcmConfig } from './hcm-config.js';

/** Sets the HCM's request headers on `h`; returns the request id (undefined if none and none generated). */
export function applyHcmRequestHeaders(hcm: HcmConfig, h: HeaderMap, remoteAddress: string): string | undefined {
  let rid = h['x-request-id'];
  if (rid === undefined && hcm.generateRequestId) h['x-request-id'] = rid = newUuid();
  if (hcm.useRemoteAddress && !hcm.skipXffAppend) {
    const xff = h['x-forwarded-for'];
    h['x-forwarded-for'] = xff ? `${xff}, ${remoteAddress}` : remoteAddress;
  }
  if (h['x-forwarded-proto'] === undefined) h['x-forwarded-proto'] = 'http';
  return rid as string | undefined;
}
