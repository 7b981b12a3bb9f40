/**
 * mTLS in Istio's metrics: a stream whose connection was mutual TLS gets
 * `connection_security_policy="mutual_tls"` (shown by the destination reporter; the source reporter
 * says `unknown`, as Istio's does) and its peer's principal from the peer certificate, never from
 * metadata the peer could have made up: inbound from the client certificate of the downstream
 * connection, outbound from the server certificate of the upstream connection. The peer objects
 * are reused (metrics cache label sets by peer object), so this costs no allocation per request.
 */
import type { StreamInfo, PeerInfo } from '../core/stream-info.js';
import type { DownstreamTlsInfo } from '../core/connection-context.js';
import { overflowCounter } from '../../stats/stats-overflow.js';

const MAX_PRINCIPALS = 1024;
const byPeer = new WeakMap<PeerInfo, Map<string, PeerInfo>>();
const bare = new Map<string, PeerInfo>();
/** a principal cache (per peer, or for peers without metadata) cleared when full */
const PRINCIPALS_OVERFLOW = overflowCounter('peer_principal_cache');

function withPrincipal(peer: PeerInfo | undefined, principal: string): PeerInfo {
  if (peer?.principal === principal) return peer;
  let m: Map<string, PeerInfo>;
  if (peer) {
    m = byPeer.get(peer) ?? new Map();
    if (m.size === 0) byPeer.set(peer, m);
  } else m = bare;
  let p = m.get(principal);
  if (!p) {
    if (m.size >= MAX_PRINCIPALS) {
      m.clear();
      PRINCIPALS_OVERFLOW.inc();
    }
    p = peer ? { ...peer, principal } : { workload: '', namespace: '', principal };
    m.set(principal, p);
  }
  return p;
}

/** Marks a finished (or opened, for TCP) stream's security from its connections' TLS facts. */
export function applyPeerSecurity(info: StreamInfo, downstream: DownstreamTlsInfo | undefined): void {
  if (downstream !== undefined && info.requestedServerName === undefined && downstream.sni) info.requestedServerName = downstream.sni;
  const principal = info.direction === 'inbound' ? (downstream?.peerCertHash !== undefined ? downstream.peerPrincipal : undefined) : info.upstreamPeer?.peerPrincipal;
  if (principal === undefined) return;
  info.connectionSecurityPolicy = 'mutual_tls';
  info.peer = withPrincipal(info.peer, principal);
}
