/**
 * DestinationRule traffic policy → Envoy Cluster fields (load balancer, circuit breakers,
 * connection options, HTTP protocol options, outlier detection), following Istio's mapping.
 */
import type {
  ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, PortTrafficPolicy, TrafficPolicy,
} from '../../config/types.js';
import type { Protocol } from '../../registry/types.js';
import { isHttp2Protocol, isHttpProtocol } from '../../registry/registry-protocol.js';
import type { EnvoyResource } from '../../xds/codec.js';
import { HTTP_PROTOCOL_OPTIONS_TYPE } from '../../xds/type-urls.js';
import type { MergedDestinationRule } from '../push-context.js';
import { compact, DEFAULT_CONNECT_TIMEOUT, duration, MAX_UINT32 } from './build-common.js';

export interface EffectivePolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: TrafficPolicy['tls'];
}

/** A policy's settings with its port-level settings for `port` laid over them. */
function forPort(policy: TrafficPolicy | undefined, port: number): EffectivePolicy {
  if (!policy) return {};
  const pl: PortTrafficPolicy | undefined = policy.portLevelSettings?.find((p) => p.port?.number === port);
  return compact({
    loadBalancer: pl?.loadBalancer ?? policy.loadBalancer,
    connectionPool: pl?.connectionPool ?? policy.connectionPool,
    outlierDetection: pl?.outlierDetection ?? policy.outlierDetection,
    tls: pl?.tls ?? policy.tls,
  });
}

/** Top-level policy, overridden per field by the subset's policy; port-level settings win within each. */
export function effectiveTrafficPolicy(
  dr: MergedDestinationRule | undefined, subset: string | undefined, port: number,
): EffectivePolicy {
  if (!dr) return {};
  const base = forPort(dr.spec.trafficPolicy, port);
  const sub = subset ? dr.spec.subsets?.find((s) => s.name === subset) : undefined;
  if (!sub?.trafficPolicy) return base;
  const over = forPort(sub.trafficPolicy, port);
  return compact({
    loadBalancer: over.loadBalancer ?? base.loadBalancer,
    connectionPool: over.connectionPool ?? base.connectionPool,
    outlierDetection: over.outlierDetection ?? base.outlierDetection,
    tls: over.tls ?? base.tls,
  });
}

/** Is locality-aware load balancing active for this policy (Istio: distribute, or failover with outlier detection)? */
export function localityLbActive(policy: EffectivePolicy): boolean {
  const l = policy.loadBalancer?.localityLbSetting;
  if (l?.enabled === false) return false;
  return Boolean(policy.outlierDetection) || (l?.distribute?.length ?? 0) > 0;
}

function applyLoadBalancer(c: EnvoyResource, lb: LoadBalancerSettings | undefined): void {
  c.lb_policy = 'ROUND_ROBIN';
  if (!lb) return;
  if (lb.consistentHash) {
    const ch = lb.consistentHash;
    if (ch.maglev) {
      c.lb_policy = 'MAGLEV';
      if (ch.maglev.tableSize) c.maglev_lb_config = { table_size: { value: ch.maglev.tableSize } };
      return;
    }
    c.lb_policy = 'RING_HASH';
    // Istio's default ring size is 1024.
    c.ring_hash_lb_config = { minimum_ring_size: { value: ch.ringHash?.minimumRingSize ?? ch.minimumRingSize ?? 1024 } };
    return;
  }
  switch (lb.simple) {
    case 'LEAST_CONN':
    case 'LEAST_REQUEST': c.lb_policy = 'LEAST_REQUEST'; break;
    case 'RANDOM': c.lb_policy = 'RANDOM'; break;
    case 'PASSTHROUGH':
      c.type = 'ORIGINAL_DST';
      c.lb_policy = 'CLUSTER_PROVIDED';
      delete c.eds_cluster_config;
      delete c.load_assignment;
      break;
    default: c.lb_policy = 'ROUND_ROBIN';
  }
}

/** A configured limit, or Istio's "unlimited" default (MaxUint32) when unset or 0 (Istio treats 0 as unset). */
function limit(v: number | undefined): number {
  return v !== undefined && v > 0 ? v : MAX_UINT32;
}

/** Istio's circuit-breaker defaults are "unlimited" (MaxUint32), so only configured limits bite. */
export function circuitBreakers(cp: ConnectionPoolSettings | undefined): EnvoyResource {
  return {
    thresholds: [{
      max_connections: { value: limit(cp?.tcp?.maxConnections) },
      max_pending_requests: { value: limit(cp?.http?.http1MaxPendingRequests) },
      max_requests: { value: limit(cp?.http?.http2MaxRequests) },
      max_retries: { value: limit(cp?.http?.maxRetries) },
      track_remaining: true,
    }],
  };
}

function httpProtocolOptions(cp: ConnectionPoolSettings | undefined, protocol: Protocol): EnvoyResource | undefined {
  const http = cp?.http;
  const common = compact({
    idle_timeout: duration(http?.idleTimeout),
    max_requests_per_connection: http?.maxRequestsPerConnection ? { value: http.maxRequestsPerConnection } : undefined,
    max_connection_duration: duration(cp?.tcp?.maxConnectionDuration),
  } as Record<string, unknown>);
  const h2 = isHttp2Protocol(protocol) || http?.h2UpgradePolicy === 'UPGRADE';
  const h2Options = http?.maxConcurrentStreams ? { max_concurrent_streams: { value: http.maxConcurrentStreams } } : {};
  if (Object.keys(common).length === 0 && !h2 && !http?.useClientProtocol) return undefined;
  const out: EnvoyResource = { '@type': HTTP_PROTOCOL_OPTIONS_TYPE };
  if (Object.keys(common).length) out.common_http_protocol_options = common;
  if (http?.useClientProtocol) {
    out.use_downstream_protocol_config = { http_protocol_options: {}, http2_protocol_options: h2Options };
  } else if (h2) {
    out.explicit_http_config = { http2_protocol_options: h2Options };
  } else {
    out.explicit_http_config = { http_protocol_options: {} };
  }
  return out;
}

export function outlierDetection(o: OutlierDetection): EnvoyResource {
  // Success-rate ejection is off in Istio; only the consecutive-error detectors are used. Fields
  // left unset (interval, base_ejection_time, max_ejection_percent) take Envoy's defaults 10 s,
  // 30 s and 10 %, which is what Istio documents; Istio does not send them either.
  const out: EnvoyResource = { enforcing_success_rate: { value: 0 } };
  // consecutiveErrors: deprecated alias (validation warns), used only without consecutive5xxErrors.
  const fiveXx = o.consecutive5xxErrors ?? (o.consecutiveErrors !== undefined && o.consecutiveErrors > 0 ? o.consecutiveErrors : undefined);
  if (fiveXx !== undefined) {
    out.consecutive_5xx = { value: fiveXx };
    out.enforcing_consecutive_5xx = { value: fiveXx > 0 ? 100 : 0 };
  }
  if (o.consecutiveGatewayErrors !== undefined) {
    out.consecutive_gateway_failure = { value: o.consecutiveGatewayErrors };
    out.enforcing_consecutive_gateway_failure = { value: o.consecutiveGatewayErrors > 0 ? 100 : 0 };
  }
  if (o.interval) out.interval = duration(o.interval);
  if (o.baseEjectionTime) out.base_ejection_time = duration(o.baseEjectionTime);
  if (o.maxEjectionPercent !== undefined && o.maxEjectionPercent > 0) out.max_ejection_percent = { value: o.maxEjectionPercent };
  if (o.splitExternalLocalOriginErrors) {
    out.split_external_local_origin_errors = true;
    if ((o.consecutiveLocalOriginFailures ?? 0) > 0) {
      out.consecutive_local_origin_failure = { value: o.consecutiveLocalOriginFailures };
      out.enforcing_consecutive_local_origin_failure = { value: 100 };
    }
    out.enforcing_local_origin_success_rate = { value: 0 };
  }
  return out;
}

/** Applies the effective policy to a cluster under construction (which it owns). */
export function applyTrafficPolicy(c: EnvoyResource, policy: EffectivePolicy, protocol: Protocol): void {
  const cp = policy.connectionPool;
  c.connect_timeout = duration(cp?.tcp?.connectTimeout) ?? { ...DEFAULT_CONNECT_TIMEOUT };
  applyLoadBalancer(c, policy.loadBalancer);
  c.circuit_breakers = circuitBreakers(cp);
  const ka = cp?.tcp?.tcpKeepalive;
  if (ka) {
    c.upstream_connection_options = {
      tcp_keepalive: compact({
        keepalive_probes: ka.probes !== undefined ? { value: ka.probes } : undefined,
        keepalive_time: ka.time ? { value: Math.round((duration(ka.time)?.seconds ?? 0)) } : undefined,
        keepalive_interval: ka.interval ? { value: Math.round((duration(ka.interval)?.seconds ?? 0)) } : undefined,
      } as Record<string, unknown>),
    };
  }
  if (isHttpProtocol(protocol)) {
    const opts = httpProtocolOptions(cp, protocol);
    if (opts) c.typed_extension_protocol_options = { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': opts };
  }
  const common: EnvoyResource = {};
  if (policy.outlierDetection) {
    c.outlier_detection = outlierDetection(policy.outlierDetection);
    // Istio disables Envoy's panic mode unless minHealthPercent asks for it.
    common.healthy_panic_threshold = { value: policy.outlierDetection.minHealthPercent ?? 0 };
  }
  if (localityLbActive(policy)) common.locality_weighted_lb_config = {};
  if (Object.keys(common).length) c.common_lb_config = common;
}
