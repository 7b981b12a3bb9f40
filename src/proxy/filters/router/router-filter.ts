/**
 * envoy.filters.http.router: the terminal filter. Direct responses and redirects, cluster choice
 * (single, weighted, header), rewrites and header ops, circuit breaking, host selection, upstream
 * attempts with per-try and global timeouts, retries with jittered backoff, mirroring, and the
 * response (headers, body, trailers) back downstream.
 */
import type * as http2 from 'node:http2';
import type { Readable } from 'node:stream';
import { ROUTER_TYPE } from '../../../xds/type-urls.js';
import type { ActiveStream } from '../../http/active-stream.js';
import { LOCAL_REPLY } from '../../http/local-reply.js';
import { parseAuthority } from '../../listener/destination.js';
import { applyHeaderOps } from '../../router/header-ops.js';
import type { Route } from '../../router/route-config.js';
import { backoffMs, retriableFailure, retriableResponse } from '../../router/retry-policy.js';
import type { Cluster } from '../../upstream/cluster.js';
import type { Host } from '../../upstream/host.js';
import { UpstreamError, type OutHeaders, type UpstreamResponse } from '../../upstream/pool.js';
import type { HttpFilter, HttpFilterConfig, HttpFilterFactory } from '../filter.js';
import { pickWeighted, redirectLocation, requestHash, rewritePath, upstreamHeaders } from './router-helpers.js';
import { sendMirror } from './router-mirror.js';

class RouterFilter implements HttpFilter {
  private s!: ActiveStream;
  private route!: Route;
  private cluster!: Cluster;
  private headers!: OutHeaders;
  private path = '/';
  private body: Buffer | Readable | null = null;
  private attempt = 0;
  private host: Host | undefined;
  private controller: AbortController | undefined;
  private globalTimer: NodeJS.Timeout | undefined;
  private tryTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attemptActive = false;
  private holdingRetry = false;
  private finished = false;
  private attemptStart = 0;
  private hash: number | undefined;
  private pendingAdmit: (() => void) | undefined;
  private perTryTimedOut = false;

  decodeHeaders(s: ActiveStream): boolean {
    this.s = s;
    const route = s.route;
    if (!route) {
      s.sendLocalReply(404, undefined, 'NR');
      return false;
    }
    this.route = route;
    if (route.kind === 'direct') {
      const d = route.direct!;
      s.sendLocalReply(d.status, d.body, undefined);
      return false;
    }
    if (route.kind === 'redirect') {
      const loc = redirectLocation(route.redirect!, route, s.authority, s.path, (s.headers['x-forwarded-proto'] as string) ?? 'http');
      s.encodeHeaders(route.redirect!.status, { location: loc, 'content-length': '0' }, false);
      s.res.end();
      return false;
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
      if (typeof name === 'string') slot = s.hcm.resolveCluster(name);
    }
    const cluster = slot?.cluster;
    s.info.upstreamCluster = slot?.name;
    if (!cluster) {
      s.sendLocalReply(503, LOCAL_REPLY.noCluster || undefined, 'NC');
      return false;
    }
    this.cluster = cluster;
    // Request header mutations: route config, virtual host, route, weighted cluster (most specific last).
    const h = s.headers;
    const rc = s.hcm.routes.config;
    if (rc) applyHeaderOps(h, rc.requestOps);
    applyHeaderOps(h, route.vhost.requestOps);
    applyHeaderOps(h, route.requestOps);
    if (s.weightedTarget) applyHeaderOps(h, s.weightedTarget.requestOps);
    this.path = route.prefixRewrite !== undefined || route.regexRewrite ? rewritePath(route, s.path) : s.path;
    const authority = hostRewrite ?? s.authority;
    if (route.timeoutMs > 0) h['x-envoy-expected-rq-timeout-ms'] = String(route.timeoutMs);
    this.headers = upstreamHeaders(h, authority);
    if (route.hashPolicies.length > 0) this.hash = requestHash(route.hashPolicies, h, s.path, s.conn.remoteAddress);
    s.onDownstreamReset = () => this.onDownstreamReset();

    const req = s.req;
    const hasBody = s.isHttp2
      ? !(req as http2.Http2ServerRequest).stream.endAfterHeaders
      : (h['content-length'] !== undefined && h['content-length'] !== '0') || h['transfer-encoding'] !== undefined;
    if (hasBody && (route.retry || route.mirrors.length > 0)) {
      // Retries and mirrors need the whole body; buffer it (Envoy buffers too).
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.body = Buffer.concat(chunks);
        s.info.bytesReceived = this.body.length;
        this.begin();
      });
    } else {
      this.body = hasBody ? (req as Readable) : null;
      if (hasBody) s.info.bytesReceived = Number(h['content-length'] ?? 0);
      this.begin();
    }
    return false;
  }

  private begin(): void {
    if (this.finished) return;
    const route = this.route;
    for (const m of route.mirrors) {
      if (m.fraction >= 1 || Math.random() < m.fraction) sendMirror(m.slot, this.s, this.headers, this.path, this.body);
    }
    if (route.timeoutMs > 0) this.globalTimer = setTimeout(() => this.onGlobalTimeout(), route.timeoutMs);
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
    const admission = cluster.breaker.admit((this.pendingAdmit ??= () => this.sendAttempt()));
    if (admission === 'overflow') {
      this.finish();
      s.sendLocalReply(503, LOCAL_REPLY.overflow, 'UO');
      return;
    }
    if (admission === 'ok') this.sendAttempt();
  }

  private sendAttempt(): void {
    if (this.finished) {
      this.cluster.breaker.release();
      return;
    }
    const host = this.host!;
    const stats = this.cluster.stats;
    this.attempt++;
    this.attemptActive = true;
    host.rqActive++;
    host.rqTotal++;
    stats.upstream_rq_total++;
    stats.upstream_rq_active++;
    const s = this.s;
    s.info.upstreamHost = host.key;
    s.info.attemptCount = this.attempt;
    this.headers['x-envoy-attempt-count'] = String(this.attempt);
    const controller = new AbortController();
    this.controller = controller;
    this.perTryTimedOut = false;
    const perTry = this.route.retry?.perTryTimeoutMs ?? 0;
    if (perTry > 0) this.tryTimer = setTimeout(() => this.onPerTryTimeout(controller), perTry);
    this.attemptStart = performance.now();
    const body = this.body;
    this.cluster
      .pool(host)
      .request({ method: s.method, path: this.path, authority: this.headers.host as string, headers: this.headers, body, signal: controller.signal })
      .then(
        (res) => this.onResponse(res, controller),
        (err: UpstreamError) => this.onError(err, controller),
      );
  }

  private endAttempt(): void {
    if (!this.attemptActive) return;
    this.attemptActive = false;
    clearTimeout(this.tryTimer);
    this.host!.rqActive--;
    this.cluster.stats.upstream_rq_active--;
    this.cluster.breaker.release();
    if (this.holdingRetry) {
      this.holdingRetry = false;
      this.cluster.breaker.retryDone();
    }
  }

  private canRetry(): boolean {
    const p = this.route.retry;
    if (!p || this.finished || this.attempt > p.numRetries) return false;
    if (this.body !== null && !Buffer.isBuffer(this.body)) return false;
    return true;
  }

  private scheduleRetry(): boolean {
    if (!this.cluster.breaker.tryRetry()) return false;
    this.cluster.stats.upstream_rq_retry++;
    const delay = backoffMs(this.route.retry!, this.attempt);
    this.retryTimer = setTimeout(() => {
      this.holdingRetry = true;
      this.startAttempt();
    }, delay);
    return true;
  }

  private onResponse(res: UpstreamResponse, controller: AbortController): void {
    if (controller !== this.controller || this.finished) {
      res.body.resume();
      return;
    }
    const host = this.host!;
    const status = res.status;
    const gs = res.headers['grpc-status'];
    const grpcStatus = gs !== undefined ? Number(gs) : undefined;
    const stats = this.cluster.stats;
    stats.countResponse(status);
    this.cluster.reportResult(host, status >= 500 ? 'error_response' : 'success', status);
    const p = this.route.retry;
    if (p && retriableResponse(p, status, grpcStatus) && this.canRetry()) {
      const retrying = this.attemptActive;
      this.endAttempt();
      if (retrying && this.scheduleRetry()) {
        res.body.resume();
        return;
      }
    }
    if (this.attempt > 1 && status < 500) stats.upstream_rq_retry_success++;
    this.finish();
    const s = this.s;
    const headers = res.headers;
    headers['x-envoy-upstream-service-time'] = String(Math.round(performance.now() - this.attemptStart));
    s.info.responseTrailers = res.trailers;
    if (res.endedWithHeaders) {
      this.endAttempt();
      s.encodeHeaders(status, headers, true);
      if (!s.isHttp2) s.res.end();
      return;
    }
    s.encodeHeaders(status, headers, false);
    const down = s.res as import('node:stream').Writable & { addTrailers(t: Record<string, string>): void };
    const body = res.body;
    body.on('data', (c: Buffer) => {
      s.info.bytesSent += c.length;
      if (!down.write(c)) {
        body.pause();
        down.once('drain', () => body.resume());
      }
    });
    body.on('end', () => {
      this.endAttempt();
      const t = res.trailers;
      let hasTrailers = false;
      for (const _ in t) {
        hasTrailers = true;
        break;
      }
      if (hasTrailers && (s.isHttp2 || headers['content-length'] === undefined)) {
        s.info.responseTrailers = t;
        if (t['grpc-status'] !== undefined) s.info.grpcStatus = Number(t['grpc-status']);
        down.addTrailers(t as Record<string, string>);
      }
      down.end();
    });
    body.on('error', () => {
      this.endAttempt();
      stats.upstream_rq_rx_reset++;
      s.addFlag('UR');
      s.resetDownstream();
    });
  }

  private onError(err: UpstreamError, controller: AbortController): void {
    if (controller !== this.controller) return;
    const kind = err.kind;
    const host = this.host!;
    this.endAttempt();
    if (this.finished || kind === 'aborted' && !this.perTryTimedOut) return;
    const failure = this.perTryTimedOut ? 'timeout' : kind === 'aborted' ? 'reset' : kind;
    this.cluster.reportResult(host, failure === 'connect' ? 'connect_failure' : failure === 'timeout' ? 'timeout' : 'reset');
    if (failure === 'reset' || failure === 'refused') this.cluster.stats.upstream_rq_rx_reset++;
    const p = this.route.retry;
    if (p && retriableFailure(p, failure) && this.canRetry() && this.scheduleRetry()) {
      if (failure === 'connect') this.s.addFlag('UF');
      return;
    }
    this.finish();
    const s = this.s;
    if (this.attempt > 1 && p) s.addFlag('URX');
    if (failure === 'timeout') {
      s.sendLocalReply(504, LOCAL_REPLY.timeout, 'UT');
    } else if (failure === 'connect') {
      s.sendLocalReply(503, LOCAL_REPLY.connectFailure, 'UF');
    } else {
      s.sendLocalReply(503, LOCAL_REPLY.reset, 'UC');
    }
  }

  private onPerTryTimeout(controller: AbortController): void {
    if (controller !== this.controller) return;
    this.cluster.stats.upstream_rq_per_try_timeout++;
    this.perTryTimedOut = true;
    controller.abort();
  }

  private onGlobalTimeout(): void {
    if (this.finished) return;
    this.cluster.stats.upstream_rq_timeout++;
    this.finish();
    this.controller?.abort();
    this.endAttempt();
    if (this.pendingAdmit) this.cluster.breaker.cancel(this.pendingAdmit);
    this.s.sendLocalReply(504, LOCAL_REPLY.timeout, 'UT');
  }

  /** No more attempts: stop timers (the current attempt may still stream its body). */
  private finish(): void {
    this.finished = true;
    clearTimeout(this.globalTimer);
    clearTimeout(this.retryTimer);
  }

  private onDownstreamReset(): void {
    if (this.pendingAdmit && !this.attemptActive && !this.finished) this.cluster.breaker.cancel(this.pendingAdmit);
    const wasFinished = this.finished;
    this.finish();
    if (this.attemptActive) {
      if (!wasFinished || !this.s.res.writableFinished) this.controller?.abort();
      this.endAttempt();
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
