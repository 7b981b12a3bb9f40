/**
 * Zipkin v2 JSON (`POST /api/v2/spans`) read into TraceSpans: the body must be an array of span
 * objects with hex ids (traceId 16 or 32 characters, id and parentId 16; upper case is taken and
 * lowered, as Zipkin does), kind one of Zipkin's four, non-negative microsecond times, string tag
 * values. One bad span refuses the whole body (Zipkin's answer too) with a message naming the span
 * and field; unknown fields are ignored (forward compatible). Per-span sizes are capped (tags,
 * annotations, string lengths) so one span cannot hold the store's memory; cuts are counted.
 */
import type { TraceEndpoint, TraceSpan, TraceSpanKind } from '../../api/api-types.js';

export class SpanDecodeError extends Error {
  readonly code = 'CLEW_ZIPKIN_BAD_SPANS';
}

export interface SpanFieldLimits {
  /** longest tag value, name or annotation value kept (characters) */
  maxStringLength: number;
  maxTagsPerSpan: number;
  maxAnnotationsPerSpan: number;
}

export const DEFAULT_SPAN_FIELD_LIMITS: SpanFieldLimits = { maxStringLength: 4096, maxTagsPerSpan: 128, maxAnnotationsPerSpan: 64 };

export interface DecodedSpans {
  spans: TraceSpan[];
  /** fields cut to the limits */
  truncated: number;
}

const KINDS: ReadonlySet<string> = new Set<TraceSpanKind>(['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER']);
const HEX16 = /^[0-9a-f]{16}$/i;
const HEX16_32 = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/i;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

class Reader {
  truncated = 0;
  constructor(private readonly limits: SpanFieldLimits) {}

  fail(where: string, what: string, v: unknown): never {
    throw new SpanDecodeError(`${where}: ${what}, got ${show(v)}`);
  }

  text(where: string, v: unknown): string {
    if (typeof v !== 'string') this.fail(where, 'must be a string', v);
    if (v.length <= this.limits.maxStringLength) return v;
    this.truncated++;
    return v.slice(0, this.limits.maxStringLength);
  }

  micros(where: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
      this.fail(where, 'must be a non-negative number of microseconds', v);
    }
    return Math.floor(v);
  }

  endpoint(where: string, v: unknown): TraceEndpoint | undefined {
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) this.fail(where, 'must be an object', v);
    const e: TraceEndpoint = {};
    if (v.serviceName !== undefined && v.serviceName !== null) {
      const name = this.text(`${where}.serviceName`, v.serviceName).toLowerCase();
      if (name) e.serviceName = name;
    }
    if (v.ipv4 !== undefined && v.ipv4 !== null) e.ipv4 = this.text(`${where}.ipv4`, v.ipv4);
    if (v.ipv6 !== undefined && v.ipv6 !== null) e.ipv6 = this.text(`${where}.ipv6`, v.ipv6);
    if (v.port !== undefined && v.port !== null) {
      if (!Number.isInteger(v.port) || (v.port as number) < 0 || (v.port as number) > 65535) this.fail(`${where}.port`, 'must be a port number (0-65535)', v.port);
      e.port = v.port as number;
    }
    return Object.keys(e).length ? e : undefined;
  }

  tags(where: string, v: unknown): Record<string, string> | undefined {
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) this.fail(where, 'must be an object of string values', v);
    const out: Record<string, string> = {};
    let n = 0;
    for (const [k, val] of Object.entries(v)) {
      const s = this.text(`${where}[${JSON.stringify(k)}]`, val);
      if (n >= this.limits.maxTagsPerSpan) {
        this.truncated++;
        continue;
      }
      out[k.length > this.limits.maxStringLength ? k.slice(0, this.limits.maxStringLength) : k] = s;
      n++;
    }
    return n ? out : undefined;
  }

  annotations(where: string, v: unknown): TraceSpan['annotations'] {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) this.fail(where, 'must be an array of {timestamp, value}', v);
    const out: NonNullable<TraceSpan['annotations']> = [];
    v.forEach((a: unknown, i) => {
      if (!isObject(a)) this.fail(`${where}[${i}]`, 'must be an object {timestamp, value}', a);
      const ann = { timestamp: this.micros(`${where}[${i}].timestamp`, a.timestamp), value: this.text(`${where}[${i}].value`, a.value) };
      if (out.length < this.limits.maxAnnotationsPerSpan) out.push(ann);
      else this.truncated++;
    });
    return out.length ? out : undefined;
  }

  span(i: number, v: unknown): TraceSpan {
    const at = `span[${i}]`;
    if (!isObject(v)) this.fail(at, 'must be an object (a Zipkin v2 span)', v);
    if (typeof v.traceId !== 'string' || !HEX16_32.test(v.traceId)) this.fail(`${at}.traceId`, 'must be 16 or 32 hex characters', v.traceId);
    if (typeof v.id !== 'string' || !HEX16.test(v.id)) this.fail(`${at}.id`, 'must be 16 hex characters', v.id);
    const span: TraceSpan = { traceId: v.traceId.toLowerCase(), id: v.id.toLowerCase() };
    if (v.parentId !== undefined && v.parentId !== null) {
      if (typeof v.parentId !== 'string' || !HEX16.test(v.parentId)) this.fail(`${at}.parentId`, 'must be 16 hex characters', v.parentId);
      span.parentId = v.parentId.toLowerCase();
    }
    if (v.name !== undefined && v.name !== null) span.name = this.text(`${at}.name`, v.name);
    if (v.kind !== undefined && v.kind !== null) {
      if (typeof v.kind !== 'string' || !KINDS.has(v.kind)) this.fail(`${at}.kind`, 'must be CLIENT, SERVER, PRODUCER or CONSUMER', v.kind);
      span.kind = v.kind as TraceSpanKind;
    }
    if (v.timestamp !== undefined && v.timestamp !== null) span.timestamp = this.micros(`${at}.timestamp`, v.timestamp);
    if (v.duration !== undefined && v.duration !== null) span.duration = this.micros(`${at}.duration`, v.duration);
    const local = this.endpoint(`${at}.localEndpoint`, v.localEndpoint);
    if (local) span.localEndpoint = local;
    const remote = this.endpoint(`${at}.remoteEndpoint`, v.remoteEndpoint);
    if (remote) span.remoteEndpoint = remote;
    const tags = this.tags(`${at}.tags`, v.tags);
    if (tags) span.tags = tags;
    const annotations = this.annotations(`${at}.annotations`, v.annotations);
    if (annotations) span.annotations = annotations;
    for (const flag of ['shared', 'debug'] as const) {
      const f = v[flag];
      if (f === undefined || f === null) continue;
      if (typeof f !== 'boolean') this.fail(`${at}.${flag}`, 'must be true or false', f);
      if (f) span[flag] = true;
    }
    return span;
  }
}

/** The spans of a Zipkin v2 JSON body; throws SpanDecodeError naming the span and field. */
export function decodeZipkinJson(text: string, limits: SpanFieldLimits = DEFAULT_SPAN_FIELD_LIMITS): DecodedSpans {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new SpanDecodeError(`body is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(body)) {
    throw new SpanDecodeError(`body must be a JSON array of Zipkin v2 spans, got ${body === null ? 'null' : typeof body}`);
  }
  const r = new Reader(limits);
  const spans = body.map((s, i) => r.span(i, s));
  return { spans, truncated: r.truncated };
}
