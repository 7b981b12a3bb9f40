/**
 * envoy.filters.http.ext_authz: asks an external authorization service about each request once
 * its headers (and, with with_request_body, its body up to max_request_bytes) are in.
 * - allowed: the service's headers go to the upstream request (and the route is matched again when
 *   clear_route_cache is on and headers changed), its client headers to the response;
 * - denied: its status (default 403), headers and body go to the client as a local reply, flag
 *   UAEX, %RESPONSE_CODE_DETAILS% `ext_authz_denied` (gRPC callers get the mapped grpc-status);
 * - error (down, reset, 5xx from an HTTP service, timeout): failure_mode_allow lets the request
 *   through (with `x-envoy-auth-failure-mode-allowed: true` when failure_mode_allow_header_add),
 *   otherwise status_on_error (default 403), flag UAEX, details `ext_authz_error`. An outage is
 *   logged once with its reason, and its end once.
 * filter_enabled_metadata limits the check to requests whose dynamic metadata matches (Istio's
 * CUSTOM action: the shadow RBAC filter before this one marks requests a CUSTOM rule covers).
 * Counters `http.<stat_prefix>.ext_authz.{ok,denied,error,failure_mode_allowed,disabled}`.
 */
import { EXT_AUTHZ_TYPE } from '../../../xds/type-urls.js';
import type { Counter, StatsStore } from '../../../stats/stats-store.js';
import type { HeaderMap } from '../../core/header-map.js';
import type {
  FilterDataStatus, FilterHeadersStatus, HttpFilter, HttpFilterCallbacks, HttpFilterConfig, HttpFilterFactory, HttpFilterParseContext,
} from '../../filter-api/http-filter.js';
import { applyHeaderEdits, checkInputOf, type AuthzClient, type CheckResult, type HeaderEdit } from './ext-authz-check.js';
import { EXT_AUTHZ_FILTER, parseExtAuthzConfig, type ExtAuthzSettings } from './ext-authz-config.js';
import { GrpcAuthzClient } from './ext-authz-grpc-client.js';
import { HttpAuthzClient } from './ext-authz-http-client.js';
import { OutageLog } from '../../grpc-client/outage-log.js';

export { EXT_AUTHZ_FILTER };

interface Counters {
  ok: Counter | undefined;
  denied: Counter | undefined;
  error: Counter | undefined;
  failureModeAllowed: Counter | undefined;
  disabled: Counter | undefined;
}

export class ExtAuthzConfig implements HttpFilterConfig {
  readonly decodesBody: boolean;
  constructor(
    readonly name: string,
    readonly settings: ExtAuthzSettings,
    readonly client: AuthzClient,
    readonly counters: Counters,
    readonly outage: OutageLog,
  ) {
    this.decodesBody = settings.body !== undefined;
  }
  create(): HttpFilter {
    return new ExtAuthzFilter(this);
  }
}

const enum Phase { Idle, WaitingBody, Checking, Done }

export class ExtAuthzFilter implements HttpFilter {
  private phase = Phase.Idle;
  private cancel: (() => void) | undefined;
  private destroyed = false;
  private downstream: HeaderEdit[] | undefined;

  constructor(private readonly cfg: ExtAuthzConfig) {}

  decodeHeaders(cb: HttpFilterCallbacks, endStream: boolean): FilterHeadersStatus {
    const s = this.cfg.settings;
    if (s.enabledMetadata !== undefined && !s.enabledMetadata((ns) => cb.dynamicMetadata(ns))) {
      this.cfg.counters.disabled?.inc();
      this.phase = Phase.Done;
      return 'continue';
    }
    if (s.body !== undefined && !endStream) {
      // past max_request_bytes: 413 unless a partial body may go (Envoy)
      cb.setDecoderBufferLimit(s.body.allowPartial ? Math.max(s.body.maxBytes, cb.bufferLimitBytes) : s.body.maxBytes);
      this.phase = Phase.WaitingBody;
      return 'stop';
    }
    this.startCheck(cb, undefined, false);
    return 'stop';
  }

  decodeData(cb: HttpFilterCallbacks, data: Buffer, endStream: boolean): FilterDataStatus {
    if (this.phase === Phase.Done || this.phase === Phase.Idle) return 'continue';
    if (this.phase === Phase.Checking) return 'stop-and-buffer';
    const body = this.cfg.settings.body!;
    const held = cb.decodingBuffer ?? data;
    if (endStream || held.length >= body.maxBytes) {
      const partial = held.length > body.maxBytes || !endStream;
      this.startCheck(cb, held.length > body.maxBytes ? held.subarray(0, body.maxBytes) : held, partial);
    }
    return 'stop-and-buffer';
  }

  private startCheck(cb: HttpFilterCallbacks, body: Buffer | undefined, partial: boolean): void {
    this.phase = Phase.Checking;
    this.cancel = this.cfg.client.check(checkInputOf(cb, body, partial), (r) => {
      this.cancel = undefined;
      if (!this.destroyed) this.onResult(cb, r);
    });
  }

  private onResult(cb: HttpFilterCallbacks, r: CheckResult): void {
    const { settings: s, counters: c } = this.cfg;
    this.phase = Phase.Done;
    if (r.kind !== 'error') this.cfg.outage.worked();
    if (r.kind === 'ok') {
      c.ok?.inc();
      const h = cb.headers as HeaderMap;
      let changed = applyHeaderEdits(h, r.upstream);
      for (const k of r.remove) {
        if (k.startsWith(':') || k === 'host' || h[k] === undefined) continue;
        h[k] = undefined;
        changed++;
      }
      if (changed > 0 && s.clearRouteCache) cb.clearRouteCache();
      if (r.downstream.length) this.downstream = r.downstream;
      cb.continueDecoding();
      return;
    }
    if (r.kind === 'denied') {
      c.denied?.inc();
      const headers: HeaderMap = {};
      applyHeaderEdits(headers, r.headers);
      const contentType = headers['content-type'];
      headers['content-type'] = undefined;
      cb.sendLocalReply(r.status, r.body, 'UAEX', {
        details: 'ext_authz_denied',
        headers,
        ...(typeof contentType === 'string' ? { contentType } : {}),
      });
      return;
    }
    c.error?.inc();
    this.cfg.outage.failed(r.reason);
    if (s.failureModeAllow) {
      c.failureModeAllowed?.inc();
      if (s.failureModeAllowHeaderAdd) (cb.headers as HeaderMap)['x-envoy-auth-failure-mode-allowed'] = 'true';
      cb.continueDecoding();
      return;
    }
    cb.sendLocalReply(s.statusOnError, undefined, 'UAEX', { details: 'ext_authz_error' });
  }

  encodeHeaders(_cb: HttpFilterCallbacks, _status: number, headers: HeaderMap): void {
    if (this.downstream !== undefined) applyHeaderEdits(headers, this.downstream);
  }

  onDestroy(): void {
    this.destroyed = true;
    const cancel = this.cancel;
    this.cancel = undefined;
    cancel?.();
  }
}

function counters(stats: StatsStore | undefined, scope: string): Counters {
  const s = stats?.scope(scope);
  return {
    ok: s?.counter('ok'),
    denied: s?.counter('denied'),
    error: s?.counter('error'),
    failureModeAllowed: s?.counter('failure_mode_allowed'),
    disabled: s?.counter('disabled'),
  };
}

export function parseExtAuthzFilter(c: Record<string, any>, name: string, ctx: HttpFilterParseContext): ExtAuthzConfig {
  const s = parseExtAuthzConfig(c, name);
  const t = s.target;
  const slot = ctx.resolveCluster(t.cluster);
  const client: AuthzClient = t.kind === 'grpc'
    ? new GrpcAuthzClient(t, slot, { allowed: s.allowedHeaders, disallowed: s.disallowedHeaders, packAsBytes: s.body?.packAsBytes, tlsSession: s.includeTlsSession })
    : new HttpAuthzClient(t, slot);
  const what = `${t.kind} ${t.cluster}`;
  const outage = ctx.shared.get(`ext_authz:outage:${what}`, () => new OutageLog(`ext_authz ${what}`));
  const scope = `http.${ctx.statPrefix ?? ''}.ext_authz.${s.statPrefix ? `${s.statPrefix}.` : ''}`;
  return new ExtAuthzConfig(name, s, client, counters(ctx.stats, scope), outage);
}

export const extAuthzFilterFactory: HttpFilterFactory = {
  typeUrls: [EXT_AUTHZ_TYPE],
  perRouteTypeUrls: [],
  parse: parseExtAuthzFilter,
};
