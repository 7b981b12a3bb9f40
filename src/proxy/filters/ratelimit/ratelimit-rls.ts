/**
 * Envoy's rate limit service protocol v3 (`envoy.service.ratelimit.v3.RateLimitService/
 * ShouldRateLimit`) as the proxy speaks it: a RateLimitRequest (domain, descriptors, hits_addend)
 * out, a RateLimitResponse (overall code, headers for the client and for the upstream request, an
 * optional body) back. Messages from Envoy's protos through the proxy's descriptor (protobufjs).
 */
import { lookupType } from '../../../xds/proto-root.js';
import type { DescriptorEntry } from '../../router/rate-limit-policy.js';

export const SHOULD_RATE_LIMIT_PATH = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';

export interface RlsAnswer {
  /** Envoy: only OVER_LIMIT limits; OK and UNKNOWN let the request through */
  overLimit: boolean;
  /** response_headers_to_add: for the client's response */
  responseHeaders: Array<[string, string]>;
  /** request_headers_to_add: for the upstream request (OK only) */
  requestHeaders: Array<[string, string]>;
  /** raw_body: the body of the limited reply, when the service gives one */
  body: string | undefined;
}

interface Types {
  req: ReturnType<typeof lookupType>;
  res: ReturnType<typeof lookupType>;
}
let types: Types | undefined;
function rlsTypes(): Types {
  return (types ??= {
    req: lookupType('envoy.service.ratelimit.v3.RateLimitRequest'),
    res: lookupType('envoy.service.ratelimit.v3.RateLimitResponse'),
  });
}

export function encodeRateLimitRequest(domain: string, descriptors: readonly DescriptorEntry[][], hitsAddend = 1): Uint8Array {
  const t = rlsTypes().req;
  return t.encode(t.fromObject({ domain, descriptors: descriptors.map((entries) => ({ entries })), hits_addend: hitsAddend })).finish();
}

function headerValues(list: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const h of (list ?? []) as Array<Record<string, any>>) {
    const key = String(h.key ?? '').toLowerCase();
    if (!key || key.startsWith(':') || key === 'host') continue;
    const value = h.value !== undefined && h.value !== '' ? String(h.value) : h.raw_value !== undefined ? Buffer.from(h.raw_value as Uint8Array).toString('latin1') : '';
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) continue;
    out.push([key, value]);
  }
  return out;
}

const OVER_LIMIT = 2;

export function decodeRateLimitResponse(bytes: Uint8Array): RlsAnswer {
  const t = rlsTypes().res;
  const r = t.toObject(t.decode(bytes), { enums: Number, longs: Number, bytes: Buffer }) as Record<string, any>;
  const body = r.raw_body as Buffer | undefined;
  return {
    overLimit: Number(r.overall_code ?? 0) === OVER_LIMIT,
    responseHeaders: headerValues(r.response_headers_to_add),
    requestHeaders: headerValues(r.request_headers_to_add),
    body: body !== undefined && body.length > 0 ? body.toString('utf8') : undefined,
  };
}
