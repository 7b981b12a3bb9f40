/**
 * x-forwarded-client-cert, Envoy's way (HCM forward_client_cert_details and
 * set_current_client_cert_details). Modes: SANITIZE (the default: the header is removed),
 * FORWARD_ONLY and APPEND_FORWARD and SANITIZE_SET (act on mTLS connections, sanitize otherwise),
 * ALWAYS_FORWARD_ONLY (always passed on). Our element: `By=<our URI SAN>;Hash=<hex SHA-256 of the
 * peer certificate>` then, as configured, `Cert`, `Chain`, `Subject="..."`, `URI`, `DNS`. Istio's
 * sidecar inbound: SANITIZE_SET with Subject, URI and DNS, so the app sees
 * `By=spiffe://…;Hash=…;Subject="";URI=spiffe://…`.
 */
import { fail } from '../core/errors.js';
import type { HeaderMap } from '../core/header-map.js';
import type { DownstreamTlsInfo } from '../core/connection-context.js';

export const XFCC = 'x-forwarded-client-cert';

export type XfccMode = 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';

export interface XfccConfig {
  mode: XfccMode;
  subject: boolean;
  uri: boolean;
  dns: boolean;
  cert: boolean;
  chain: boolean;
}

const MODES = new Set<XfccMode>(['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY']);

export const XFCC_SANITIZE: XfccConfig = { mode: 'SANITIZE', subject: false, uri: false, dns: false, cert: false, chain: false };

export function parseXfcc(tc: Record<string, any>): XfccConfig {
  const mode = String(tc.forward_client_cert_details ?? 'SANITIZE') as XfccMode;
  if (!MODES.has(mode)) fail(`HttpConnectionManager forward_client_cert_details: unknown ${mode}`);
  const s = (tc.set_current_client_cert_details ?? {}) as Record<string, any>;
  for (const k of Object.keys(s)) if (!['subject', 'uri', 'dns', 'cert', 'chain'].includes(k)) fail(`HttpConnectionManager set_current_client_cert_details.${k}: not implemented by this proxy`);
  const on = (v: unknown): boolean => (typeof v === 'object' && v !== null ? (v as { value?: boolean }).value === true : v === true);
  if (mode === 'SANITIZE' && Object.keys(s).length === 0) return XFCC_SANITIZE;
  return { mode, subject: on(s.subject), uri: on(s.uri), dns: on(s.dns), cert: on(s.cert), chain: on(s.chain) };
}

/**
 * Our element depends only on the HCM's settings and the connection's certificates, so it is
 * made once per connection (and HCM config) rather than per request: the last one made for each
 * connection's TLS facts, held as long as those facts are.
 */
const elements = new WeakMap<DownstreamTlsInfo, { cfg: XfccConfig; value: string }>();

function element(cfg: XfccConfig, t: DownstreamTlsInfo): string {
  const had = elements.get(t);
  if (had !== undefined && had.cfg === cfg) return had.value;
  const value = makeElement(cfg, t);
  elements.set(t, { cfg, value });
  return value;
}

function makeElement(cfg: XfccConfig, t: DownstreamTlsInfo): string {
  const parts: string[] = [];
  if (t.localPrincipal) parts.push(`By=${t.localPrincipal}`);
  if (t.peerCertHash) parts.push(`Hash=${t.peerCertHash}`);
  if (cfg.cert && t.peerCertPem) parts.push(`Cert="${encodeURIComponent(t.peerCertPem)}"`);
  if (cfg.chain && t.peerChainPem) parts.push(`Chain="${encodeURIComponent(t.peerChainPem)}"`);
  if (cfg.subject) parts.push(`Subject="${t.peerSubject.replace(/"/g, '\\"')}"`);
  if (cfg.uri) for (const u of t.peerUris) parts.push(`URI=${u}`);
  if (cfg.dns) for (const d of t.peerDns) parts.push(`DNS=${d}`);
  return parts.join(';');
}

/** Applies the HCM's XFCC policy to a request arriving on a connection with `tls` (undefined: plaintext). */
export function applyXfcc(cfg: XfccConfig, h: HeaderMap, tls: DownstreamTlsInfo | undefined): void {
  const mtls = tls !== undefined && tls.peerCertHash !== undefined;
  switch (cfg.mode) {
    case 'ALWAYS_FORWARD_ONLY':
      return;
    case 'FORWARD_ONLY':
      if (!mtls) delete h[XFCC];
      return;
    case 'APPEND_FORWARD':
      if (!mtls) delete h[XFCC];
      else {
        const old = h[XFCC];
        const mine = element(cfg, tls);
        h[XFCC] = old ? `${Array.isArray(old) ? old.join(',') : old},${mine}` : mine;
      }
      return;
    case 'SANITIZE_SET':
      if (!mtls) delete h[XFCC];
      else h[XFCC] = element(cfg, tls);
      return;
    default:
      if (h[XFCC] !== undefined) delete h[XFCC];
  }
}
