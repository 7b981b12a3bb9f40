/** Per-connection facts the HCM and TcpProxy need, attached to the downstream socket. */
import type { Destination } from './destination.js';

export interface ConnectionContext {
  listenerName: string;
  direction: 'inbound' | 'outbound';
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  /** the port the connection was made to, as the listener's resource names it (`local` has the socket's own) */
  localPort: number;
  /** connection-level destination (SO_ORIGINAL_DST or CONNECT target), when known */
  destination: Destination | undefined;
  /** set when the listener that owns this connection is draining */
  draining: boolean;
  /** `address:port` of each end, formatted once per connection (access logs, StreamInfo) */
  remote: string;
  local: string;
  /**
   * The outbound dispatcher's routing of the connection's last request (local mode routes each
   * request by its Host): reused while the Host and the listener configuration are the same.
   */
  routed: RoutedHost | undefined;
  /**
   * What the downstream TLS handshake established (peer principal, certificate hash, SNI, ALPN,
   * our own principal), when the chain terminated TLS; undefined for plaintext. Filters read it
   * (XFCC, authorization), telemetry too (connection_security_policy, principals).
   */
  tls: DownstreamTlsInfo | undefined;
  /** chains whose network filters already let this connection through (local-mode dispatch) */
  admittedChains?: unknown[];
  /** why a network filter closed the connection (%CONNECTION_TERMINATION_DETAILS%) */
  terminationDetails?: string;
}

export interface RoutedHost {
  /** ListenerManager generation the routing was made in */
  generation: number;
  host: string;
  destination: Destination;
  /** the HCM the destination's chain selected (an HttpConnectionManager) */
  hcm: unknown;
  /** that chain's network filters and terminal (their filters run once per connection) */
  network: unknown;
}

export const CONN_CTX = Symbol('clew.connectionContext');

type Carrier = { [CONN_CTX]?: ConnectionContext; stream?: Carrier } | undefined;

/** The context of a socket; also through node:http2's JSStreamSocket wrapper (`.stream`) of replayed sockets. */
export function contextOf(socket: unknown): ConnectionContext | undefined {
  const s = socket as Carrier;
  return s?.[CONN_CTX] ?? s?.stream?.[CONN_CTX];
}

/** What the TLS handshake established, kept on the connection for filters and telemetry. */
export interface DownstreamTlsInfo {
  /** SNI the client asked for ('' when none) */
  sni: string;
  /** negotiated ALPN ('' when none) */
  alpn: string;
  /** the client's SPIFFE URI SAN (mTLS), if it presented a certificate with one */
  peerPrincipal: string | undefined;
  /** every URI SAN of the client certificate (XFCC URI=) */
  peerUris: string[];
  /** hex SHA-256 of the client certificate's DER (XFCC Hash=), if presented */
  peerCertHash: string | undefined;
  /** the client certificate's subject as text ('' for Istio's empty subject) */
  peerSubject: string;
  /** DNS SANs of the client certificate (XFCC DNS=) */
  peerDns: string[];
  /** the client certificate and its chain as PEM (XFCC Cert=, Chain=), made only when asked */
  peerCertPem: string | undefined;
  peerChainPem: string | undefined;
  /** our own certificate's SPIFFE URI (XFCC By=) */
  localPrincipal: string | undefined;
  /** TLS version, e.g. TLSv1.3 */
  version: string;
}
