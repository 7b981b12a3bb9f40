/** Cluster.outlier_detection -> OutlierConfig with Envoy's defaults (parsed once per CDS update). */
import { durationToMs } from '../../xds/codec.js';
import { fail } from '../core/errors.js';

export interface OutlierConfig {
  intervalMs: number;
  baseEjectionMs: number;
  /** cap of base × times ejected; Envoy: max(300 s, base) when unset */
  maxEjectionMs: number;
  maxEjectionJitterMs: number;
  maxEjectionPercent: number;
  alwaysEjectOneHost: boolean;
  consecutive5xx: number;
  enforcingConsecutive5xx: number;
  consecutiveGatewayFailure: number;
  enforcingConsecutiveGatewayFailure: number;
  splitExternalLocalOriginErrors: boolean;
  consecutiveLocalOriginFailure: number;
  enforcingConsecutiveLocalOriginFailure: number;
  enforcingLocalOriginSuccessRate: number;
  enforcingSuccessRate: number;
  successRateMinimumHosts: number;
  successRateRequestVolume: number;
  successRateStdevFactor: number;
  failurePercentageThreshold: number;
  enforcingFailurePercentage: number;
  enforcingFailurePercentageLocalOrigin: number;
  failurePercentageMinimumHosts: number;
  failurePercentageRequestVolume: number;
  successfulActiveHealthCheckUnejectHost: boolean;
}

function u32(v: unknown, d: number): number {
  if (v === undefined || v === null) return d;
  const n = Number(typeof v === 'object' ? (v as { value?: unknown }).value ?? d : v);
  return Number.isFinite(n) ? n : d;
}

function bool(v: unknown, d: boolean): boolean {
  if (v === undefined || v === null) return d;
  if (typeof v === 'object') return Boolean((v as { value?: unknown }).value ?? d);
  return Boolean(v);
}

function pct(cluster: string, field: string, v: number): number {
  if (v < 0 || v > 100) fail(`cluster ${cluster}: outlier_detection.${field} must be <= 100, got ${v}`);
  return v;
}

/** undefined when the cluster has no outlier_detection (no detector at all, like Envoy). */
export function parseOutlierDetection(cluster: string, od: Record<string, any> | undefined): OutlierConfig | undefined {
  if (!od) return undefined;
  const intervalMs = durationToMs(od.interval) ?? 10_000;
  const baseEjectionMs = durationToMs(od.base_ejection_time) ?? 30_000;
  if (intervalMs <= 0) fail(`cluster ${cluster}: outlier_detection.interval must be > 0`);
  if (baseEjectionMs <= 0) fail(`cluster ${cluster}: outlier_detection.base_ejection_time must be > 0`);
  const maxEjection = durationToMs(od.max_ejection_time);
  return {
    intervalMs,
    baseEjectionMs,
    maxEjectionMs: maxEjection ?? Math.max(300_000, baseEjectionMs),
    maxEjectionJitterMs: durationToMs(od.max_ejection_time_jitter) ?? 0,
    maxEjectionPercent: pct(cluster, 'max_ejection_percent', u32(od.max_ejection_percent, 10)),
    alwaysEjectOneHost: bool(od.always_eject_one_host, false),
    consecutive5xx: u32(od.consecutive_5xx, 5),
    enforcingConsecutive5xx: pct(cluster, 'enforcing_consecutive_5xx', u32(od.enforcing_consecutive_5xx, 100)),
    consecutiveGatewayFailure: u32(od.consecutive_gateway_failure, 5),
    enforcingConsecutiveGatewayFailure: pct(cluster, 'enforcing_consecutive_gateway_failure', u32(od.enforcing_consecutive_gateway_failure, 0)),
    splitExternalLocalOriginErrors: bool(od.split_external_local_origin_errors, false),
    consecutiveLocalOriginFailure: u32(od.consecutive_local_origin_failure, 5),
    enforcingConsecutiveLocalOriginFailure: pct(cluster, 'enforcing_consecutive_local_origin_failure', u32(od.enforcing_consecutive_local_origin_failure, 100)),
    enforcingLocalOriginSuccessRate: pct(cluster, 'enforcing_local_origin_success_rate', u32(od.enforcing_local_origin_success_rate, 100)),
    enforcingSuccessRate: pct(cluster, 'enforcing_success_rate', u32(od.enforcing_success_rate, 100)),
    successRateMinimumHosts: u32(od.success_rate_minimum_hosts, 5),
    successRateRequestVolume: u32(od.success_rate_request_volume, 100),
    successRateStdevFactor: u32(od.success_rate_stdev_factor, 1900),
    failurePercentageThreshold: pct(cluster, 'failure_percentage_threshold', u32(od.failure_percentage_threshold, 85)),
    enforcingFailurePercentage: pct(cluster, 'enforcing_failure_percentage', u32(od.enforcing_failure_percentage, 0)),
    enforcingFailurePercentageLocalOrigin: pct(cluster, 'enforcing_failure_percentage_local_origin', u32(od.enforcing_failure_percentage_local_origin, 0)),
    failurePercentageMinimumHosts: u32(od.failure_percentage_minimum_hosts, 5),
    failurePercentageRequestVolume: u32(od.failure_percentage_request_volume, 50),
    successfulActiveHealthCheckUnejectHost: bool(od.successful_active_health_check_uneject_host, true),
  };
}
