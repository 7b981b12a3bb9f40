/** Per-connection facts the HCM and TcpProxy need, attached to the downstream socket. */
import type { Destination } from '../listener/destination.js';
import type { DownstreamTlsInfo } from '../transport/tls-downstream.js';

export interface ConnectionContext {
  listenerName: string;
  direction: 'inbound' | 'outbound';
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
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
}

export interface RoutedHost {
  /** ListenerManager generation the routing was made in */
  generation: number;
  host: string;
  destination: Destination;
  /** the HCM the destination's chain selected (an HttpConnectionManager) */
  hcm: unknown;
}

export const CONN_CTX = Symbol('clew.connectionContext');

type Carrier = { [CONN_CTX]?: ConnectionContext; stream?: Carrier } | undefined;

/** The context of a socket; also through node:http2's JSStreamSocket wrapper (`.stream`) of replayed sockets. */
export function contextOf(socket: unknown): ConnectionContext | undefined {
  const s = socket as Carrier;
  return s?.[CONN_CTX] ?? s?.stream?.[CONN_CTX];
}
