/**
 * Trace-context propagation: B3 multi-header (x-b3-*), B3 single (`b3`), W3C traceparent /
 * tracestate. Extraction looks at B3 multi, then B3 single, then W3C; injection writes the
 * formats the tracer is configured for.
 */
import { randomHex } from '../core/random-ids.js';

export type HeaderBag = Record<string, string | string[] | undefined>;

export interface ExtractedContext {
  /** 32 hex (64-bit B3 ids are left-padded with zeros); absent for a sampling-only header */
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  /** undefined: no decision in the headers */
  sampled?: boolean;
  /** B3 debug flag (x-b3-flags: 1 or b3 `d`): forces sampling */
  debug?: boolean;
  tracestate?: string;
  format: 'b3' | 'b3-single' | 'w3c';
}

export type PropagationFormat = 'b3' | 'b3-single' | 'w3c';

export interface InjectContext {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  sampled: boolean;
  debug?: boolean;
  tracestate?: string;
}

const HEX16 = /^[0-9a-f]{16}$/;
const HEX16_32 = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);

/**
 * The first value of a header, trimmed. Callers read the header by name at the call site
 * (`first(h['x-b3-traceid'])`): a named load there stays monomorphic, where a shared
 * `get(h, name)` helper would make every header read one megamorphic keyed load.
 */
function first(v: string | string[] | undefined): string | undefined {
  return (Array.isArray(v) ? v[0] : v)?.trim();
}

function padTrace(id: string): string {
  return id.length === 16 ? ZERO16 + id : id;
}

function sampledOf(v: string | undefined): boolean | undefined {
  if (v === '1' || v === 'true' || v === 'd') return true;
  if (v === '0' || v === 'false') return false;
  return undefined;
}

export function extractB3Multi(h: HeaderBag): ExtractedContext | undefined {
  const trace = first(h['x-b3-traceid'])?.toLowerCase();
  const span = first(h['x-b3-spanid'])?.toLowerCase();
  const sampled = sampledOf(first(h['x-b3-sampled']));
  const debug = first(h['x-b3-flags']) === '1';
  if (trace && span && HEX16_32.test(trace) && HEX16.test(span)) {
    const parent = first(h['x-b3-parentspanid'])?.toLowerCase();
    return {
      traceId: padTrace(trace),
      spanId: span,
      parentSpanId: parent && HEX16.test(parent) ? parent : undefined,
      sampled: debug ? true : sampled,
      debug,
      format: 'b3',
    };
  }
  if (sampled !== undefined || debug) return { sampled: debug ? true : sampled, debug, format: 'b3' };
  return undefined;
}

export function extractB3Single(h: HeaderBag): ExtractedContext | undefined {
  const v = first(h.b3)?.toLowerCase();
  if (!v) return undefined;
  const parts = v.split('-');
  if (parts.length === 1) {
    const s = sampledOf(parts[0]);
    return s === undefined ? undefined : { sampled: s, debug: parts[0] === 'd', format: 'b3-single' };
  }
  const [trace, span, flag, parent] = parts;
  if (!HEX16_32.test(trace) || !HEX16.test(span)) return undefined;
  return {
    traceId: padTrace(trace),
    spanId: span,
    parentSpanId: parent && HEX16.test(parent) ? parent : undefined,
    sampled: sampledOf(flag),
    debug: flag === 'd',
    format: 'b3-single',
  };
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

export function extractW3C(h: HeaderBag): ExtractedContext | undefined {
  const v = first(h.traceparent)?.toLowerCase();
  if (!v) return undefined;
  const m = TRACEPARENT.exec(v);
  if (!m || m[1] === 'ff' || m[2] === ZERO32 || m[3] === ZERO16) return undefined;
  // version 00 has exactly four fields; later versions may append more
  if (m[1] === '00' && v.length !== 55) return undefined;
  return {
    traceId: m[2],
    spanId: m[3],
    sampled: (parseInt(m[4], 16) & 1) === 1,
    tracestate: first(h.tracestate),
    format: 'w3c',
  };
}

export function extractContext(h: HeaderBag): ExtractedContext | undefined {
  return extractB3Multi(h) ?? extractB3Single(h) ?? extractW3C(h);
}

/** Sets the propagation headers of `ctx` (the span the upstream should see as its parent). */
export function injectContext(ctx: InjectContext, formats: readonly PropagationFormat[], out: Record<string, string>): void {
  for (const f of formats) {
    if (f === 'b3') {
      out['x-b3-traceid'] = ctx.traceId;
      out['x-b3-spanid'] = ctx.spanId;
      if (ctx.parentSpanId) out['x-b3-parentspanid'] = ctx.parentSpanId;
      // debug implies sampled; B3 says not to send both
      if (ctx.debug) out['x-b3-flags'] = '1';
      else out['x-b3-sampled'] = ctx.sampled ? '1' : '0';
    } else if (f === 'b3-single') {
      const flag = ctx.debug ? 'd' : ctx.sampled ? '1' : '0';
      out.b3 = `${ctx.traceId}-${ctx.spanId}-${flag}${ctx.parentSpanId ? '-' + ctx.parentSpanId : ''}`;
    } else {
      out.traceparent = `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
      if (ctx.tracestate) out.tracestate = ctx.tracestate;
    }
  }
}

/** Every header a propagation format may use (to remove stale ones before injecting). */
export const PROPAGATION_HEADERS = [
  'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3', 'traceparent', 'tracestate',
];

export function newTraceId(): string {
  let id = randomHex(16);
  while (id === ZERO32) id = randomHex(16);
  return id;
}

export function newSpanId(): string {
  let id = randomHex(8);
  while (id === ZERO16) id = randomHex(8);
  return id;
}
