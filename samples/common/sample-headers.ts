/** The request headers Bookinfo services pass on to the services they call. */
import type http from 'node:http';

/** Tracing headers plus identity-bearing ones, as upstream Bookinfo forwards them. */
const FORWARDED = new Set([
  'x-request-id',
  'b3',
  'traceparent',
  'tracestate',
  'x-ot-span-context',
  'x-cloud-trace-context',
  'grpc-trace-bin',
  'sw8',
  'user-agent',
  'cookie',
  'authorization',
  'jwt',
]);

/** Picks the headers to forward; `end-user` only when `includeEndUser` (reviews does, as upstream). */
export function forwardedHeaders(
  incoming: http.IncomingHttpHeaders,
  includeEndUser: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    const pass = FORWARDED.has(lower) || lower.startsWith('x-b3-') || lower.startsWith('x-datadog-')
      || (includeEndUser && lower === 'end-user');
    if (pass) out[lower] = Array.isArray(value) ? value.join(lower === 'cookie' ? '; ' : ', ') : value;
  }
  return out;
}
