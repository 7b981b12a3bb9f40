/** Health from traffic, with Kiali's default tolerances for request errors. */
import type { Health } from '../api/api-types.js';

/** at or above this share of failed requests: failure (red) */
export const FAILURE_RATIO = 0.2;
/** above this share: degraded (orange) */
export const DEGRADED_RATIO = 0.001;

export function healthOf(rate: number, errorRate: number): Health {
  if (!(rate > 0)) return 'idle';
  if (errorRate >= FAILURE_RATIO) return 'failure';
  if (errorRate > DEGRADED_RATIO) return 'degraded';
  return 'healthy';
}

/** A failed request: a 5xx, no response at all (code 0), or a gRPC status other than OK. */
export function isErrorResponse(code: string, grpcStatus: string): boolean {
  if (grpcStatus !== '' && grpcStatus !== '0') return true;
  const n = Number(code);
  return code === '0' || (Number.isInteger(n) && n >= 500);
}
