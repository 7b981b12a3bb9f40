/** Cluster resource -> validated ClusterConfig (once per CDS update; failures NACK). */
import { isIP } from 'node:net';
import { durationToMs } from '../../xds/codec.js';
import { fail } from '../core/errors.js';
import { parseHealthChecks, type HealthCheckConfig } from './health-check-config.js';
import type { EdsHealth } from './host.js';
import type { LbOptions, LbPolicy } from './load-balancer.js';
import { parseOutlierDetection, type OutlierConfig } from './outlier-config.js';
import { structToJson } from '../../xds/struct.js';
import { endpointTransportMetadata, parseClusterTransports, type ClusterTransportConfig } from '../transport/transport-registry.js';

export type DiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';

export interface CircuitBreakers {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
}

export interface EndpointSpec {
  address: string;
  port: number;
  weight: number;
  priority: number;
  locality: string;
  localityWeight: number;
  health: EdsHealth;
  /** the endpoint's `envoy.transport_socket_match` metadata (plain JSON), if any */
  transportMatch: Record<string, unknown> | undefined;
}

export interface TcpKeepalive {
  /** seconds of idleness before the first probe; undefined = OS default */
  timeS: number | undefined;
  intervalS: number | undefined;
  probes: number | undefined;
}

export interface ClusterConfig {
  name: string;
  type: DiscoveryType;
  /** EDS service name (eds_cluster_config.service_name or the cluster name) */
  edsName: string;
  connectTimeoutMs: number;
  lb: LbOptions;
  http2: boolean;
  /**
   * Istio's istio.alpn may replace the TLS ALPN of this cluster's connections; false when the
   * cluster's `istio` metadata says `alpn_override: "false"` (TLS origination to a non-mesh server)
   */
  alpnOverride: boolean;
  circuitBreakers: CircuitBreakers;
  /** common_http_protocol_options.max_requests_per_connection; 0 = unlimited */
  maxRequestsPerConnection: number;
  /** common_http_protocol_options.idle_timeout (Envoy default 1 h); 0 = never */
  idleTimeoutMs: number;
  /** upstream_connection_options.tcp_keepalive */
  tcpKeepalive: TcpKeepalive | undefined;
  /** outlier_detection; undefined = none */
  outlier: OutlierConfig | undefined;
  /** health_checks[0]; undefined = none */
  healthCheck: HealthCheckConfig | undefined;
  /** common_lb_config.healthy_panic_threshold (percent, Envoy default 50; 0 disables panic) */
  panicThresholdPct: number;
  staticEndpoints: EndpointSpec[];
  dnsRefreshMs: number;
  /** upstream_bind_config.source_address: the local address upstream connections bind (Istio: 127.0.0.6 inbound) */
  sourceAddress: string | undefined;
  /** transport_socket and transport_socket_matches (src/proxy/transport) */
  transports: ClusterTransportConfig;
  raw: Record<string, any>;
}

const EDS_HEALTH = new Set(['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED']);

const LB_POLICIES = new Set(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV', 'CLUSTER_PROVIDED']);

function num(v: unknown, d: number): number {
  if (v === undefined || v === null) return d;
  if (typeof v === 'object') return Number((v as { value?: number }).value ?? d);
  return Number(v);
}

export function parseEndpoints(cla: Record<string, any> | undefined): EndpointSpec[] {
  const out: EndpointSpec[] = [];
  for (const le of (cla?.endpoints ?? []) as Array<Record<string, any>>) {
    const loc = le.locality ?? {};
    const locality = `${loc.region ?? ''}/${loc.zone ?? ''}/${loc.sub_zone ?? ''}`;
    for (const ep of (le.lb_endpoints ?? []) as Array<Record<string, any>>) {
      const sa = ep.endpoint?.address?.socket_address;
      if (!sa) continue;
      const hs = String(ep.health_status ?? 'UNKNOWN');
      out.push({
        address: String(sa.address),
        port: Number(sa.port_value ?? 0),
        weight: num(ep.load_balancing_weight, 1) || 1,
        priority: Number(le.priority ?? 0),
        locality,
        localityWeight: num(le.load_balancing_weight, 0),
        health: (EDS_HEALTH.has(hs) ? hs : 'UNKNOWN') as EdsHealth,
        transportMatch: endpointTransportMetadata(ep.metadata) ?? endpointTransportMetadata(le.metadata),
      });
    }
  }
  return out;
}

function lbFromPolicy(c: Record<string, any>): LbPolicy {
  // load_balancing_policy (typed) wins over lb_policy when present.
  for (const p of (c.load_balancing_policy?.policies ?? []) as Array<Record<string, any>>) {
    const t = String(p.typed_extension_config?.typed_config?.['@type'] ?? '');
    if (t.endsWith('RingHash')) return 'RING_HASH';
    if (t.endsWith('LeastRequest')) return 'LEAST_REQUEST';
    if (t.endsWith('Random')) return 'RANDOM';
    if (t.endsWith('RoundRobin')) return 'ROUND_ROBIN';
  }
  const p = String(c.lb_policy ?? 'ROUND_ROBIN');
  if (!LB_POLICIES.has(p)) fail(`cluster ${c.name}: unsupported lb_policy ${p}`);
  return p as LbPolicy;
}

export function parseCluster(c: Record<string, any>): ClusterConfig {
  const name = String(c.name ?? '');
  if (!name) fail('cluster without name');
  const type = (c.type ?? (c.cluster_type ? 'STATIC' : 'STATIC')) as DiscoveryType;
  if (!['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST'].includes(type)) fail(`cluster ${name}: unsupported type ${type}`);
  const th = ((c.circuit_breakers?.thresholds ?? []) as Array<Record<string, any>>).find((t) => (t.priority ?? 'DEFAULT') === 'DEFAULT') ?? {};
  const hpo = c.typed_extension_protocol_options?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  const http2 =
    c.http2_protocol_options !== undefined ||
    hpo?.explicit_http_config?.http2_protocol_options !== undefined;
  const ring = c.ring_hash_lb_config ?? {};
  const uhpo = hpo?.upstream_http_protocol_options ?? c.upstream_http_protocol_options;
  if (uhpo?.auto_sni || uhpo?.auto_san_validation) fail(`cluster ${name}: upstream_http_protocol_options.auto_sni/auto_san_validation: not implemented by this proxy`);
  for (const [i, hc] of ((c.health_checks ?? []) as Array<Record<string, any>>).entries()) {
    if (hc.transport_socket_match_criteria) fail(`cluster ${name}: health_checks[${i}].transport_socket_match_criteria: not implemented by this proxy`);
  }
  const lbPolicy = lbFromPolicy(c);
  return {
    name,
    type,
    edsName: String(c.eds_cluster_config?.service_name || name),
    connectTimeoutMs: durationToMs(c.connect_timeout) ?? 5000,
    lb: {
      policy: lbPolicy,
      minimumRingSize: num(ring.minimum_ring_size, 1024),
      maximumRingSize: num(ring.maximum_ring_size, 8 * 1024 * 1024),
      choiceCount: num(c.least_request_lb_config?.choice_count, 2),
    },
    http2,
    alpnOverride: structToJson(c.metadata?.filter_metadata?.istio ?? {}).alpn_override !== 'false',
    circuitBreakers: {
      maxConnections: num(th.max_connections, 1024),
      maxPendingRequests: num(th.max_pending_requests, 1024),
      maxRequests: num(th.max_requests, 1024),
      maxRetries: num(th.max_retries, 3),
    },
    maxRequestsPerConnection: num(hpo?.common_http_protocol_options?.max_requests_per_connection ?? c.max_requests_per_connection, 0),
    idleTimeoutMs: durationToMs(hpo?.common_http_protocol_options?.idle_timeout ?? c.common_http_protocol_options?.idle_timeout) ?? 3_600_000,
    tcpKeepalive: keepalive(c.upstream_connection_options?.tcp_keepalive),
    outlier: parseOutlierDetection(name, c.outlier_detection),
    healthCheck: parseHealthChecks(name, c.health_checks),
    panicThresholdPct: panicThreshold(name, c.common_lb_config?.healthy_panic_threshold),
    staticEndpoints: parseEndpoints(c.load_assignment),
    dnsRefreshMs: durationToMs(c.dns_refresh_rate) ?? 5000,
    sourceAddress: sourceAddress(name, c.upstream_bind_config),
    transports: parseClusterTransports(c, `cluster ${name}`),
    raw: c,
  };
}

function sourceAddress(name: string, b: Record<string, any> | undefined): string | undefined {
  if (!b) return undefined;
  const a = b.source_address?.address;
  if (typeof a !== 'string' || isIP(a) === 0) fail(`cluster ${name}: upstream_bind_config.source_address.address must be an IP address, got ${JSON.stringify(a)}`);
  if (Number(b.source_address?.port_value ?? 0) !== 0) fail(`cluster ${name}: upstream_bind_config with a fixed source port is not supported`);
  return a;
}

function keepalive(k: Record<string, any> | undefined): TcpKeepalive | undefined {
  if (!k) return undefined;
  const opt = (v: unknown): number | undefined => (v === undefined || v === null ? undefined : num(v, 0));
  return { timeS: opt(k.keepalive_time), intervalS: opt(k.keepalive_interval), probes: opt(k.keepalive_probes) };
}

function panicThreshold(name: string, p: { value?: number } | undefined): number {
  if (!p) return 50;
  const v = Number(p.value ?? 0);
  if (!(v >= 0 && v <= 100)) fail(`cluster ${name}: healthy_panic_threshold must be within [0, 100], got ${v}`);
  return v;
}
