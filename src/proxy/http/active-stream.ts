/**
 * One downstream request through the HTTP connection manager (Envoy's ActiveStream + filter
 * manager): normalizes the request (absolute-form, request id, XFF), resolves the route once,
 * runs the decoder filters in order and the encoder hooks in reverse, sends local replies, and
 * hands the finished StreamInfo to the observer.
 *
 * Telemetry hooks (all resolved per HCM at config time, nothing looked up per request):
 * - start: x-request-id, trace context (extract, sample, inject B3/W3C upstream), peer metadata
 *   exchange: inbound reads and strips the caller's x-envoy-peer-metadata(-id) before the app;
 *   outbound adds this proxy's pair to the upstream request (mesh clusters only);
 * - response headers: outbound reads and strips the server's pair; inbound answers with ours;
 * - completion: HCM stats, Istio metrics, access logs, span.
 */
import { applyHcmRequestHeaders } from './request-headers.js';
import { applyPeerSecurity } from '../telemetry/peer-security.js';
import type { Duplex, Readable } from 'node:stream';
import type { H1Request } from '../codec/codec-http1-request.js';
import type { H1Response } from '../codec/codec-http1-response.js';
import { codecErrorDetails, codecErrorStatus, type CodecError } from '../codec/codec-error.js';
import { upgradeEnabled } from '../router/upgrade-config.js';
import type { H2Request, H2Response } from '../codec/codec-http2-server.js';
import { constants as H2_CONSTANTS } from 'node:http2';
import { newStreamInfo, type ResponseFlag, type StreamInfo } from '../core/stream-info.js';
import type { AlpnOverride, DownstreamSink, HttpFilter, HttpFilterCallbacks, LocalReplyOptions } from '../filter-api/http-filter.js';
import { FilterState } from '../filter-api/filter-state.js';
import type { ClusterSlot } from '../upstream/cluster-slot.js';
import { applyHeaderOps, type HeaderMap } from '../router/header-ops.js';
import { RequestBodyGate } from './request-body-gate.js';
import type { Route, RouteConfig, WeightedTarget } from '../router/route-config.js';
import type { MatchInput } from '../router/route-match.js';
import type { Destination } from '../core/destination.js';
import type { ConnectionContext } from '../core/connection-context.js';
import { markOpaque, streamEnded } from '../drain/connection-activity.js';
import type { HcmConfig } from './hcm-config.js';
import { httpToGrpcStatus } from '../core/local-reply.js';
import type { RequestObserver } from '../core/observer.js';
import { clusterServiceHost } from '../telemetry/istio-identity.js';
import { PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER } from '../telemetry/peer-metadata.js';
import type { TraceContext } from '../telemetry/tracing-tracer.js';
import { normalizeRequestPath, PathVerdict, type NormalizedPath } from './path-normalize.js';

/** normalizeRequestPath's result, reused by every stream (read right after the call) */
const NORMALIZED: NormalizedPath = { path: '', verdict: PathVerdict.Continue };

export type DownstreamRequest = H1Request | H2Request;
export type DownstreamResponse = H1Response | H2Response;

export type { DownstreamSink } from '../filter-api/http-filter.js';

/** %RESPONSE_CODE_DETAILS% of local replies, by response flag (Envoy's strings) */
const EMPTY_FILTERS: HttpFilter[] = [];

const LOCAL_DETAILS: Partial<Record<ResponseFlag, string>> = {
  NR: 'route_not_found',
  NC: 'cluster_not_found',
  UH: 'no_healthy_upstream',
  UO: 'upstream_reset_before_response_started{overflow}',
  UF: 'upstream_reset_before_response_started{connection_failure}',
  UC: 'upstream_reset_before_response_started{connection_termination}',
  UPE: 'upstream_reset_before_response_started{protocol_error}',
  UT: 'upstream_response_timeout',
  FI: 'fault_filter_abort',
  DPE: 'codec_error',
};

export class ActiveStream implements HttpFilterCallbacks {
  readonly info: StreamInfo;
  readonly headers: HeaderMap;
  /** the downstream response (HTTP/1.1 codec or HTTP/2 compat) */
  readonly res: DownstreamSink;
  readonly method: string;
  authority: string;
  /** path with query, after rewrites */
  path: string;
  readonly isGrpc: boolean;
  readonly isHttp2: boolean;
  readonly isHttp10: boolean;
  /** Istio's istio.alpn filter: the ALPN new upstream TLS connections offer, by upstream protocol */
  alpnOverride: AlpnOverride | undefined = undefined;
  route: Route | undefined;
  /** the weighted cluster picked by the router, for its response header ops */
  weightedTarget: WeightedTarget | undefined;
  /** destination for ORIGINAL_DST clusters */
  destination: Destination | undefined;
  filters: HttpFilter[] = EMPTY_FILTERS;
  /** the next filter whose decodeHeaders has not run */
  filterIndex = 0;
  private done = false;
  /** set by the router: told when the downstream stream closes (aborts a pending upstream) */
  onDownstreamReset: { onDownstreamClose(): void } | undefined;
  /** this hop's trace context when the HCM traces; becomes a span at completion */
  trace: TraceContext | undefined;
  /** inbound: the caller sent peer metadata, so the response carries ours */
  private answerPeer = false;
  /** the body through decodeData hooks (chains with body filters only) */
  private gate: RequestBodyGate | undefined = undefined;
  private state: FilterState | undefined = undefined;
  /** an HTTP/1.1 Upgrade request (h2c excepted): its type, lower-case */
  readonly upgradeType: string | undefined;
  /** the connection switched protocols (a tunnel runs until it closes) */
  private switched = false;

  constructor(
    readonly hcm: HcmConfig,
    readonly req: DownstreamRequest,
    res: DownstreamResponse,
    readonly conn: ConnectionContext,
    readonly observer: RequestObserver,
    destination: Destination | undefined,
  ) {
    const h = req.headers as HeaderMap;
    this.headers = h;
    this.res = res as unknown as DownstreamSink;
    this.isHttp2 = req.httpVersionMajor === 2;
    this.isHttp10 = !this.isHttp2 && req.httpVersionMinor === 0;
    this.info = newStreamInfo(conn.direction, this.isHttp2 ? 'HTTP/2' : 'HTTP/1.1');
    this.info.listenerName = conn.listenerName;
    this.info.downstreamRemoteAddress = conn.remote;
    this.info.downstreamLocalAddress = conn.local;
    this.method = req.method ?? 'GET';
    let url = req.url ?? '/';
    let authority = (h[':authority'] as string | undefined) ?? (h.host as string | undefined) ?? '';
    if (url.charCodeAt(0) !== 47 /* '/' */ && /^https?:\/\//i.test(url)) {
      // absolute-form (proxy-style): the URL carries the authority
      const start = url.indexOf('//') + 2;
      const slash = url.indexOf('/', start);
      const q = url.indexOf('?', start);
      const end = slash < 0 ? (q < 0 ? url.length : q) : q >= 0 && q < slash ? q : slash;
      authority = url.slice(start, end);
      url = end === url.length ? '/' : url[end] === '?' ? `/${url.slice(end)}` : url.slice(end);
      h.host = authority;
    }
    this.authority = authority;
    this.path = url;
    this.destination = destination;
    const ct = h['content-type'];
    this.isGrpc = typeof ct === 'string' && ct.startsWith('application/grpc');
    this.info.requestHeaders = h;
    this.info.method = this.method;
    this.info.path = url;
    this.info.authority = authority;
    this.upgradeType = this.isHttp2 ? undefined : (req as H1Request).upgrade;
    if (this.isHttp2) this.res.once('close', () => this.onClose());
    else (res as H1Response).listenClose(this);
  }

  /** the HTTP/1.1 codec's response closed (finished, or the connection went away) */
  onResponseClose(): void {
    this.onClose();
  }

  /**
   * The HTTP/1.1 codec could not parse the rest of this request (a malformed chunk in its body):
   * the upstream attempt is abandoned and the client gets 400 (flag DPE), or a reset when the
   * response has started, as Envoy does. The codec closes the connection after it.
   */
  onRequestError(err: CodecError): void {
    if (this.done) return;
    const r = this.onDownstreamReset;
    this.onDownstreamReset = undefined;
    r?.onDownstreamClose();
    this.info.responseCodeDetails = codecErrorDetails(err.code);
    if (this.res.headersSent) {
      this.addFlag('DPE');
      this.resetDownstream();
      return;
    }
    this.sendLocalReply(codecErrorStatus(err.code), undefined, 'DPE');
  }

  /** The request body to stream or buffer; null when the request has none. */
  requestBody(): Readable | null {
    const g = this.gate;
    return g === undefined ? this.req.body : g.output();
  }

  start(): void {
    const h = this.headers;
    const hcm = this.hcm;
    this.info.requestId = applyHcmRequestHeaders(hcm, h, this.conn.remoteAddress, this.conn.tls);
    hcm.stats?.requestStarted(this.isHttp2);
    const peers = hcm.peers;
    const inbound = this.conn.direction === 'inbound';
    if (peers && inbound && (h[PEER_METADATA_HEADER] !== undefined || h[PEER_METADATA_ID_HEADER] !== undefined)) {
      this.info.peer = peers.takePeer(h);
      this.answerPeer = true;
    }
    // Envoy's path normalization, before the route is chosen and before any filter sees the path
    const np = NORMALIZED;
    normalizeRequestPath(this.path, hcm.pathNormalization, np);
    if (np.path !== this.path) this.path = this.info.path = np.path;
    if (np.verdict !== PathVerdict.Continue) {
      this.rejectPath(np.verdict);
      return;
    }
    const tracer = hcm.telemetry?.tracer;
    // the trace headers go straight onto the request (named stores, no per-request copy)
    if (tracer) this.trace = tracer.start(h, this.conn.direction, h);
    this.matchRoute();
    if (peers && !inbound) this.sendPeerMetadata(peers.peerMetadata, peers.peerMetadataId);
    if (this.upgradeType !== undefined && !this.admitUpgrade(this.upgradeType)) return;
    const cfgs = hcm.filters;
    const filters = new Array<HttpFilter>(cfgs.length);
    for (let i = 0; i < cfgs.length; i++) filters[i] = cfgs[i].create(this);
    this.filters = filters;
    const body = this.req.body;
    if (hcm.decodesBody && body !== null) {
      this.gate = new RequestBodyGate(this, body);
      // the listener's per_connection_buffer_limit_bytes, until a filter sets its own
      this.gate.limit = hcm.bufferLimitBytes;
    }
    this.continueDecoding();
  }

  /** Resolves the route from the request as it is now (start, and clearRouteCache). */
  private matchRoute(): void {
    const rc = this.hcm.routes.config;
    if (!rc) return;
    const q = this.path.indexOf('?');
    const input: MatchInput = {
      path: q < 0 ? this.path : this.path.slice(0, q),
      query: q < 0 ? '' : this.path.slice(q + 1),
      headers: this.headers,
    };
    const r = (this.route = rc.route(this.authority, input));
    this.info.routeName = r?.name;
    if (r?.decorator !== undefined) this.info.operationName = r.decorator;
  }

  clearRouteCache(): void {
    this.route = undefined;
    this.matchRoute();
  }

  get routeConfig(): RouteConfig | undefined {
    return this.hcm.routes.config;
  }

  clusterByName(name: string): ClusterSlot {
    return this.hcm.resolveCluster(name);
  }

  get filterState(): FilterState {
    return (this.state ??= new FilterState());
  }

  setDynamicMetadata(namespace: string, values: Record<string, unknown>): void {
    const md = (this.info.dynamicMetadata ??= {});
    const cur = md[namespace];
    md[namespace] = cur === undefined ? { ...values } : Object.assign(cur, values);
  }

  dynamicMetadata(namespace: string): Record<string, unknown> | undefined {
    return this.info.dynamicMetadata?.[namespace];
  }

  setDecoderBufferLimit(bytes: number): void {
    if (this.gate !== undefined) this.gate.limit = bytes;
  }

  get bufferLimitBytes(): number {
    return this.hcm.bufferLimitBytes;
  }

  get decodingBuffer(): Buffer | undefined {
    return this.gate?.buffered;
  }

  /** index of the terminal filter (the router) */
  get routerIndex(): number {
    return this.filters.length - 1;
  }

  get cb(): HttpFilterCallbacks {
    return this;
  }

  /** the body held by filters outgrew the buffer limit: 413, as Envoy */
  onBodyOverflow(): void {
    this.sendLocalReply(413, 'Payload Too Large', undefined, { details: 'request_payload_too_large' });
  }

  /** normalize_path failed or an escaped slash was found: 400, or 307 to the unescaped path (Envoy's local replies). */
  private rejectPath(verdict: PathVerdict): void {
    this.info.responseCodeDetails = 'path_normalization_failed';
    if (verdict === PathVerdict.Redirect) {
      this.hcm.stats?.downstream_rq_redirected_with_normalized_path.inc();
      this.encodeHeaders(307, { location: this.path, 'content-length': '0' }, false);
      this.res.end();
      return;
    }
    this.hcm.stats?.downstream_rq_failed_path_normalization.inc();
    this.sendLocalReply(400, undefined, undefined);
  }

  /**
   * An Upgrade request: the connection ends with its response unless it switches protocols.
   * A type neither the HCM's nor the route's upgrade_configs enable is refused with 403 (Envoy's
   * `upgrade_failed`, counted in downstream_rq_ws_on_non_ws_route) when a route matched; without
   * a route the router answers 404 as for any request.
   */
  private admitUpgrade(type: string): boolean {
    (this.res as unknown as H1Response).shouldKeepAlive = false;
    const r = this.route;
    if (r === undefined || upgradeEnabled(type, this.hcm.upgrades, r.upgrades)) return true;
    this.hcm.stats?.downstream_rq_ws_on_non_ws_route.inc();
    this.info.responseCodeDetails = 'upgrade_failed';
    this.sendLocalReply(403, undefined, undefined);
    return false;
  }

  /**
   * Outbound: tell the server sidecar who we are, unless the request leaves the mesh (an
   * ORIGINAL_DST cluster such as PassthroughCluster), where the headers are removed instead.
   */
  private sendPeerMetadata(value: string, id: string): void {
    const h = this.headers;
    const r = this.route;
    const c = r?.kind === 'route' ? (r.slot ?? r.weighted?.targets[0].slot)?.cluster : undefined;
    if (r?.kind === 'route' && c?.config.type !== 'ORIGINAL_DST') {
      h[PEER_METADATA_HEADER] = value;
      h[PEER_METADATA_ID_HEADER] = id;
    } else if (h[PEER_METADATA_HEADER] !== undefined || h[PEER_METADATA_ID_HEADER] !== undefined) {
      h[PEER_METADATA_HEADER] = undefined;
      h[PEER_METADATA_ID_HEADER] = undefined;
    }
  }

  /** Runs the remaining decoder filters; a filter that stopped calls this to resume. */
  continueDecoding(): void {
    const filters = this.filters;
    const endStream = this.req.body === null;
    const resumed = this.filterIndex - 1;
    while (!this.done && this.filterIndex < filters.length) {
      const f = filters[this.filterIndex++];
      if (f.decodeHeaders(this, endStream) !== 'continue') break;
    }
    // the body moves on as far as the filters let it (and is released by a filter that held it)
    this.gate?.resume(resumed);
  }

  /** Per-filter config for the matched route (route, then virtual host), by filter name. */
  perFilterConfig<T>(filterName: string): T | undefined {
    const r = this.route;
    if (!r) return undefined;
    return (r.perFilter.get(filterName) ?? r.vhost.perFilter.get(filterName)) as T | undefined;
  }

  get responseStarted(): boolean {
    return this.res.headersSent;
  }

  /** Runs encoder hooks (reverse order), route/vhost/route-config response header ops, then sends the headers. */
  encodeHeaders(status: number, headers: HeaderMap, endStream: boolean): void {
    this.prepareResponseHeaders(status, headers, endStream);

    const res = this.res;
    if (this.conn.draining && !this.isHttp2) (res as unknown as H1Response).shouldKeepAlive = false;
    if (this.isHttp2 && endStream) {
      // trailers-only / header-only response in one HEADERS frame with END_STREAM
      (res as unknown as H2Response).respondOnly(status, headers);
      return;
    }
    res.writeHead(status, headers);
    if (endStream) res.end();
  }

  /** Encoder hooks, peer metadata, response header ops, hop-by-hop fields removed; the info records the status. */
  private prepareResponseHeaders(status: number, headers: HeaderMap, endStream: boolean): void {
    for (let i = this.filters.length - 1; i >= 0; i--) this.filters[i].encodeHeaders?.(this, status, headers, endStream);
    const peers = this.hcm.peers;
    if (peers) {
      if (this.answerPeer) {
        headers[PEER_METADATA_HEADER] = peers.peerMetadata;
        headers[PEER_METADATA_ID_HEADER] = peers.peerMetadataId;
      } else if (headers[PEER_METADATA_HEADER] !== undefined || headers[PEER_METADATA_ID_HEADER] !== undefined) {
        // outbound: the server sidecar's identity, kept for metrics and not passed to the app
        const peer = peers.takePeer(headers);
        if (this.conn.direction === 'outbound') this.info.peer = peer;
      }
    }
    const r = this.route;
    if (r) {
      if (this.weightedTarget) applyHeaderOps(headers, this.weightedTarget.responseOps);
      applyHeaderOps(headers, r.responseOps);
      applyHeaderOps(headers, r.vhost.responseOps);
      const rc = this.hcm.routes.config;
      if (rc) applyHeaderOps(headers, rc.responseOps);
    }
    // undefined rather than delete: the object keeps its fast shape; the codecs skip undefined.
    // Named loads, not a loop over a name list (that would be one megamorphic keyed load each).
    if (headers.connection !== undefined) headers.connection = undefined;
    if (headers['keep-alive'] !== undefined) headers['keep-alive'] = undefined;
    if (headers['proxy-connection'] !== undefined) headers['proxy-connection'] = undefined;
    if (headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = undefined;
    if (headers.upgrade !== undefined) headers.upgrade = undefined;
    this.info.responseCode = status;
    this.info.responseHeaders = headers;
    const gs = headers['grpc-status'];
    if (gs !== undefined) this.info.grpcStatus = Number(gs);
  }

  /**
   * An Upgrade request's upstream answered 101: the response headers go through the encoder
   * hooks like any, the 101 is written downstream and the downstream socket (with what the
   * client sent after its head) is handed to the caller's tunnel. Undefined when the downstream
   * connection is gone or is not an Upgrade request under way.
   */
  switchProtocols(headers: HeaderMap): { socket: Duplex; head: Buffer } | undefined {
    const type = this.upgradeType;
    if (type === undefined || this.done || this.isHttp2) return undefined;
    const value = typeof headers.upgrade === 'string' ? headers.upgrade : type;
    this.prepareResponseHeaders(101, headers, false);
    const taken = (this.res as unknown as H1Response).switchProtocols(value, headers);
    if (taken === undefined) return undefined;
    this.hcm.stats?.upgradeStarted();
    this.switched = true;
    markOpaque(this.conn);
    return taken;
  }

  addFlag(flag: ResponseFlag): void {
    this.info.responseFlags.add(flag);
  }

  /** Envoy's local reply: text/plain body (or gRPC trailers-only), response flag, details. */
  sendLocalReply(status: number, body: string | undefined, flag: ResponseFlag | undefined, opts?: LocalReplyOptions): void {
    if (flag) this.info.responseFlags.add(flag);
    if (opts?.details !== undefined) this.info.responseCodeDetails = opts.details;
    else this.info.responseCodeDetails ??= flag ? (LOCAL_DETAILS[flag] ?? 'local_reply') : 'direct_response';
    if (this.done) return;
    this.gate?.close();
    if (this.res.headersSent) {
      this.resetDownstream();
      return;
    }
    const extra = opts?.headers;
    if (this.isGrpc) {
      const headers: HeaderMap = extra ? { ...extra } : {};
      headers['content-type'] = 'application/grpc';
      headers['grpc-status'] = String(opts?.grpcStatus ?? httpToGrpcStatus(status));
      if (body) headers['grpc-message'] = encodeURIComponent(body);
      this.encodeHeaders(200, headers, true);
      return;
    }
    const headers: HeaderMap = extra ? { ...extra } : {};
    if (body) {
      headers['content-type'] = opts?.contentType ?? 'text/plain';
      headers['content-length'] = String(Buffer.byteLength(body));
    } else headers['content-length'] = '0';
    this.encodeHeaders(status, headers, false);
    this.info.bytesSent += body ? Buffer.byteLength(body) : 0;
    this.res.end(body);
  }

  /** A response body chunk through the encoders' encodeData (chains that have any), then downstream. */
  encodeData(chunk: Buffer, endStream: boolean): boolean {
    if (this.hcm.encodesBody) {
      const filters = this.filters;
      for (let i = filters.length - 1; i >= 0; i--) {
        const f = filters[i];
        if (f.encodeData !== undefined) chunk = f.encodeData(this, chunk, endStream) ?? chunk;
      }
    }
    this.info.bytesSent += chunk.length;
    const res = this.res;
    if (endStream) {
      res.end(chunk);
      return true;
    }
    return res.write(chunk);
  }

  encodeTrailers(trailers: HeaderMap): void {
    if (this.hcm.encodesBody) {
      const filters = this.filters;
      for (let i = filters.length - 1; i >= 0; i--) filters[i].encodeTrailers?.(this, trailers);
    }
    this.res.addTrailers(trailers as Record<string, string>);
  }

  onDownstreamDrain(fn: () => void): void {
    this.res.once('drain', fn);
  }

  resetDownstream(): void {
    const res = this.res;
    if (this.isHttp2) (this.req as H2Request).stream.close(H2_CONSTANTS.NGHTTP2_INTERNAL_ERROR);
    else (res as unknown as H1Response).socket.destroy();
  }

  private onClose(): void {
    if (this.done) return;
    this.done = true;
    streamEnded(this.conn);
    const info = this.info;
    // DR: the downstream went away before the response was complete
    const res = this.res;
    const complete = this.isHttp2 ? (res as unknown as H2Response).completed : res.writableFinished || (res.headersSent && res.writableEnded);
    if (!complete) info.responseFlags.add('DR');
    const duration = (info.durationMs = performance.now() - info.startMono);
    this.gate?.close();
    for (const f of this.filters) f.onDestroy?.();
    this.onDownstreamReset?.onDownstreamClose();
    if (info.responseCodeDetails === undefined && info.responseCode !== undefined) info.responseCodeDetails = 'via_upstream';
    const hcm = this.hcm;
    if (this.switched) hcm.stats?.upgradeEnded();
    hcm.stats?.requestDone(info.responseCode, duration);
    const tel = hcm.telemetry;
    if (this.conn.tls !== undefined || info.upstreamPeer !== undefined) applyPeerSecurity(info, this.conn.tls);
    if (tel) {
      if (tel.metrics && info.destinationService === undefined) {
        // inbound clusters name their service in Istio's cluster metadata
        const svc = clusterServiceHost((this.weightedTarget?.slot ?? this.route?.slot)?.cluster?.config.raw);
        if (svc !== undefined) info.destinationService = svc;
      }
      tel.onRequestComplete(info, this.trace);
    }
    this.observer.onRequestComplete(info);
  }
}
