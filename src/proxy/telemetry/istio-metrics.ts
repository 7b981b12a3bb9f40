/**
 * Istio's standard metrics recorded from completed StreamInfos.
 *
 * Hot path: a request resolves its label set through nested Map lookups keyed by the peer object,
 * the destination string and one number packing (code, grpc status, protocol, mTLS); response
 * flags add a string key only when some are set. Labels are formatted once per distinct set.
 * Expression tag overrides (the stats filter's dimensions) add their values to the key.
 */
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { formatResponseFlags, type PeerInfo, type StreamInfo } from '../core/stream-info.js';
import { DEFAULT_CLUSTER_ID, DEFAULT_TRUST_DOMAIN, peerInfoFromIdentity } from './istio-identity.js';
import { applyOverrides, buildLabels, type LabelInputs, type Reporter, type TagOverrides } from './istio-metrics-labels.js';
import { Counter, ENVOY_DEFAULT_BUCKETS, Histogram, type StatsStore } from '../../stats/stats-store.js';
import { overflowCounter } from '../../stats/stats-overflow.js';

/**
 * Istio's special clusters: traffic to them is labelled by the cluster (destination_service and
 * destination_service_name = the cluster name), never by the client-chosen :authority, so
 * passthrough traffic to any number of hosts is one series.
 */
export const SPECIAL_CLUSTERS: ReadonlySet<string> = new Set([
  'PassthroughCluster', 'BlackHoleCluster', 'InboundPassthroughCluster', 'InboundPassthroughClusterIpv4', 'InboundPassthroughClusterIpv6',
]);

/** Distinct label sets (series groups) per IstioMetrics by default; past it requests count in clew.overflow.istio_label_sets. */
export const DEFAULT_MAX_LABEL_SETS = 1000;
/** requests (and TCP connections) recorded past the label-set bound: not in any Istio series */
const LABEL_SETS_OVERFLOW = overflowCounter('istio_label_sets');
/** lookup-cache resets (the cache from stream fields to label sets is bounded by maxCachedSets) */
const LABEL_CACHE_OVERFLOW = overflowCounter('istio_label_cache');

export const ISTIO_REQUESTS_TOTAL = 'istio_requests_total';
export const ISTIO_REQUEST_DURATION = 'istio_request_duration_milliseconds';
export const ISTIO_REQUEST_BYTES = 'istio_request_bytes';
export const ISTIO_RESPONSE_BYTES = 'istio_response_bytes';
export const ISTIO_REQUEST_MESSAGES = 'istio_request_messages_total';
export const ISTIO_RESPONSE_MESSAGES = 'istio_response_messages_total';
export const ISTIO_TCP_OPENED = 'istio_tcp_connections_opened_total';
export const ISTIO_TCP_CLOSED = 'istio_tcp_connections_closed_total';
export const ISTIO_TCP_SENT = 'istio_tcp_sent_bytes_total';
export const ISTIO_TCP_RECEIVED = 'istio_tcp_received_bytes_total';

/** Istio's duration buckets (ms): Envoy's defaults. */
export const ISTIO_DURATION_BUCKETS = ENVOY_DEFAULT_BUCKETS;
/**
 * Byte-size buckets. Istio (1.5+) configures no per-metric buckets, so Envoy's default set
 * applies to istio_request_bytes / istio_response_bytes too.
 */
export const ISTIO_BYTES_BUCKETS = ENVOY_DEFAULT_BUCKETS;

export interface IstioMetricsOptions {
  trustDomain?: string;
  clusterId?: string;
  tagOverrides?: TagOverrides;
  durationBuckets?: readonly number[];
  bytesBuckets?: readonly number[];
  /** distinct label sets kept in the lookup cache before it is reset (memory bound) */
  maxCachedSets?: number;
  /** distinct label sets (series groups) created at most; default DEFAULT_MAX_LABEL_SETS */
  maxLabelSets?: number;
  /** destination_service stays `unknown` instead of falling back to `:authority` */
  disableHostHeaderFallback?: boolean;
  /** metric names not recorded (their handles are detached from the store) */
  dropped?: readonly string[];
}

interface HttpHandles {
  requests: Counter;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
  requestMessages?: Counter;
  responseMessages?: Counter;
}

interface TcpHandles {
  opened: Counter;
  closed: Counter;
  sent: Counter;
  received: Counter;
}

/** per source of the destination (explicit service / outbound cluster / authority): raw value -> sets */
type SetCache<T> = [Map<string, Map<number | string, T>>, Map<string, Map<number | string, T>>, Map<string, Map<number | string, T>>];

const NO_PEER: PeerInfo = Object.freeze({ workload: '', namespace: '' });

function header(h: StreamInfo['requestHeaders'], name: string): string | undefined {
  const v = h?.[name];
  return Array.isArray(v) ? v[0] : v;
}

export function isGrpcRequest(info: StreamInfo): boolean {
  const ct = header(info.requestHeaders, 'content-type');
  return ct !== undefined && ct.startsWith('application/grpc');
}

/**
 * destination service host for a stream: explicit, else from an outbound cluster name, else
 * :authority (unless `noHostFallback`). On the server side a short name (`reviews:9080`) is
 * read as a service of the local namespace, as Kubernetes DNS would resolve it.
 */
export function destinationServiceOf(info: StreamInfo, localNamespace?: string, noHostFallback = false): string {
  if (info.destinationService) return info.destinationService;
  const c = info.upstreamCluster;
  if (c && c.startsWith('outbound|')) {
    const fqdn = c.slice(c.lastIndexOf('|') + 1);
    if (fqdn) return fqdn;
  }
  if (c !== undefined && SPECIAL_CLUSTERS.has(c)) return c;
  if (noHostFallback) return '';
  const a = info.authority ?? header(info.requestHeaders, ':authority') ?? header(info.requestHeaders, 'host');
  if (!a) return '';
  const colon = a.lastIndexOf(':');
  const host = colon > 0 && !a.endsWith(']') ? a.slice(0, colon) : a;
  if (info.direction === 'inbound' && localNamespace && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(host)) {
    return `${host}.${localNamespace}.svc.cluster.local`;
  }
  return host;
}

export class IstioMetrics {
  readonly local: PeerInfo;
  private http = new WeakMap<PeerInfo, SetCache<HttpHandles>>();
  private tcp = new WeakMap<PeerInfo, SetCache<TcpHandles>>();
  private readonly tcpReported = new WeakMap<StreamInfo, { rx: number; tx: number; closed: boolean }>();
  private cachedSets = 0;
  /** label sets created by this instance (bounded by maxLabelSets) */
  private labelSets = 0;
  private readonly maxLabelSets: number;
  /** handed out past maxLabelSets: the request count goes to the overflow counter, the rest nowhere */
  private overflowHttp: HttpHandles | undefined;
  private overflowTcp: TcpHandles | undefined;
  /** the last bucket() answer and the stream fields it was looked up by */
  private lastBucket:
    | { map: object; peer: PeerInfo; service: string | undefined; cluster: string | undefined; authority: string | undefined; sets: Map<number | string, unknown> }
    | undefined;
  private readonly maxCachedSets: number;
  private readonly durationBuckets: readonly number[];
  private readonly bytesBuckets: readonly number[];
  /** expression overrides, evaluated per stream for the series key */
  private readonly dynamic: ReadonlyArray<(info: StreamInfo) => string>;
  private readonly dropped: ReadonlySet<string>;

  constructor(
    private readonly store: StatsStore,
    identity: ProxyIdentity,
    private readonly opts: IstioMetricsOptions = {},
  ) {
    this.local = peerInfoFromIdentity(identity, opts.trustDomain ?? DEFAULT_TRUST_DOMAIN, opts.clusterId ?? DEFAULT_CLUSTER_ID);
    this.maxCachedSets = opts.maxCachedSets ?? 10000;
    this.maxLabelSets = opts.maxLabelSets ?? DEFAULT_MAX_LABEL_SETS;
    this.durationBuckets = opts.durationBuckets ?? ISTIO_DURATION_BUCKETS;
    this.bytesBuckets = opts.bytesBuckets ?? ISTIO_BYTES_BUCKETS;
    const dyn = new Set<(info: StreamInfo) => string>();
    for (const byTag of Object.values(opts.tagOverrides ?? {})) {
      for (const o of Object.values(byTag)) if (o.expr && o.operation !== 'REMOVE') dyn.add(o.expr);
    }
    this.dynamic = [...dyn];
    this.dropped = new Set(opts.dropped ?? []);
    store.help(ISTIO_REQUESTS_TOTAL, 'Total requests handled by an Istio proxy');
    store.help(ISTIO_REQUEST_DURATION, 'Request duration in milliseconds');
    store.help(ISTIO_REQUEST_BYTES, 'Request body size in bytes');
    store.help(ISTIO_RESPONSE_BYTES, 'Response body size in bytes');
  }

  /** Records one completed HTTP/gRPC request. */
  recordRequest(info: StreamInfo): void {
    const grpc = isGrpcRequest(info);
    const h = this.httpHandles(info, grpc);
    h.requests.inc();
    h.duration.record(info.durationMs ?? performance.now() - info.startMono);
    h.requestBytes.record(info.bytesReceived);
    h.responseBytes.record(info.bytesSent);
    if (grpc) {
      if (info.grpcRequestMessages && h.requestMessages) h.requestMessages.inc(info.grpcRequestMessages);
      if (info.grpcResponseMessages && h.responseMessages) h.responseMessages.inc(info.grpcResponseMessages);
    }
  }

  tcpOpened(info: StreamInfo): void {
    this.tcpHandles(info).opened.inc();
    this.tcpReported.set(info, { rx: 0, tx: 0, closed: false });
  }

  /** Adds the bytes moved since the last report (call periodically for long connections). */
  tcpProgress(info: StreamInfo): void {
    let r = this.tcpReported.get(info);
    if (!r) this.tcpReported.set(info, (r = { rx: 0, tx: 0, closed: false }));
    const h = this.tcpHandles(info);
    if (info.bytesReceived > r.rx) h.received.inc(info.bytesReceived - r.rx);
    if (info.bytesSent > r.tx) h.sent.inc(info.bytesSent - r.tx);
    r.rx = info.bytesReceived;
    r.tx = info.bytesSent;
  }

  tcpClosed(info: StreamInfo): void {
    this.tcpProgress(info);
    const r = this.tcpReported.get(info)!;
    if (r.closed) return;
    r.closed = true;
    this.tcpHandles(info).closed.inc();
  }

  private reporter(info: StreamInfo): Reporter {
    return info.direction === 'outbound' ? 'source' : 'destination';
  }

  /** mTLS policy (3 values) and reporter (2) packed: 0..5 */
  private mtlsIndex(info: StreamInfo): number {
    const p = info.connectionSecurityPolicy;
    return (p === 'mutual_tls' ? 2 : p === 'none' ? 1 : 0) * 2 + (info.direction === 'inbound' ? 1 : 0);
  }

  /**
   * The label-set map for this stream's peer and destination. Keyed by the raw field the
   * destination comes from, so no string is derived on a hit.
   */
  /** the packed key plus response flags and expression values, when there are any */
  private fullKey(key: number, info: StreamInfo): number | string {
    let k: number | string = key;
    if (info.responseFlags.size > 0) k = `${k}|${formatResponseFlags(info.responseFlags)}`;
    const d = this.dynamic;
    if (d.length > 0) {
      let v = '';
      for (let i = 0; i < d.length; i++) v += '\u0001' + d[i](info);
      k = `${k}|${v}`;
    }
    return k;
  }

  private counter(name: string, labels: Record<string, string>, info: StreamInfo): Counter {
    const l = applyOverrides(name, labels, this.opts.tagOverrides, info);
    return this.dropped.has(name) ? new Counter(name, [], name) : this.store.counter(name, l);
  }

  private histogram(name: string, labels: Record<string, string>, info: StreamInfo, buckets: readonly number[]): Histogram {
    const l = applyOverrides(name, labels, this.opts.tagOverrides, info);
    return this.dropped.has(name) ? new Histogram(name, [], name, buckets) : this.store.histogram(name, l, buckets);
  }

  private bucket<T>(map: WeakMap<PeerInfo, SetCache<T>>, info: StreamInfo): Map<number | string, T> {
    const peer = info.peer ?? NO_PEER;
    // most streams of a listener share peer and cluster with the one before: a one-entry cache
    // (identity checks: the peer object and the cluster name come from caches and config)
    const last = this.lastBucket;
    if (last !== undefined && last.map === map && last.peer === peer && last.service === info.destinationService && last.cluster === info.upstreamCluster && last.authority === info.authority) {
      return last.sets as Map<number | string, T>;
    }
    let byDest = map.get(peer);
    if (!byDest) map.set(peer, (byDest = [new Map(), new Map(), new Map()]));
    let kind: 0 | 1 | 2;
    let raw: string;
    const c = info.upstreamCluster;
    if (info.destinationService) {
      kind = 0;
      raw = info.destinationService;
    } else if (c !== undefined && ((c.startsWith('outbound|') && !c.endsWith('|')) || SPECIAL_CLUSTERS.has(c))) {
      kind = 1;
      raw = c;
    } else {
      kind = 2;
      raw = this.opts.disableHostHeaderFallback
        ? ''
        : (info.authority ?? header(info.requestHeaders, ':authority') ?? header(info.requestHeaders, 'host') ?? '');
    }
    let sets = byDest[kind].get(raw);
    if (!sets) byDest[kind].set(raw, (sets = new Map()));
    this.lastBucket = { map, peer, service: info.destinationService, cluster: info.upstreamCluster, authority: info.authority, sets };
    return sets;
  }

  private noteNewSet(): void {
    if (++this.cachedSets > this.maxCachedSets) {
      // handles stay in the store; only the lookup cache is dropped and rebuilt on demand
      LABEL_CACHE_OVERFLOW.inc();
      this.http = new WeakMap();
      this.tcp = new WeakMap();
      this.cachedSets = 0;
      this.lastBucket = undefined;
    }
  }

  private httpHandles(info: StreamInfo, grpc: boolean): HttpHandles {
    const sets = this.bucket(this.http, info);
    const code = info.responseCode ?? 0;
    const st = info.grpcStatus;
    const g = grpc ? (st ?? -1) + 2 : 0;
    const packed = ((code * 32 + g) * 2 + (grpc ? 1 : 0)) * 6 + this.mtlsIndex(info);
    let key = this.fullKey(packed, info);
    // rare shapes get a string key so the packed number never collides
    if (g > 31 || g < 0) key = `${key}|g${st}`;
    const hit = sets.get(key);
    if (hit) return hit;
    const labels = buildLabels(this.inputs(info, this.destinationService(info), grpc ? 'grpc' : 'http', grpc));
    if (!this.admitLabelSet(ISTIO_REQUESTS_TOTAL, labels, info)) {
      const o = (this.overflowHttp ??= this.detachedHttp());
      sets.set(key, o);
      this.noteNewSet();
      return o;
    }
    const h: HttpHandles = {
      requests: this.counter(ISTIO_REQUESTS_TOTAL, labels, info),
      duration: this.histogram(ISTIO_REQUEST_DURATION, labels, info, this.durationBuckets),
      requestBytes: this.histogram(ISTIO_REQUEST_BYTES, labels, info, this.bytesBuckets),
      responseBytes: this.histogram(ISTIO_RESPONSE_BYTES, labels, info, this.bytesBuckets),
    };
    if (grpc) {
      h.requestMessages = this.counter(ISTIO_REQUEST_MESSAGES, labels, info);
      h.responseMessages = this.counter(ISTIO_RESPONSE_MESSAGES, labels, info);
    }
    sets.set(key, h);
    this.noteNewSet();
    return h;
  }

  private tcpHandles(info: StreamInfo): TcpHandles {
    const sets = this.bucket(this.tcp, info);
    const key = this.fullKey(this.mtlsIndex(info), info);
    const hit = sets.get(key);
    if (hit) return hit;
    const labels = buildLabels(this.inputs(info, this.destinationService(info), 'tcp', false));
    if (!this.admitLabelSet(ISTIO_TCP_OPENED, labels, info)) {
      const o = (this.overflowTcp ??= this.detachedTcp());
      sets.set(key, o);
      this.noteNewSet();
      return o;
    }
    const h: TcpHandles = {
      opened: this.counter(ISTIO_TCP_OPENED, labels, info),
      closed: this.counter(ISTIO_TCP_CLOSED, labels, info),
      sent: this.counter(ISTIO_TCP_SENT, labels, info),
      received: this.counter(ISTIO_TCP_RECEIVED, labels, info),
    };
    sets.set(key, h);
    this.noteNewSet();
    return h;
  }

  /**
   * A label set already in the store is always admitted; a new one only below maxLabelSets
   * (so client-chosen values, e.g. authorities of requests no route matched, cannot grow the
   * series, the exposition or the memory without bound).
   */
  private admitLabelSet(name: string, labels: Record<string, string>, info: StreamInfo): boolean {
    if (this.dropped.has(name) || this.store.has(name, applyOverrides(name, labels, this.opts.tagOverrides, info))) return true;
    if (this.labelSets >= this.maxLabelSets) return false;
    this.labelSets++;
    return true;
  }

  private detachedHttp(): HttpHandles {
    const d = (n: string) => new Histogram(n, [], n, this.durationBuckets);
    return { requests: LABEL_SETS_OVERFLOW, duration: d(ISTIO_REQUEST_DURATION), requestBytes: d(ISTIO_REQUEST_BYTES), responseBytes: d(ISTIO_RESPONSE_BYTES) };
  }

  private detachedTcp(): TcpHandles {
    const c = (n: string) => new Counter(n, [], n);
    return { opened: LABEL_SETS_OVERFLOW, closed: c(ISTIO_TCP_CLOSED), sent: c(ISTIO_TCP_SENT), received: c(ISTIO_TCP_RECEIVED) };
  }

  private destinationService(info: StreamInfo): string {
    return destinationServiceOf(info, this.local.namespace, this.opts.disableHostHeaderFallback);
  }

  private inputs(info: StreamInfo, dest: string, protocol: 'http' | 'grpc' | 'tcp', grpc: boolean): LabelInputs {
    return {
      reporter: this.reporter(info),
      local: this.local,
      peer: info.peer,
      destinationService: dest,
      protocol,
      responseCode: info.responseCode,
      grpcStatus: info.grpcStatus,
      isGrpc: grpc,
      responseFlags: formatResponseFlags(info.responseFlags),
      mtls: info.connectionSecurityPolicy === 'mutual_tls',
    };
  }
}
