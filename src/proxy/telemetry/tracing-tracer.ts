/**
 * The proxy's tracer: at request start it assigns x-request-id, extracts the incoming trace
 * context, decides sampling and returns the headers to put on the forwarded request; at request
 * end it turns the StreamInfo into a span with Istio's tags and hands it to the exporters.
 *
 * Spans: the outbound (client) sidecar opens a CLIENT span as a child of the app's context; the
 * inbound (server) sidecar opens a SERVER span. With `sharedSpanContext` (Envoy's Zipkin default)
 * the SERVER span reuses the caller's span id (Zipkin `shared: true`); otherwise it is a child.
 *
 * Sampling, first match wins: x-envoy-force-trace or x-client-trace-id present -> sampled; B3
 * debug -> sampled; a decision in the incoming headers -> kept; else random at samplingPercent.
 */
import { newUuid } from '../core/random-ids.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { nodeId } from '../../xds/node-metadata.js';
import { formatResponseFlags, type StreamInfo } from '../core/stream-info.js';
import { canonicalRevision, canonicalService, workloadName } from './istio-identity.js';
import {
  extractContext,
  injectContext,
  newSpanId,
  newTraceId,
  type HeaderBag,
  type PropagationFormat,
} from './tracing-propagation.js';

export interface TraceContext {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  sampled: boolean;
  debug: boolean;
  /** SERVER span sharing the caller's span id (Zipkin shared span) */
  shared: boolean;
  kind: 'CLIENT' | 'SERVER';
  requestId: string;
  clientTraceId?: string;
  tracestate?: string;
  /** headers to set on the request this proxy forwards (x-request-id when generated, trace headers) */
  headers: Record<string, string>;
}

export interface FinishedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: 'CLIENT' | 'SERVER';
  /** epoch microseconds */
  startUs: number;
  durationUs: number;
  shared: boolean;
  error: boolean;
  tags: Record<string, string>;
  /** `<app>.<namespace>` (Istio's service name for traces) */
  serviceName: string;
  localIp?: string;
  remoteIp?: string;
}

export interface SpanSink {
  export(span: FinishedSpan): void;
}

/** Envoy's tracing custom_tags: a literal, an environment variable or a request header. */
export interface CustomTag {
  tag: string;
  literal?: string;
  environment?: { name: string; defaultValue?: string };
  requestHeader?: { name: string; defaultValue?: string };
}

/** Envoy's default max_path_tag_length */
export const DEFAULT_MAX_PATH_TAG_LENGTH = 256;

export interface TracerOptions {
  /** 0..100, default 1 */
  samplingPercent?: number;
  /** formats injected upstream; default B3 multi + W3C */
  propagation?: readonly PropagationFormat[];
  sharedSpanContext?: boolean;
  meshId?: string;
  /** [0,1) random source, injectable for tests */
  random?: () => number;
  customTags?: readonly CustomTag[];
  /** http.url is cut to this many characters (Envoy: 256) */
  maxPathTagLength?: number;
}

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function one(h: HeaderBag, name: string): string | undefined {
  return firstValue(h[name]);
}

function hostPort(a: string): [string, string | undefined] {
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    return [a.slice(0, end + 1), a[end + 1] === ':' ? a.slice(end + 2) : undefined];
  }
  const c = a.lastIndexOf(':');
  return c > 0 && a.indexOf(':') === c ? [a.slice(0, c), a.slice(c + 1)] : [a, undefined];
}

function ipOf(addr: string | undefined): string | undefined {
  return addr ? hostPort(addr)[0].replace(/^\[|\]$/g, '') : undefined;
}

export class Tracer {
  private readonly samplingPercent: number;
  private readonly propagation: readonly PropagationFormat[];
  private readonly random: () => number;
  private readonly staticTags: Record<string, string>;
  private readonly staticTagList: ReadonlyArray<readonly [string, string]>;
  /** request-header custom tags: [tag, header, default] */
  private readonly headerTags: ReadonlyArray<readonly [string, string, string | undefined]>;
  private readonly maxPathTagLength: number;
  readonly serviceName: string;
  private readonly localIp: string;

  constructor(
    identity: ProxyIdentity,
    private readonly sinks: readonly SpanSink[],
    private readonly opts: TracerOptions = {},
  ) {
    this.samplingPercent = Math.min(100, Math.max(0, opts.samplingPercent ?? 1));
    this.propagation = opts.propagation ?? ['b3', 'w3c'];
    this.random = opts.random ?? Math.random;
    const wl = workloadName(identity);
    this.staticTags = {
      'istio.canonical_service': canonicalService(identity.labels, wl),
      'istio.canonical_revision': canonicalRevision(identity.labels),
      'istio.namespace': identity.namespace,
      'istio.mesh_id': opts.meshId ?? 'cluster.local',
      node_id: nodeId(identity),
      component: 'proxy',
    };
    const headerTags: Array<readonly [string, string, string | undefined]> = [];
    for (const c of opts.customTags ?? []) {
      if (c.literal !== undefined) this.staticTags[c.tag] = c.literal;
      else if (c.environment) {
        const v = process.env[c.environment.name] ?? c.environment.defaultValue;
        if (v !== undefined) this.staticTags[c.tag] = v;
      } else if (c.requestHeader) headerTags.push([c.tag, c.requestHeader.name.toLowerCase(), c.requestHeader.defaultValue]);
    }
    this.headerTags = headerTags;
    this.staticTagList = Object.entries(this.staticTags);
    this.maxPathTagLength = opts.maxPathTagLength ?? DEFAULT_MAX_PATH_TAG_LENGTH;
    this.serviceName = `${identity.labels.app || wl}.${identity.namespace}`;
    this.localIp = identity.address;
  }

  /**
   * Called when request headers arrive. `headers` are lower-case request headers. The headers
   * for the forwarded request (a generated x-request-id, the trace context) are set on `out`,
   * which is also the context's `headers`; the proxy passes the request's own header map.
   */
  start(headers: HeaderBag, direction: 'inbound' | 'outbound', out: Record<string, string | string[] | undefined> = {}): TraceContext {
    let requestId = firstValue(headers['x-request-id']);
    if (!requestId) {
      requestId = newUuid();
      out['x-request-id'] = requestId;
    }
    const clientTraceId = firstValue(headers['x-client-trace-id']);
    const incoming = extractContext(headers);
    let sampled: boolean;
    if (headers['x-envoy-force-trace'] !== undefined || clientTraceId) sampled = true;
    else if (incoming?.debug) sampled = true;
    else if (incoming?.sampled !== undefined) sampled = incoming.sampled;
    else sampled = this.samplingPercent > 0 && this.random() * 100 < this.samplingPercent;

    const kind = direction === 'outbound' ? 'CLIENT' : 'SERVER';
    const traceId = incoming?.traceId ?? newTraceId();
    let spanId: string;
    let parentSpanId: string | undefined;
    let shared = false;
    if (incoming?.spanId && kind === 'SERVER' && this.opts.sharedSpanContext) {
      spanId = incoming.spanId;
      parentSpanId = incoming.parentSpanId;
      shared = true;
    } else {
      spanId = newSpanId();
      parentSpanId = incoming?.spanId;
    }
    const ctx: TraceContext = {
      traceId,
      spanId,
      parentSpanId,
      sampled,
      debug: incoming?.debug ?? false,
      shared,
      kind,
      requestId,
      clientTraceId,
      tracestate: incoming?.tracestate,
      headers: out as Record<string, string>,
    };
    const formats =
      incoming?.format === 'b3-single' && !this.propagation.includes('b3-single')
        ? [...this.propagation, 'b3-single' as const]
        : this.propagation;
    injectContext(ctx, formats, out as Record<string, string>);
    return ctx;
  }

  /** Called when the request completed; exports a span when sampled. */
  finish(info: StreamInfo, ctx: TraceContext): FinishedSpan | undefined {
    if (!ctx.sampled) return undefined;
    const span = this.toSpan(info, ctx);
    for (const s of this.sinks) s.export(span);
    return span;
  }

  toSpan(info: StreamInfo, ctx: TraceContext): FinishedSpan {
    const req = info.requestHeaders ?? {};
    const authority = info.authority ?? one(req, ':authority') ?? one(req, 'host') ?? '';
    const [host, port] = hostPort(authority);
    const name = info.operationName ?? `${host}:${port ?? '80'}/*`;
    const code = info.responseCode ?? 0;
    const error = code >= 500 || code === 0;
    // a literal, then the static tags where not set: `{...staticTags, ...}` clones the static
    // tags' map, and each key added after the spread then made a new map (measured: ~7k
    // instructions per key)
    const tags: Record<string, string> = {
      'http.url': `${one(req, ':scheme') ?? 'http'}://${authority}${info.path ?? one(req, ':path') ?? ''}`.slice(0, this.maxPathTagLength),
      'http.method': info.method ?? one(req, ':method') ?? '',
      'http.protocol': info.protocol,
      'http.status_code': String(code),
      upstream_cluster: info.upstreamCluster ?? '-',
      'upstream_cluster.name': info.upstreamCluster ?? '-',
      response_flags: formatResponseFlags(info.responseFlags),
      response_size: String(info.bytesSent),
      request_size: String(info.bytesReceived),
      'guid:x-request-id': ctx.requestId,
      user_agent: one(req, 'user-agent') ?? '-',
      downstream_cluster: one(req, 'x-envoy-downstream-service-cluster') ?? '-',
    };
    const st = this.staticTagList;
    for (let i = 0; i < st.length; i++) if (tags[st[i][0]] === undefined) tags[st[i][0]] = st[i][1];
    const peer = ipOf(info.downstreamRemoteAddress);
    if (peer) tags['peer.address'] = peer;
    if (ctx.clientTraceId) tags['guid:x-client-trace-id'] = ctx.clientTraceId;
    for (const [tag, header, dflt] of this.headerTags) {
      const v = one(req, header) ?? dflt;
      if (v !== undefined) tags[tag] = v;
    }
    if (error) tags.error = 'true';
    const durMs = info.durationMs ?? performance.now() - info.startMono;
    return {
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      parentSpanId: ctx.parentSpanId,
      name,
      kind: ctx.kind,
      startUs: Math.round(info.startTime * 1000),
      durationUs: Math.max(1, Math.round(durMs * 1000)),
      shared: ctx.shared,
      error,
      tags,
      serviceName: this.serviceName,
      localIp: this.localIp || undefined,
      remoteIp: ctx.kind === 'CLIENT' ? ipOf(info.upstreamHost) : peer,
    };
  }
}
