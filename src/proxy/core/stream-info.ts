import type { UpstreamConnectionInfo } from './transport-socket.js';

/**
 * What the proxy knows about one HTTP request (or one TCP connection) once it is done: Envoy's
 * StreamInfo. The connection manager fills it; telemetry (stats, access log, tracing) reads it.
 */

export type ResponseFlag =
  | 'DC' | 'LH' | 'UH' | 'UT' | 'LR' | 'UR' | 'UF' | 'UC' | 'UO' | 'URX' | 'NR' | 'DI' | 'FI' | 'RL'
  | 'UAEX' | 'RLSE' | 'SI' | 'IH' | 'DPE' | 'UMSDR' | 'DT' | 'UPE' | 'NC' | 'DF' | 'DR';

/** Identity of a workload at one end of a call (from node metadata or metadata exchange). */
export interface PeerInfo {
  workload: string;
  namespace: string;
  app?: string;
  version?: string;
  canonicalService?: string;
  canonicalRevision?: string;
  principal?: string;
  cluster?: string;
}

export interface StreamInfo {
  /** wall-clock start, ms since epoch */
  startTime: number;
  /** monotonic start (performance.now()) */
  startMono: number;
  /** ms from start to the last byte sent downstream; set when complete */
  durationMs?: number;
  /** 'HTTP/1.1' | 'HTTP/2' | 'TCP' ... */
  protocol: string;
  /** 'inbound' when this proxy is the server side of the call, else 'outbound' */
  direction: 'inbound' | 'outbound';
  requestHeaders?: Record<string, string | string[] | undefined>;
  responseHeaders?: Record<string, string | string[] | undefined>;
  responseTrailers?: Record<string, string | string[] | undefined>;
  method?: string;
  path?: string;
  authority?: string;
  responseCode?: number;
  /** gRPC status from trailers/headers when the call was gRPC */
  grpcStatus?: number;
  responseFlags: Set<ResponseFlag>;
  bytesReceived: number;
  bytesSent: number;
  downstreamRemoteAddress?: string;
  downstreamLocalAddress?: string;
  upstreamHost?: string;
  upstreamCluster?: string;
  routeName?: string;
  /** the listener that accepted the connection */
  listenerName?: string;
  /** x-request-id */
  requestId?: string;
  attemptCount?: number;
  /** the other end of the call, when known */
  peer?: PeerInfo;
  /** destination service FQDN, when known (from the cluster name) */
  destinationService?: string;
  /** 'mutual_tls' | 'none' | 'unknown' */
  connectionSecurityPolicy?: string;

  // Optional fields read by telemetry (access-log operators, gRPC message counters, span names).
  /** gRPC messages seen in each direction (istio_request/response_messages_total) */
  grpcRequestMessages?: number;
  grpcResponseMessages?: number;
  /** %RESPONSE_CODE_DETAILS%, e.g. 'via_upstream', 'route_not_found' */
  responseCodeDetails?: string;
  /** %CONNECTION_TERMINATION_DETAILS% */
  connectionTerminationDetails?: string;
  /** %UPSTREAM_LOCAL_ADDRESS%: our side of the upstream connection */
  upstreamLocalAddress?: string;
  /** %REQUESTED_SERVER_NAME%: SNI of the downstream TLS connection */
  requestedServerName?: string;
  /** %UPSTREAM_TRANSPORT_FAILURE_REASON% */
  upstreamTransportFailureReason?: string;
  /** what the upstream connection's transport socket established (TLS: the peer's identity, ALPN) */
  upstreamPeer?: UpstreamConnectionInfo;
  /** the matched route's decorator operation: the span name (else `<host>:<port>/*`) */
  operationName?: string;
  /** Envoy's dynamic metadata by namespace (filters: RBAC shadow results, JWT payload, ext_authz) */
  dynamicMetadata?: Record<string, Record<string, unknown>>;
}

export function newStreamInfo(direction: 'inbound' | 'outbound', protocol: string): StreamInfo {
  // every field present from the start: one object shape for all requests (no hidden-class
  // transitions or property-store growth as the stream fills them in)
  return {
    startTime: Date.now(),
    startMono: performance.now(),
    durationMs: undefined,
    protocol,
    direction,
    requestHeaders: undefined,
    responseHeaders: undefined,
    responseTrailers: undefined,
    method: undefined,
    path: undefined,
    authority: undefined,
    responseCode: undefined,
    grpcStatus: undefined,
    responseFlags: new Set(),
    bytesReceived: 0,
    bytesSent: 0,
    downstreamRemoteAddress: undefined,
    downstreamLocalAddress: undefined,
    upstreamHost: undefined,
    upstreamCluster: undefined,
    routeName: undefined,
    listenerName: undefined,
    requestId: undefined,
    attemptCount: undefined,
    peer: undefined,
    destinationService: undefined,
    connectionSecurityPolicy: undefined,
    grpcRequestMessages: undefined,
    grpcResponseMessages: undefined,
    responseCodeDetails: undefined,
    connectionTerminationDetails: undefined,
    upstreamLocalAddress: undefined,
    requestedServerName: undefined,
    upstreamTransportFailureReason: undefined,
    upstreamPeer: undefined,
    operationName: undefined,
    dynamicMetadata: undefined,
  };
}

/** Envoy's textual form of the flags: comma-separated, `-` when none. */
export function formatResponseFlags(flags: Set<ResponseFlag>): string {
  return flags.size === 0 ? '-' : [...flags].join(',');
}
