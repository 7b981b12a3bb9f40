/** HTTPFault parsed once: delay and abort with their probabilities. */
import { durationToMs } from '../../../xds/codec.js';
import { fail } from '../../core/errors.js';
import { compileHeaderMatcher, type HeaderPredicate } from '../../core/string-matcher.js';

export interface FaultSettings {
  delayMs: number | undefined;
  delayFraction: number;
  abortStatus: number | undefined;
  abortGrpcStatus: number | undefined;
  abortFraction: number;
  headers: HeaderPredicate[];
  maxActiveFaults: number;
}

export function fractionOf(p: Record<string, any> | undefined): number {
  if (!p) return 1;
  const den = p.denominator === 'TEN_THOUSAND' ? 10000 : p.denominator === 'MILLION' ? 1e6 : 100;
  return Math.min(1, Number(p.numerator ?? 0) / den);
}

export function parseFault(c: Record<string, any>): FaultSettings {
  const d = c.delay as Record<string, any> | undefined;
  const a = c.abort as Record<string, any> | undefined;
  let abortStatus: number | undefined;
  let abortGrpcStatus: number | undefined;
  if (a) {
    if (a.http_status !== undefined) {
      abortStatus = Number(a.http_status);
      if (!(abortStatus >= 200 && abortStatus < 600)) fail(`fault abort http_status ${abortStatus} out of range [200, 600)`);
    } else if (a.grpc_status !== undefined) abortGrpcStatus = Number(a.grpc_status);
    else if (!a.header_abort) fail('fault abort without http_status or grpc_status');
  }
  let delayMs: number | undefined;
  if (d) {
    delayMs = durationToMs(d.fixed_delay);
    if (delayMs === undefined && !d.header_delay) fail('fault delay without fixed_delay');
  }
  return {
    delayMs,
    delayFraction: d ? fractionOf(d.percentage) : 0,
    abortStatus,
    abortGrpcStatus,
    abortFraction: a ? fractionOf(a.percentage) : 0,
    headers: ((c.headers ?? []) as Array<Record<string, any>>).map(compileHeaderMatcher),
    maxActiveFaults: Number(c.max_active_faults?.value ?? Infinity),
  };
}
