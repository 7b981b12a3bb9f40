/** Cluster.health_checks -> HealthCheckConfig (Envoy's core.v3.HealthCheck), parsed once per CDS update. */
import { durationToMs } from '../../xds/codec.js';
import { fail } from '../core/errors.js';

export type HealthCheckKind = 'http' | 'tcp' | 'grpc';

export interface HealthCheckConfig {
  kind: HealthCheckKind;
  timeoutMs: number;
  intervalMs: number;
  intervalJitterMs: number;
  intervalJitterPercent: number;
  initialJitterMs: number;
  /** while the cluster never carried traffic (Envoy default 60 s) */
  noTrafficIntervalMs: number;
  /** while the host is unhealthy (default: interval) */
  unhealthyIntervalMs: number;
  /** first check after a host became unhealthy (default: unhealthy interval) */
  unhealthyEdgeIntervalMs: number;
  /** first check after a host became healthy (default: interval) */
  healthyEdgeIntervalMs: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  reuseConnection: boolean;
  altPort: number;
  http?: {
    path: string;
    host: string | undefined;
    method: string;
    headers: Array<[string, string]>;
    /** [start, end) ranges; default [200, 201) */
    expected: Array<[number, number]>;
    retriable: Array<[number, number]>;
  };
  tcp?: { send: Buffer | undefined; receive: Buffer[] };
  grpc?: { serviceName: string; authority: string | undefined };
}

function u32(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  return Number(typeof v === 'object' ? (v as { value?: unknown }).value : v);
}

function payload(cluster: string, p: Record<string, any> | undefined): Buffer | undefined {
  if (!p) return undefined;
  if (typeof p.text === 'string') {
    if (!/^([0-9a-fA-F]{2})*$/.test(p.text)) fail(`cluster ${cluster}: health check payload text must be hex`);
    return Buffer.from(p.text, 'hex');
  }
  if (p.binary !== undefined) return Buffer.from(p.binary);
  return undefined;
}

function ranges(list: unknown): Array<[number, number]> {
  return ((list ?? []) as Array<Record<string, any>>).map((r) => [Number(r.start ?? 0), Number(r.end ?? 0)]);
}

function required(cluster: string, v: number | undefined, what: string): number {
  if (v === undefined || !Number.isFinite(v)) fail(`cluster ${cluster}: health check ${what} is required`);
  return v;
}

/** undefined when the cluster has no health_checks; more than one is refused, as in Envoy. */
export function parseHealthChecks(cluster: string, list: unknown): HealthCheckConfig | undefined {
  const hcs = (list ?? []) as Array<Record<string, any>>;
  if (hcs.length === 0) return undefined;
  if (hcs.length > 1) fail(`cluster ${cluster}: multiple health checks not supported`);
  const hc = hcs[0];
  const timeoutMs = required(cluster, durationToMs(hc.timeout), 'timeout');
  const intervalMs = required(cluster, durationToMs(hc.interval), 'interval');
  if (timeoutMs <= 0 || intervalMs <= 0) fail(`cluster ${cluster}: health check timeout and interval must be > 0`);
  const unhealthyIntervalMs = durationToMs(hc.unhealthy_interval) ?? intervalMs;
  const out: HealthCheckConfig = {
    kind: 'tcp',
    timeoutMs,
    intervalMs,
    intervalJitterMs: durationToMs(hc.interval_jitter) ?? 0,
    intervalJitterPercent: Number(hc.interval_jitter_percent ?? 0),
    initialJitterMs: durationToMs(hc.initial_jitter) ?? 0,
    noTrafficIntervalMs: durationToMs(hc.no_traffic_interval) ?? 60_000,
    unhealthyIntervalMs,
    unhealthyEdgeIntervalMs: durationToMs(hc.unhealthy_edge_interval) ?? unhealthyIntervalMs,
    healthyEdgeIntervalMs: durationToMs(hc.healthy_edge_interval) ?? intervalMs,
    unhealthyThreshold: required(cluster, u32(hc.unhealthy_threshold), 'unhealthy_threshold'),
    healthyThreshold: required(cluster, u32(hc.healthy_threshold), 'healthy_threshold'),
    reuseConnection: hc.reuse_connection === undefined ? true : Boolean(hc.reuse_connection?.value ?? hc.reuse_connection),
    altPort: u32(hc.alt_port) ?? 0,
  };
  if (hc.http_health_check) {
    const h = hc.http_health_check;
    if (typeof h.path !== 'string' || h.path === '') fail(`cluster ${cluster}: http_health_check.path is required`);
    out.kind = 'http';
    const expected = ranges(h.expected_statuses);
    for (const [s, e] of expected) if (s < 100 || e > 600 || s >= e) fail(`cluster ${cluster}: invalid expected_statuses range [${s}, ${e})`);
    out.http = {
      path: h.path,
      host: h.host || undefined,
      method: String(h.method && h.method !== 'METHOD_UNSPECIFIED' ? h.method : 'GET'),
      headers: ((h.request_headers_to_add ?? []) as Array<Record<string, any>>).map((o) => [String(o.header?.key ?? '').toLowerCase(), String(o.header?.value ?? '')]),
      expected: expected.length > 0 ? expected : [[200, 201]],
      retriable: ranges(h.retriable_statuses),
    };
  } else if (hc.grpc_health_check) {
    out.kind = 'grpc';
    out.grpc = { serviceName: String(hc.grpc_health_check.service_name ?? ''), authority: hc.grpc_health_check.authority || undefined };
  } else if (hc.tcp_health_check) {
    const t = hc.tcp_health_check;
    out.tcp = { send: payload(cluster, t.send), receive: ((t.receive ?? []) as Array<Record<string, any>>).map((p) => payload(cluster, p) ?? Buffer.alloc(0)) };
  } else {
    fail(`cluster ${cluster}: health check without http_health_check, tcp_health_check or grpc_health_check`);
  }
  return out;
}
