/** Network filters (HttpConnectionManager, TcpProxy) and the HTTP filter chain Clew configures. */
import type { EnvoyResource } from '../../xds/codec.js';
import { CORS_TYPE, FAULT_TYPE, HCM_TYPE, ISTIO_ALPN_TYPE, ROUTER_TYPE, TCP_PROXY_TYPE, TYPED_STRUCT_TYPE } from '../../xds/type-urls.js';
import { jsonToStruct } from '../../xds/struct.js';
import { adsConfigSource } from './build-common.js';
import type { ListenerTelemetry } from './build-telemetry-filters.js';

export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
export const TCP_PROXY_FILTER = 'envoy.filters.network.tcp_proxy';

export function faultFilter(): EnvoyResource {
  // An empty HTTPFault does nothing by itself; per-route configs supply the faults.
  return { name: 'envoy.filters.http.fault', typed_config: { '@type': FAULT_TYPE } };
}

export function corsFilter(): EnvoyResource {
  return { name: 'envoy.filters.http.cors', typed_config: { '@type': CORS_TYPE } };
}

export function routerFilter(): EnvoyResource {
  return { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } };
}

/** Istio's `istio.alpn` override (a TypedStruct): mTLS HTTP upstream connections announce their HTTP version. */
export const ISTIO_ALPN_OVERRIDE = [
  { upstream_protocol: 'HTTP10', alpn_override: ['istio-http/1.0', 'istio'] },
  { upstream_protocol: 'HTTP11', alpn_override: ['istio-http/1.1', 'istio'] },
  { upstream_protocol: 'HTTP2', alpn_override: ['istio-h2', 'istio'] },
] as const;

/**
 * Istio's `istio.alpn` filter: a new upstream TLS connection offers `istio-http/1.0|1.1` or
 * `istio-h2` (then `istio`), so the server sidecar's mTLS HTTP chain takes it even on a port
 * whose protocol is sniffed (without it, such a port's mTLS traffic lands on the TCP chain).
 */
export function alpnFilter(): EnvoyResource {
  return {
    name: 'istio.alpn',
    typed_config: {
      '@type': TYPED_STRUCT_TYPE,
      type_url: ISTIO_ALPN_TYPE,
      value: jsonToStruct({ alpn_override: ISTIO_ALPN_OVERRIDE.map((e) => ({ upstream_protocol: e.upstream_protocol, alpn_override: [...e.alpn_override] })) }),
    },
  };
}

/**
 * Outbound/gateway chain: fault, cors, router (the router must be last); a sidecar's outbound
 * chain starts with istio.alpn, as Istio's does.
 */
export function outboundHttpFilters(o: { sidecar?: boolean } = {}): EnvoyResource[] {
  return [...(o.sidecar ? [alpnFilter()] : []), faultFilter(), corsFilter(), routerFilter()];
}

export interface HcmOptions {
  statPrefix: string;
  rds?: string;
  routeConfig?: EnvoyResource;
  httpFilters: EnvoyResource[];
  useRemoteAddress?: boolean;
  /** access_log, tracing, and the istio.stats filter (inserted right before the router) */
  telemetry?: ListenerTelemetry;
  /**
   * X-Forwarded-Client-Cert: inbound sidecar chains use SANITIZE_SET (a caller's own header is
   * dropped; an mTLS peer's certificate is described: Hash, Subject, URI, DNS)
   */
  xfcc?: 'SANITIZE_SET';
  /** normalize_path, merge_slashes, path_with_escaped_slashes_action (build-path-normalization.ts) */
  pathNormalization?: EnvoyResource;
}

export function hcmConfig(o: HcmOptions): EnvoyResource {
  const cfg: EnvoyResource = { '@type': HCM_TYPE, stat_prefix: o.statPrefix };
  if (o.rds !== undefined) cfg.rds = { route_config_name: o.rds, config_source: adsConfigSource() };
  if (o.routeConfig) cfg.route_config = o.routeConfig;
  const stats = o.telemetry?.httpStats;
  cfg.http_filters = stats ? [...o.httpFilters.slice(0, -1), stats, ...o.httpFilters.slice(-1)] : o.httpFilters;
  cfg.upgrade_configs = [{ upgrade_type: 'websocket' }];
  if (o.useRemoteAddress) cfg.use_remote_address = { value: true };
  if (o.xfcc) {
    cfg.forward_client_cert_details = o.xfcc;
    cfg.set_current_client_cert_details = { subject: { value: true }, uri: true, dns: true };
  }
  if (o.pathNormalization) Object.assign(cfg, o.pathNormalization);
  if (o.telemetry?.accessLog.length) cfg.access_log = o.telemetry.accessLog;
  if (o.telemetry?.tracing) cfg.tracing = o.telemetry.tracing;
  return cfg;
}

export function hcmFilter(o: HcmOptions): EnvoyResource {
  return { name: HCM_FILTER, typed_config: hcmConfig(o) };
}

export function tcpProxyFilter(statPrefix: string, clusters: { name: string; weight: number }[], accessLog: EnvoyResource[] = []): EnvoyResource {
  const cfg: EnvoyResource = { '@type': TCP_PROXY_TYPE, stat_prefix: statPrefix };
  if (clusters.length === 1) cfg.cluster = clusters[0].name;
  else cfg.weighted_clusters = { clusters: clusters.map((c) => ({ name: c.name, weight: c.weight })) };
  if (accessLog.length) cfg.access_log = accessLog;
  return { name: TCP_PROXY_FILTER, typed_config: cfg };
}

/** A TCP filter chain's filters: istio.stats (when on), then tcp_proxy with the access logs. */
export function tcpFilters(statPrefix: string, clusters: { name: string; weight: number }[], telemetry: ListenerTelemetry): EnvoyResource[] {
  const proxy = tcpProxyFilter(statPrefix, clusters, telemetry.accessLog);
  return telemetry.tcpStats ? [telemetry.tcpStats, proxy] : [proxy];
}
