/**
 * Workload certificate lifetimes, with Istio's rules: a request for ≤ 0 s gets the default
 * (`DEFAULT_WORKLOAD_CERT_TTL`, 24h; `--workload-cert-ttl`), a request above the maximum
 * (`MAX_WORKLOAD_CERT_TTL`, 90 days) is refused, anything else is granted as asked, and every
 * certificate ends no later than its signer.
 */
import { SecurityError } from '../security-errors.js';

export const DEFAULT_WORKLOAD_CERT_TTL_S = 24 * 3600;
export const MAX_WORKLOAD_CERT_TTL_S = 90 * 24 * 3600;
/** Istio's `ClockSkewGracePeriod`: NotBefore is backdated by this much */
export const CLOCK_SKEW_GRACE_MS = 2 * 60 * 1000;

/** Go's duration text (istiod's messages print durations this way): 24h0m0s, 1m0s, 90s -> 1m30s */
export function formatGoDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** The lifetime to grant for a request of `requested` seconds (istiod's rule). */
export function grantedTtlSeconds(requested: number, defaultTtl: number, maxTtl = MAX_WORKLOAD_CERT_TTL_S): number {
  if (!Number.isFinite(requested) || requested <= 0) return defaultTtl;
  if (requested > maxTtl) {
    throw new SecurityError('TTL_TOO_LONG', `requested TTL ${formatGoDuration(Math.floor(requested))} is greater than the max allowed TTL ${formatGoDuration(maxTtl)}`);
  }
  return Math.floor(requested);
}

/** Checks a configured default TTL (`--workload-cert-ttl`). */
export function checkDefaultTtl(seconds: number, maxTtl = MAX_WORKLOAD_CERT_TTL_S): void {
  if (!Number.isFinite(seconds) || seconds < 1) {
    throw new SecurityError('CA_BAD_SETTING', `--workload-cert-ttl: must be at least 1s`);
  }
  if (seconds > maxTtl) {
    throw new SecurityError('CA_BAD_SETTING', `--workload-cert-ttl: ${formatGoDuration(seconds)} is greater than the max allowed TTL ${formatGoDuration(maxTtl)}`);
  }
}
