/** Network filters (HttpConnectionManager, TcpProxy) and the HTTP filter chain Clew configures. */
import type { EnvoyResource } from '../../xds/codec.js';
import { CORS_TYPE, FAULT_TYPE, HCM_TYPE, ROUTER_TYPE, TCP_PROXY_TYPE } from '../../xds/type-urls.js';
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

/** Outbound/gateway chain: fault, cors, router (the router must be last). */
export function outboundHttpFilters(): EnvoyResource[] {
  return [faultFilter(), corsFilter(), routerFilter()];
}

export interface HcmOptions {
  statPrefix: string;
  rds?: string;
  routeConfig?: EnvoyResource;
  httpFilters: EnvoyResource[];
  useRemoteAddress?: boolean;
  /** access_log, tracing, and the istio.stats filter (inserted right before the router) */
  telemetry?: ListenerTelemetry;
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
