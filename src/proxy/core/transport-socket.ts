/**
 * The transport-socket seam (Envoy's `transport_socket`): every upstream connection the proxy
 * opens (HTTP/1.1 and HTTP/2 pools, upgrades, TCP proxy, health checks, original-destination
 * passthrough) is opened by the UpstreamTransport its host resolved to, never by net.connect
 * directly. A transport is built once per cluster (and per transport_socket_matches entry) from
 * the cluster's config; the per-connection cost is the call itself.
 *
 * To add a transport socket: implement UpstreamTransport (and a parser of its typed_config) and
 * add it to TRANSPORT_SOCKETS in transport-registry.ts. A type URL not in that list is a NACK.
 */
import type * as net from 'node:net';

export interface UpstreamConnectOptions {
  /** read into the shared buffer of codec/socket-direct.ts (net's `onread`; raw and TLS sockets) */
  direct?: boolean;
  /** TCP keepalive initial delay (ms); undefined = none */
  keepaliveMs?: number;
  /** ALPN to offer instead of the configured list (Istio's istio.alpn filter, HTTP/2 pools) */
  alpn?: readonly string[];
  /** the local address to bind (the cluster's upstream_bind_config; set by ClusterTransports) */
  localAddress?: string;
}

/** What a connection's transport found out while connecting (telemetry and the access log). */
export interface UpstreamConnectionInfo {
  /** the peer's SPIFFE URI SAN (mTLS), if any */
  peerPrincipal: string | undefined;
  /** negotiated ALPN, if any */
  alpn: string | undefined;
}

export interface UpstreamTransport {
  /** 'raw_buffer' or 'tls' (stats, admin, messages) */
  readonly kind: string;
  /** true: bytes are encrypted (TLS) */
  readonly secure: boolean;
  /** the ALPN list it offers by default (empty: none) */
  readonly alpn: readonly string[];
  /** the socket event after which the connection carries application bytes */
  readonly readyEvent: 'connect' | 'secureConnect';
  /**
   * Opens a connection. Never throws: a transport that cannot connect now (a secret not yet
   * delivered) returns a socket that fails with the reason, so every caller has one failure path.
   */
  connect(host: string, port: number, opts: UpstreamConnectOptions): net.Socket;
  /** %UPSTREAM_TRANSPORT_FAILURE_REASON% of a socket that failed to connect, if the transport knows one */
  failureReason(socket: net.Socket): string | undefined;
  /** facts of an established connection */
  connectionInfo(socket: net.Socket): UpstreamConnectionInfo | undefined;
  /** why connections cannot be made yet (secrets still missing), or undefined when ready */
  notReady(): string | undefined;
  /** stops secret watches (the cluster was replaced) */
  close(): void;
}
