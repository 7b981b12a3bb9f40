/**
 * The headers an HttpConnectionManager sets on every request it accepts (Envoy's): x-request-id
 * when missing (generate_request_id), the peer appended to x-forwarded-for (use_remote_address),
 * x-forwarded-proto and x-forwarded-client-cert (xfcc.ts). Shared by ordinary streams and Upgrade requests.
 */
import { newUuid } from '../core/random-ids.js';
import type { HeaderMap } from '../core/header-map.js';
import type { DownstreamTlsInfo } from '../core/connection-context.js';
import type { HcmConfig } from './hcm-config.js';
import { applyXfcc, XFCC } from './xfcc.js';

/**
 * Sets the HCM's request headers on `h`; returns the request id (undefined if none and none
 * generated). `tls`: what the connection's TLS handshake established (x-forwarded-proto https,
 * x-forwarded-client-cert), undefined for plaintext.
 */
export function applyHcmRequestHeaders(hcm: HcmConfig, h: HeaderMap, remoteAddress: string, tls: DownstreamTlsInfo | undefined): string | undefined {
  let rid = h['x-request-id'];
  if (rid === undefined && hcm.generateRequestId) h['x-request-id'] = rid = newUuid();
  if (hcm.useRemoteAddress && !hcm.skipXffAppend) {
    const xff = h['x-forwarded-for'];
    h['x-forwarded-for'] = xff ? `${xff}, ${remoteAddress}` : remoteAddress;
  }
  if (h['x-forwarded-proto'] === undefined) h['x-forwarded-proto'] = tls !== undefined ? 'https' : 'http';
  // the plaintext fast path: SANITIZE with no header to remove costs one lookup
  if (tls !== undefined || hcm.xfcc.mode !== 'SANITIZE' || h[XFCC] !== undefined) applyXfcc(hcm.xfcc, h, tls);
  return rid as string | undefined;
}
