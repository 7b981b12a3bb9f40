/**
 * Zipkin v2 JSON encoding (`POST /api/v2/spans`): ids in lower-case hex, timestamps and
 * durations in microseconds, kind CLIENT/SERVER, `shared: true` on a SERVER span that reuses
 * the caller's span id.
 */
import type { FinishedSpan } from './tracing-tracer.js';

export const ZIPKIN_DEFAULT_PATH = '/api/v2/spans';

function endpoint(serviceName: string | undefined, ip: string | undefined): Record<string, string> | undefined {
  if (!serviceName && !ip) return undefined;
  const e: Record<string, string> = {};
  if (serviceName) e.serviceName = serviceName;
  if (ip) e[ip.includes(':') ? 'ipv6' : 'ipv4'] = ip;
  return e;
}

export function zipkinSpan(s: FinishedSpan): Record<string, unknown> {
  const out: Record<string, unknown> = {
    traceId: s.traceId,
    id: s.spanId,
    name: s.name,
    kind: s.kind,
    timestamp: s.startUs,
    duration: s.durationUs,
    localEndpoint: endpoint(s.serviceName, s.localIp),
    tags: s.tags,
  };
  if (s.parentSpanId) out.parentId = s.parentSpanId;
  const remote = endpoint(undefined, s.remoteIp);
  if (remote) out.remoteEndpoint = remote;
  if (s.shared) out.shared = true;
  return out;
}

export function encodeZipkin(spans: FinishedSpan[]): string {
  return JSON.stringify(spans.map(zipkinSpan));
}
