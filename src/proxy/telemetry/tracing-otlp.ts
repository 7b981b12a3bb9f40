/**
 * OTLP/HTTP JSON encoding (`POST /v1/traces`): resourceSpans -> scopeSpans -> spans, ids as hex
 * strings (the OTLP JSON mapping), times as decimal-string nanoseconds, kind 2 SERVER / 3 CLIENT,
 * status code 2 (ERROR) for failed requests. Spans are grouped by service name.
 */
import type { FinishedSpan } from './tracing-tracer.js';

export const OTLP_DEFAULT_PATH = '/v1/traces';
export const OTLP_SPAN_KIND_SERVER = 2;
export const OTLP_SPAN_KIND_CLIENT = 3;

function attr(key: string, value: string): Record<string, unknown> {
  return { key, value: { stringValue: value } };
}

function nanos(us: number): string {
  return (BigInt(Math.round(us)) * 1000n).toString();
}

export function otlpSpan(s: FinishedSpan): Record<string, unknown> {
  const out: Record<string, unknown> = {
    traceId: s.traceId,
    spanId: s.spanId,
    name: s.name,
    kind: s.kind === 'SERVER' ? OTLP_SPAN_KIND_SERVER : OTLP_SPAN_KIND_CLIENT,
    startTimeUnixNano: nanos(s.startUs),
    endTimeUnixNano: nanos(s.startUs + s.durationUs),
    attributes: Object.entries(s.tags).map(([k, v]) => attr(k, v)),
    status: s.error ? { code: 2 } : { code: 0 },
  };
  if (s.parentSpanId) out.parentSpanId = s.parentSpanId;
  return out;
}

export function encodeOtlp(spans: FinishedSpan[]): string {
  const byService = new Map<string, FinishedSpan[]>();
  for (const s of spans) {
    let l = byService.get(s.serviceName);
    if (!l) byService.set(s.serviceName, (l = []));
    l.push(s);
  }
  const resourceSpans = [...byService].map(([service, list]) => ({
    resource: { attributes: [attr('service.name', service)] },
    scopeSpans: [{ scope: { name: 'clew-proxy' }, spans: list.map(otlpSpan) }],
  }));
  return JSON.stringify({ resourceSpans });
}
