/**
 * envoy.filters.http.router: the terminal filter. Direct responses and redirects, cluster choice
 * (single, weighted, header), rewrites and header ops, circuit breaking, host selection, upstream
 * attempts with per-try and global timeouts, retries with jittered backoff, mirroring, and the
 * response (headers, body, trailers) back downstream.
 */
import type { Readable } from 'node:stream';
import { ROUTER_TYPE } from '../../../xds/type-urls.js';
import { LOCAL_REPLY } from '../../core/local-reply.js';
import { parseAuthority } from '../../core/destination.js';
import { applyHeaderOps } from '../../router/header-ops.js';
import type { Route } from '../../router/route-config.js';
import { backoffMs, retriableFailure, retriableResponse } from '../../router/retry-policy.js';
import type { Cluster } from '../../upstream/cluster.js';
import type { Host } from '../../upstream/host.js';
import type { InHeaders, OutHeaders, UpstreamError, UpstreamFailure, UpstreamRequest } from '../../core/pool.js';
import type { FilterHeadersStatus, HttpFilter, HttpFilterCallbacks, HttpFilterConfig, HttpFilterFactory } from '../../filter-api/http-filter.js';
import { Attempt, type AttemptOwner } from './router-attempt.js';
import { pickWeighted, prepareUpstreamHeaders, redirectLocation, requestHash, rewritePath } from './router-helpers.js';
import { sendMirror } from './router-mirror.js';
import { UpgradeExchange, upgradeRequestHead } from '../../http/upgrade.js';


class RouterFilter implements HttpFilter, AttemptOwner {
  private s!: HttpFilterCallbacks;
  private route!: Route;
  private cluster!: Cluster;
  private headers!: OutHeaders;
  private path = '/';
  private body: Buffer | Readable | null = null;
  private attempts = 0;
  private current: Attempt | undefined;
  private host: Host | undefined;
  private globalTimer: NodeJS.Timeout | undefined;
  private tryTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private holdingRetry = false;
  private finished = false;
  private hash: number | undefined;
  private pendingAdmit: (() => void) | undefined;
  private waitingAdmission = false;
  private responseHeaders: InHeaders | undefined;

  decodeHeaders(s: HttpFilterCallbacks): FilterHeadersStatus {
    this.s = s;
    const route = s.route;
    if (!route) {
      s.sendLocalReply(404, undefined, 'NR');
      return 'stop';
    }
    this.route = route;
    if (route.kind === 'direct') {
      const d = route.direct!;
      s.sendLocalReply(d.status, d.body, undefined);
      return 'stop';
    }
    if (route.kind === 'redirect') {
      const loc = redirectLocation(route.redirect!, route, s.authority, s.path, (s.headers['x-forwarded-proto'] as string) ?? 'http');
      s.encodeHeaders(route.redirect!.status, { location: loc, 'content-length': '0' }, false);
      s.res.end();
      return 'stop';
    }
    let slot = route.slot;
    let hostRewrite = route.hostRewrite;
    if (route.weighted) {
      const t = pickWeighted(route.weighted);
      s.weightedTarget = t;
      slot = t.slot;
      if (t.hostRewrite) hostRewrite = t.hostRewrite;
    } else if (route.clusterHeader) {
      const name = s.headers[route.clusterHeader];
      if (typeof name === 'string') slot = s.clusterByName(name);
    }
    const cluster = slot?.cluster;
    s.info.upstreamCluster = slot?.name;
    if (!cluster) {
      s.sendLocalReply(503, undefined, 'NC');
      return 'stop';
    }
    this.cluster = cluster;
    // Request header mutations: route config, virtual host, route, weighted cluster (most specific last).
    const h = s.headers;
    const rc = s.routeConfig;
    if (rc) applyHeaderOps(h, rc.requestOps);
    applyHeaderOps(h, route.vhost.requestOps);
    applyHeaderOps(h, route.requestOps);
    if (s.weightedTarget) applyHeaderOps(h, s.weightedTarget.requestOps);
    this.path = route.prefixRewrite !== undefined || route.regexRewrite ? rewritePath(route, s.path) : s.path;
    if (route.timeoutMs > 0) h['x-envoy-expected-rq-timeout-ms'] = String(route.timeoutMs);
    // hash policies see the request as it came (before host rewrite and the connection-field strip)
    if (route.hashPolicies.length > 0) this.hash = requestHash(route.hashPolicies, h, s.path, s.conn.remoteAddress);
    this.headers = prepareUpstreamHeaders(h, hostRewrite ?? s.authority);
    s.onDownstreamReset = this;

    const req = s.requestBody();
    const hasBody = req !== null;
    if (req !== null && (route.retry || (route.mirrors.length > 0 && s.upgradeType === undefined))) {
      // Retries and mirrors need the whole body: buffered up to the buffer limit (Envoy's
      // per_request_buffer_limit_bytes, else the listener's per_connection_buffer_limit_bytes);
      // a bigger body is streamed and the retries and mirrors given up (retry_or_shadow_abandoned)
      const limit = route.bufferLimit ?? route.vhost.bufferLimit ?? s.bufferLimitBytes;
      const cl = h['content-length'];
      if (typeof cl === 'string' && Number(cl) > limit) {
        this.abandonBuffering();
        this.body = req;
        s.info.bytesReceived = Number(cl);
        this.begin();
        return 'stop';
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (c: Buffer): void => {
        size += c.length;
        chunks.push(c);
        if (size <= limit) return;
        // too big to keep: what was read goes first, the rest streams behind it
        req.off('data', onData);
        req.off('end', onEnd);
        req.pause();
        req.unshift(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
        chunks.length = 0;
        this.abandonBuffering();
        this.body = req;
        if (cl !== undefined) s.info.bytesReceived = Number(cl);
        this.begin();
      };
      const onEnd = (): void => {
        this.body = Buffer.concat(chunks, size);
        s.info.bytesReceived = this.body.length;
        this.begin();
      };
      req.on('data', onData);
      req.on('end', onEnd);
    } else {
      this.body = req;
      if (hasBody) s.info.bytesReceived = Number(h['content-length'] ?? 0);
      this.begin();
    }
    return 'stop';
  }

  /** The request body outgrew the buffer limit: it is streamed, without retries or mirrors. */
  private abandonBuffering(): void {
    this.noRetry = true;
    this.cluster.stats.retry_or_shadow_abandoned.inc();
  }

  /** the body is streamed (over the buffer limit): no retry can resend it */
  private noRetry = false;

  private begin(): void {
    if (this.finished) return;
    const route = this.route;
    // an Upgrade is not mirrored (a shadow cannot take part in the tunnel); a streamed body is
    // not mirrored either (sendMirror mirrors only buffered bodies)
    if (this.s.upgradeType === undefined) for (const m of route.mirrors) {
      if (m.fraction >= 1 || Math.random() < m.fraction) sendMirror(m.slot, this.s, this.headers, this.path, this.body);
    }
    if (route.timeoutMs > 0) this.globalTimer = setTimeout(onGlobalTimeout, route.timeoutMs, this);
    this.startAttempt();
  }

  private startAttempt(): void {
    if (this.finished) return;
    const s = this.s;
    const cluster = this.cluster;
    let host: Host | undefined;
    if (cluster.config.type === 'ORIGINAL_DST') {
      const d = s.destination ?? parseAuthority(s.authority, 80);
      host = cluster.originalDstHost(d.host, d.port);
    } else host = cluster.chooseHost(this.hash === undefined ? undefined : { hash: this.hash });
    if (!host) {
      this.finish();
      s.sendLocalReply(503, LOCAL_REPLY.noHealthyUpstream, 'UH');
      return;
    }
    this.host = host;
    const admission = cluster.breaker.admit((this.pendingAdmit ??= () => this.onAdmitted()));
    if (admission === 'overflow') {
      this.finish();
      s.sendLocalReply(503, LOCAL_REPLY.overflow, 'UO');
      return;
    }
    if (admission === 'pending') this.waitingAdmission = true;
    else this.sendAttempt();
  }

  private onAdmitted(): void {
    this.waitingAdmission = false;
    if (this.finished) this.cluster.releaseRequestSlot();
    else this.sendAttempt();
  }

  private sendAttempt(): void {
    const host = this.host!;
    const stats = this.cluster.stats;
    this.attempts++;
    host.rqActive++;
    host.rqTotal++;
    stats.upstream_rq_total.inc();
    stats.upstream_rq_active.inc();
    const s = this.s;
    s.info.upstreamHost = host.key;
    s.info.attemptCount = this.attempts;
    this.headers['x-envoy-attempt-count'] = String(this.attempts);
    const a = new Attempt(this, host);
    this.current = a;
    const perTry = this.route.retry?.perTryTimeoutMs ?? 0;
    if (perTry > 0) this.tryTimer = setTimeout(onPerTryTimeout, perTry, this, a);
    // istio.alpn, unless the cluster opted out (TLS origination: Istio's alpn_override "false")
    const ao = this.cluster.config.alpnOverride ? s.alpnOverride : undefined;
    if (s.upgradeType !== undefined) {
      // an Upgrade gets a connection of its own (upgrade.ts), never a pooled one
      const c = this.cluster;
      a.control = new UpgradeExchange(
        {
          host: host.address,
          port: host.port,
          transport: host.transport,
          connectTimeoutMs: c.config.connectTimeoutMs,
          alpn: ao !== undefined && host.transport.secure ? ao.HTTP11 : undefined,
        },
        upgradeRequestHead(s.method, this.path, this.headers.host as string, this.headers, s.upgradeType),
        s.method === 'HEAD',
        a,
        c.stats,
      );
      return;
    }
    const req: UpstreamRequest = { method: s.method, path: this.path, authority: this.headers.host as string, headers: this.headers, body: this.body };
    if (ao !== undefined && host.transport.secure) req.alpn = this.cluster.config.http2 ? ao.HTTP2 : s.isHttp10 ? ao.HTTP10 : ao.HTTP11;
    a.control = this.cluster.pool(host).send(req, a);
  }

  /** The Upgrade's upstream switched protocols: answer 101 downstream and join the two connections. */
  onUpstreamUpgrade(a: Attempt, headers: InHeaders, exchange: UpgradeExchange): void {
    if (a !== this.current || this.finished) {
      exchange.abort();
      return;
    }
    clearTimeout(this.tryTimer);
    if (a.peer !== undefined) this.s.info.upstreamPeer = a.peer;
    // the route timeout covers the request, not the tunnel (Envoy: until the upgrade's response headers)
    this.finish();
    this.cluster.stats.response(101);
    this.cluster.reportResult(a.host, 'response', 101);
    headers['x-envoy-upstream-service-time'] = String(Math.round(performance.now() - a.start));
    const down = this.s.switchProtocols(headers);
    if (down === undefined) {
      exchange.abort();
      this.endAttempt(a);
      return;
    }
    exchange.splice(down.socket, down.head, () => this.endAttempt(a));
  }

  private endAttempt(a: Attempt): void {
    if (!a.active) return;
    a.active = false;
    if (a === this.current) clearTimeout(this.tryTimer);
    a.host.rqActive--;
    this.cluster.stats.upstream_rq_active.dec();
    this.cluster.releaseRequestSlot();
    if (this.holdingRetry) {
      this.holdingRetry = false;
      this.cluster.breaker.retryDone();
    }
  }

  private canRetry(): boolean {
    const p = this.route.retry;
    if (!p || this.finished || this.noRetry || this.attempts > p.numRetries) return false;
    return this.body === null || Buffer.isBuffer(this.body);
  }

  /** Takes a retry slot (max_retries) until the retried attempt ends; false = overflow (UO). */
  private scheduleRetry(): boolean {
    if (!this.cluster.breaker.tryRetry()) {
      this.s.addFlag('UO');
      return false;
    }
    this.holdingRetry = true;
    this.cluster.stats.upstream_rq_retry.inc();
    this.retryTimer = setTimeout(onRetryTimer, backoffMs(this.route.retry!, this.attempts), this);
    return true;
  }

  retryNow(): void {
    this.startAttempt();
  }

  // ---- upstream callbacks
  onUpstreamHeaders(a: Attempt, status: number, headers: InHeaders, endStream: boolean): void {
    if (a !== this.current || this.finished) return;
    clearTimeout(this.tryTimer);
    if (a.peer !== undefined) this.s.info.upstreamPeer = a.peer;
    const stats = this.cluster.stats;
    stats.response(status);
    this.cluster.reportResult(a.host, 'response', status);
    const p = this.route.retry;
    if (p !== undefined) {
      const gs = headers['grpc-status'];
      // Envoy frees this request's own retry slot before asking for the next (resetRetry).
      if (retriableResponse(p, status, gs !== undefined ? Number(gs) : undefined) && this.canRetry()) {
        if (this.cluster.breaker.canRetry(this.holdingRetry)) {
          a.discard = true;
          this.endAttempt(a);
          this.current = undefined;
          if (this.scheduleRetry()) return;
        } else this.s.addFlag('UO');
      }
      if (this.attempts > 1 && status < 500) stats.upstream_rq_retry_success.inc();
    }
    this.finish();
    const s = this.s;
    headers['x-envoy-upstream-service-time'] = String(Math.round(performance.now() - a.start));
    this.responseHeaders = headers;
    s.encodeHeaders(status, headers, endStream);
    if (endStream) {
      this.endAttempt(a);
      if (!s.isHttp2) s.res.end();
    }
  }

  onUpstreamData(a: Attempt, chunk: Buffer): boolean {
    if (a !== this.current) return true;
    const s = this.s;
    if (s.encodeData(chunk, false)) return true;
    s.onDownstreamDrain(() => a.control?.resume());
    return false;
  }

  onUpstreamEnd(a: Attempt, trailers: InHeaders | undefined): void {
    if (a !== this.current) return;
    this.endAttempt(a);
    const s = this.s;
    const down = s.res;
    if (trailers !== undefined && (s.isHttp2 || this.responseHeaders?.['content-length'] === undefined)) {
      s.info.responseTrailers = trailers;
      if (trailers['grpc-status'] !== undefined) s.info.grpcStatus = Number(trailers['grpc-status']);
      s.encodeTrailers(trailers);
    }
    down.end();
  }

  onUpstreamError(a: Attempt, err: UpstreamError): void {
    if (a !== this.current) return;
    this.endAttempt(a);
    if (this.s.responseStarted) {
      this.finish();
      if (err.kind === 'protocol') this.s.addFlag('UPE');
      else {
        this.cluster.stats.upstream_rq_rx_reset.inc();
        this.s.addFlag('UR');
      }
      this.s.resetDownstream();
      return;
    }
    if (err.kind === 'aborted') return;
    if (err.transportFailureReason !== undefined) this.s.info.upstreamTransportFailureReason = err.transportFailureReason;
    this.onAttemptFailure(a, err.kind);
  }

  private onAttemptFailure(a: Attempt, failure: UpstreamFailure): void {
    this.current = undefined;
    this.cluster.reportResult(a.host, failure === 'connect' ? 'connect_failure' : failure === 'timeout' ? 'timeout' : 'reset');
    if (failure === 'reset' || failure === 'refused') this.cluster.stats.upstream_rq_rx_reset.inc();
    const p = this.route.retry;
    if (p && retriableFailure(p, failure === 'aborted' || failure === 'protocol' ? 'reset' : failure) && this.canRetry() && this.scheduleRetry()) {
      if (failure === 'connect') this.s.addFlag('UF');
      return;
    }
    this.finish();
    const s = this.s;
    if (this.attempts > 1 && p) s.addFlag('URX');
    if (failure === 'timeout') s.sendLocalReply(504, LOCAL_REPLY.timeout, 'UT');
    else if (failure === 'connect') s.sendLocalReply(503, LOCAL_REPLY.connectFailure, 'UF');
    else if (failure === 'protocol') s.sendLocalReply(503, LOCAL_REPLY.protocolError, 'UPE');
    else s.sendLocalReply(503, LOCAL_REPLY.reset, 'UC');
  }

  perTryTimeout(a: Attempt): void {
    if (a !== this.current || this.finished) return;
    this.cluster.stats.upstream_rq_per_try_timeout.inc();
    a.control?.abort();
    this.endAttempt(a);
    this.onAttemptFailure(a, 'timeout');
  }

  globalTimeout(): void {
    if (this.finished) return;
    this.cluster.stats.upstream_rq_timeout.inc();
    this.finish();
    const a = this.current;
    if (a) {
      a.control?.abort();
      this.endAttempt(a);
      this.cluster.reportResult(a.host, 'timeout');
    }
    if (this.waitingAdmission && this.pendingAdmit) this.cluster.breaker.cancel(this.pendingAdmit);
    this.s.sendLocalReply(504, LOCAL_REPLY.timeout, 'UT');
  }

  /** No more attempts: stop timers (the current attempt may still stream its body). */
  private finish(): void {
    this.finished = true;
    clearTimeout(this.globalTimer);
    clearTimeout(this.retryTimer);
  }

  /** The downstream stream closed (complete or reset). */
  onDownstreamClose(): void {
    if (this.waitingAdmission && this.pendingAdmit) {
      this.waitingAdmission = false;
      this.cluster.breaker.cancel(this.pendingAdmit);
    }
    this.finish();
    const a = this.current;
    if (a && a.active) {
      a.control?.abort();
      this.endAttempt(a);
    }
    if (this.holdingRetry) {
      this.holdingRetry = false;
      this.cluster.breaker.retryDone();
    }
  }

  onDestroy(): void {
    clearTimeout(this.tryTimer);
  }
}

// Timer callbacks as plain functions with arguments: no closure per request.
function onGlobalTimeout(r: RouterFilter): void {
  r.globalTimeout();
}
function onPerTryTimeout(r: RouterFilter, a: Attempt): void {
  r.perTryTimeout(a);
}
function onRetryTimer(r: RouterFilter): void {
  r.retryNow();
}

class RouterConfig implements HttpFilterConfig {
  constructor(readonly name: string) {}
  create(): HttpFilter {
    return new RouterFilter();
  }
}

export const routerFilterFactory: HttpFilterFactory = {
  typeUrls: [ROUTER_TYPE],
  perRouteTypeUrls: [],
  parse: (_config, name) => new RouterConfig(name),
};
