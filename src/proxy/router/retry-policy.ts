/** RetryPolicy compiled once: retry_on as a bit set, backoff and limits. */
import { durationToMs } from '../../xds/codec.js';

export const RETRY_5XX = 1;
export const RETRY_GATEWAY_ERROR = 2;
export const RETRY_RESET = 4;
export const RETRY_CONNECT_FAILURE = 8;
export const RETRY_REFUSED_STREAM = 16;
export const RETRY_RETRIABLE_4XX = 32;
export const RETRY_STATUS_CODES = 64;
export const RETRY_GRPC_CANCELLED = 128;
export const RETRY_GRPC_UNAVAILABLE = 256;
export const RETRY_GRPC_DEADLINE = 512;
export const RETRY_GRPC_RESOURCE_EXHAUSTED = 1024;
export const RETRY_GRPC_INTERNAL = 2048;

const NAMES: Record<string, number> = {
  '5xx': RETRY_5XX,
  'gateway-error': RETRY_GATEWAY_ERROR,
  reset: RETRY_RESET,
  'connect-failure': RETRY_CONNECT_FAILURE,
  'refused-stream': RETRY_REFUSED_STREAM,
  'retriable-4xx': RETRY_RETRIABLE_4XX,
  'retriable-status-codes': RETRY_STATUS_CODES,
  cancelled: RETRY_GRPC_CANCELLED,
  unavailable: RETRY_GRPC_UNAVAILABLE,
  'deadline-exceeded': RETRY_GRPC_DEADLINE,
  'resource-exhausted': RETRY_GRPC_RESOURCE_EXHAUSTED,
  internal: RETRY_GRPC_INTERNAL,
};

export interface RetryPolicy {
  retryOn: number;
  numRetries: number;
  perTryTimeoutMs: number;
  statusCodes: Set<number>;
  baseMs: number;
  maxMs: number;
}

export function compileRetryPolicy(p: Record<string, any> | undefined): RetryPolicy | undefined {
  if (!p) return undefined;
  let retryOn = 0;
  for (const part of String(p.retry_on ?? '').split(',')) {
    const bit = NAMES[part.trim()];
    if (bit) retryOn |= bit;
  }
  const numRetries = p.num_retries?.value ?? (typeof p.num_retries === 'number' ? p.num_retries : 1);
  const baseMs = durationToMs(p.retry_back_off?.base_interval) ?? 25;
  return {
    retryOn,
    numRetries: Number(numRetries),
    perTryTimeoutMs: durationToMs(p.per_try_timeout) ?? 0,
    statusCodes: new Set(((p.retriable_status_codes ?? []) as number[]).map(Number)),
    baseMs,
    maxMs: durationToMs(p.retry_back_off?.max_interval) ?? baseMs * 10,
  };
}

/** Should an upstream response with this status (and grpc-status) be retried? */
export function retriableResponse(p: RetryPolicy, status: number, grpcStatus: number | undefined): boolean {
  const on = p.retryOn;
  if (on & RETRY_5XX && status >= 500) return true;
  if (on & RETRY_GATEWAY_ERROR && (status === 502 || status === 503 || status === 504)) return true;
  if (on & RETRY_RETRIABLE_4XX && status === 409) return true;
  if (on & RETRY_STATUS_CODES && p.statusCodes.has(status)) return true;
  if (grpcStatus !== undefined) {
    if (on & RETRY_GRPC_CANCELLED && grpcStatus === 1) return true;
    if (on & RETRY_GRPC_DEADLINE && grpcStatus === 4) return true;
    if (on & RETRY_GRPC_RESOURCE_EXHAUSTED && grpcStatus === 8) return true;
    if (on & RETRY_GRPC_INTERNAL && grpcStatus === 13) return true;
    if (on & RETRY_GRPC_UNAVAILABLE && grpcStatus === 14) return true;
  }
  return false;
}

/** Should an upstream failure without a response be retried? */
export function retriableFailure(p: RetryPolicy, kind: 'connect' | 'reset' | 'timeout' | 'refused'): boolean {
  const on = p.retryOn;
  if (kind === 'connect') return (on & (RETRY_CONNECT_FAILURE | RETRY_5XX | RETRY_GATEWAY_ERROR | RETRY_RESET)) !== 0;
  if (kind === 'reset') return (on & (RETRY_RESET | RETRY_5XX | RETRY_GATEWAY_ERROR)) !== 0;
  if (kind === 'refused') return (on & (RETRY_REFUSED_STREAM | RETRY_5XX | RETRY_RESET)) !== 0;
  return (on & (RETRY_5XX | RETRY_GATEWAY_ERROR)) !== 0;
}

/** Fully jittered exponential backoff, Envoy style. */
export function backoffMs(p: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** (attempt - 1));
  return Math.random() * ceiling;
}
