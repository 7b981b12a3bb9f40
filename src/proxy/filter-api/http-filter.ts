/**
 * The HTTP filter contract (Envoy's StreamFilter + StreamDecoderFilterCallbacks): what a filter
 * implements and what the connection manager offers it. Filters see the stream only through
 * HttpFilterCallbacks, never the concrete ActiveStream, so this folder sits below both the filters
 * and the HTTP connection manager.
 *
 * Life of a request through the filters (http/active-stream.ts runs it):
 * - decodeHeaders in the listener's order. 'continue' goes on to the next filter; 'stop' pauses
 *   iteration until the filter calls cb.continueDecoding() (after an async check) or replies with
 *   cb.sendLocalReply(). The router is last and always stops (it owns the request from there).
 * - decodeData / decodeTrailers (only when some filter of the chain implements them; otherwise the
 *   body goes straight to the router): body chunks reach a filter once its headers continued.
 *   'stop-and-buffer' holds the body (cb.decodingBuffer) until the filter continues; a body held
 *   past the buffer limit (cb.setDecoderBufferLimit, default 1 MiB) is answered 413.
 * - encodeHeaders / encodeData / encodeTrailers in reverse order for upstream responses and local
 *   replies; they may edit what passes but cannot hold the response.
 * - onDestroy when the stream ends or resets (cancel timers and outstanding calls).
 *
 * Results one filter hands to another: cb.filterState (per-stream objects by name, e.g. the JWT
 * filter's verified payload for RBAC) and dynamic metadata by namespace (cb.setDynamicMetadata,
 * also on the StreamInfo for access logs), as Envoy does.
 *
 * Config: a factory parses the filter's typed_config ONCE when config arrives (throwing rejects
 * it: NACK) and returns a config whose create() makes the cheap per-request filter (stateless
 * filters return one shared object). Per-route overrides (typed_per_filter_config) are parsed once
 * per RDS update and read with cb.perFilterConfig(name).
 */
import type { Duplex, Readable } from 'node:stream';
import type { ConnectionContext } from '../core/connection-context.js';
import type { Destination } from '../core/destination.js';
import type { HeaderMap } from '../core/header-map.js';
import type { ResponseFlag, StreamInfo } from '../core/stream-info.js';
import type { Route, RouteConfig, WeightedTarget } from '../router/route-config.js';
import type { ClusterSlot } from '../upstream/cluster-slot.js';
import type { FilterState } from './filter-state.js';
import type { StatsStore } from '../../stats/stats-store.js';

export type FilterHeadersStatus = 'continue' | 'stop';
/** 'stop-and-buffer': hold this and later chunks until continueDecoding(); 'stop': the filter took the chunk */
export type FilterDataStatus = 'continue' | 'stop-and-buffer' | 'stop';

/** upstream protocol -> ALPN list (Istio's istio.alpn filter; read by the router) */
export interface AlpnOverride {
  HTTP10: readonly string[] | undefined;
  HTTP11: readonly string[] | undefined;
  HTTP2: readonly string[] | undefined;
}

export interface LocalReplyOptions {
  /** gRPC status for gRPC callers (default: Envoy's mapping of the HTTP status) */
  grpcStatus?: number;
  /** %RESPONSE_CODE_DETAILS% (default: from the flag, else `direct_response`) */
  details?: string;
  /** extra response headers (WWW-Authenticate, x-ratelimit-*, an authorization server's headers) */
  headers?: HeaderMap;
  /** content-type of the body (default text/plain) */
  contentType?: string;
}

/** What the downstream response is written to (the terminal filter writes it through these). */
export interface DownstreamSink {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  writeHead(status: number, headers?: Record<string, string | string[] | number | undefined>): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): unknown;
  addTrailers(trailers: Record<string, string | string[] | undefined>): void;
  once(event: 'close' | 'drain', fn: () => void): unknown;
}

export interface HttpFilterCallbacks {
  // ---- the request
  readonly method: string;
  /** authority (Host / :authority), after rewrites by earlier filters */
  authority: string;
  /** path with query, after normalization and rewrites */
  path: string;
  readonly headers: HeaderMap;
  readonly isGrpc: boolean;
  readonly isHttp2: boolean;
  /** HTTP/1.0 requests (the router picks the ALPN override by it) */
  readonly isHttp10: boolean;
  /** what the proxy records about the stream (flags, details, telemetry) */
  readonly info: StreamInfo;
  /** connection facts: addresses, direction, listener, TLS (peer principal, SNI, ALPN) */
  readonly conn: ConnectionContext;
  /** the original destination, for ORIGINAL_DST clusters */
  readonly destination: Destination | undefined;

  // ---- routing
  readonly route: Route | undefined;
  /** the route table the route came from (its request/response header ops) */
  readonly routeConfig: RouteConfig | undefined;
  /** matches the route again (after a filter changed headers, path or authority) */
  clearRouteCache(): void;
  /** per-filter config of the matched route, else its virtual host, by filter name */
  perFilterConfig<T>(filterName: string): T | undefined;
  /** a cluster by name (cluster_header routes, side calls) */
  clusterByName(name: string): ClusterSlot;

  // ---- filter to filter
  readonly filterState: FilterState;
  setDynamicMetadata(namespace: string, values: Record<string, unknown>): void;
  dynamicMetadata(namespace: string): Record<string, unknown> | undefined;

  // ---- flow
  continueDecoding(): void;
  /** Envoy's local reply: text/plain body, or gRPC trailers-only for gRPC callers; records the flag */
  sendLocalReply(status: number, body: string | undefined, flag: ResponseFlag | undefined, opts?: LocalReplyOptions): void;
  addFlag(flag: ResponseFlag): void;
  /** the most request body bytes held while a filter buffers (413 beyond) */
  setDecoderBufferLimit(bytes: number): void;
  /** the listener's per_connection_buffer_limit_bytes (default 1 MiB): what the router buffers for retries and mirrors unless the route sets its own */
  readonly bufferLimitBytes: number;
  /** the request body held by a 'stop-and-buffer' so far */
  readonly decodingBuffer: Buffer | undefined;

  // ---- the terminal filter (router)
  /** the request body as it leaves the decoder filters; null when the request has none */
  requestBody(): Readable | null;
  readonly responseStarted: boolean;
  readonly res: DownstreamSink;
  encodeHeaders(status: number, headers: HeaderMap, endStream: boolean): void;
  /** false: the downstream is full, wait for onDownstreamDrain */
  encodeData(chunk: Buffer, endStream: boolean): boolean;
  encodeTrailers(trailers: HeaderMap): void;
  onDownstreamDrain(fn: () => void): void;
  resetDownstream(): void;
  /** told when the downstream stream closes (the router aborts a pending upstream) */
  onDownstreamReset: { onDownstreamClose(): void } | undefined;
  /** the weighted cluster the router picked (response header ops) */
  weightedTarget: WeightedTarget | undefined;
  /** set by istio.alpn */
  alpnOverride: AlpnOverride | undefined;
  /** an HTTP/1.1 Upgrade request (h2c excepted): its type, lower-case */
  readonly upgradeType: string | undefined;
  /**
   * The upstream answered 101: response headers through the encoder hooks, 101 written
   * downstream, and the downstream socket (with bytes after the head) handed to the tunnel.
   */
  switchProtocols(headers: HeaderMap): { socket: Duplex; head: Buffer } | undefined;
}

export interface HttpFilter {
  decodeHeaders(cb: HttpFilterCallbacks, endStream: boolean): FilterHeadersStatus;
  decodeData?(cb: HttpFilterCallbacks, data: Buffer, endStream: boolean): FilterDataStatus;
  /** request trailers (HTTP/2): may edit them, cannot hold them */
  decodeTrailers?(cb: HttpFilterCallbacks, trailers: HeaderMap): void;
  /** may edit the response headers; called for upstream responses and local replies */
  encodeHeaders?(cb: HttpFilterCallbacks, status: number, headers: HeaderMap, endStream: boolean): void;
  /** may return a replacement chunk */
  encodeData?(cb: HttpFilterCallbacks, data: Buffer, endStream: boolean): Buffer | void;
  encodeTrailers?(cb: HttpFilterCallbacks, trailers: HeaderMap): void;
  /** stream finished or reset: cancel timers and calls */
  onDestroy?(): void;
}

export interface HttpFilterConfig {
  /** the filter's configured name (typed_per_filter_config key) */
  readonly name: string;
  create(cb: HttpFilterCallbacks): HttpFilter;
  /** true when create() may return filters with decodeData/decodeTrailers (the body goes through them) */
  readonly decodesBody?: boolean;
  /** true when filters may implement encodeData/encodeTrailers */
  readonly encodesBody?: boolean;
  /**
   * A filter that only records when the stream completes (istio.stats): the HCM lifts its
   * config into its telemetry and no per-request object exists for it.
   */
  readonly completionOnly?: boolean;
}

/** Why a filter's config was refused: the message of the NACK. */
export interface HttpFilterFactory {
  /** typed_config '@type' values this factory accepts */
  readonly typeUrls: readonly string[];
  /** typed_per_filter_config '@type' values it accepts */
  readonly perRouteTypeUrls: readonly string[];
  parse(config: Record<string, any>, name: string, ctx: HttpFilterParseContext): HttpFilterConfig;
  parsePerRoute?(config: Record<string, any>): unknown;
}

/** What a factory may use while parsing: clusters (side calls), the proxy's shared services. */
export interface HttpFilterParseContext {
  resolveCluster(name: string): ClusterSlot;
  /** process-wide objects filters share across listener updates (JWKS caches, gRPC channels, token buckets) */
  readonly shared: SharedFilterResources;
  /** the proxy's stats store (filters' counters: `http.<statPrefix>.<filter>.<name>`); absent in unit tests */
  readonly stats?: StatsStore;
  /** the HCM's stat_prefix */
  readonly statPrefix?: string;
  /** the proxy's service cluster (node.cluster: Envoy's local cluster name); absent in unit tests */
  readonly localCluster?: string;
}

/**
 * Objects that must outlive one LDS update (a JWKS cache with its refresh timer, a gRPC channel,
 * a token bucket that a listener update must not refill): kept by key for the proxy's life,
 * created on first use. `release` lets the proxy drop those no config uses any more.
 */
export interface SharedFilterResources {
  get<T>(key: string, make: () => T): T;
}
