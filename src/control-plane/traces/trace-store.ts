/**
 * The span receiver's memory: traces by id, bounded three ways. A trace keeps at most
 * `maxSpansPerTrace` spans (later ones are dropped and counted); the store keeps at most
 * `maxSpans` spans and `maxTraces` traces, evicting the least recently updated traces first
 * (counted). Lists are computed on read over the bounded map: services that reported spans, a
 * service's recent traces, one trace's spans. A span reported twice (same trace, id, kind and
 * service: a retried batch) replaces the first copy.
 */
import type { TraceReceiverStats, TraceResponse, TraceServicesResponse, TraceSpan, TraceSummary } from '../../api/api-types.js';

export interface TraceStoreLimits {
  maxSpans: number;
  maxTraces: number;
  maxSpansPerTrace: number;
  /** largest POST body, before and after gzip */
  maxBodyBytes: number;
}

export const DEFAULT_TRACE_STORE_LIMITS: TraceStoreLimits = {
  maxSpans: 20_000,
  maxTraces: 5_000,
  maxSpansPerTrace: 500,
  maxBodyBytes: 4 * 1024 * 1024,
};

/** the service name of spans without a localEndpoint.serviceName (Zipkin's word) */
export const UNKNOWN_SERVICE = 'unknown';

interface TraceEntry {
  traceId: string;
  spans: TraceSpan[];
  /** span key -> index in spans (replacing retried copies) */
  keys: Map<string, number>;
  /** spans per reporting service */
  perService: Map<string, number>;
  /** computed on read, dropped when a span arrives */
  summary?: TraceSummary;
}

export interface AddResult {
  accepted: number;
  dropped: number;
}

function serviceOf(s: TraceSpan): string {
  return s.localEndpoint?.serviceName ?? UNKNOWN_SERVICE;
}

function spanKey(s: TraceSpan): string {
  return `${s.id}|${s.kind ?? ''}|${serviceOf(s)}|${s.shared ? 1 : 0}`;
}

function isError(s: TraceSpan): boolean {
  if (!s.tags) return false;
  if (s.tags.error !== undefined) return true;
  const code = Number(s.tags['http.status_code']);
  return Number.isFinite(code) && code >= 500;
}

function byStart(a: TraceSpan, b: TraceSpan): number {
  return (a.timestamp ?? Infinity) - (b.timestamp ?? Infinity) || (a.kind === 'CLIENT' ? -1 : 0) - (b.kind === 'CLIENT' ? -1 : 0);
}

export function summarize(traceId: string, spans: readonly TraceSpan[]): TraceSummary {
  let start = Infinity;
  let end = -Infinity;
  let error = false;
  const services = new Set<string>();
  const ids = new Set(spans.map((s) => s.id));
  let root: TraceSpan | undefined;
  for (const s of spans) {
    services.add(serviceOf(s));
    if (isError(s)) error = true;
    if (s.timestamp !== undefined) {
      start = Math.min(start, s.timestamp);
      end = Math.max(end, s.timestamp + (s.duration ?? 0));
    }
    // the root: no parent (or a parent not received); the earliest such span
    const orphan = !s.parentId || !ids.has(s.parentId);
    if (orphan && (!root || byStart(s, root) < 0)) root = s;
  }
  root ??= spans[0];
  return {
    traceId,
    rootService: root ? serviceOf(root) : UNKNOWN_SERVICE,
    rootName: root?.name ?? '',
    startUs: Number.isFinite(start) ? start : 0,
    durationUs: Number.isFinite(start) ? end - start : 0,
    spanCount: spans.length,
    error,
    services: [...services].sort(),
  };
}

export class TraceStore {
  readonly limits: TraceStoreLimits;
  /** least recently updated first (a Map keeps insertion order; an update re-inserts) */
  private readonly traces = new Map<string, TraceEntry>();
  private spanCount = 0;
  private readonly counters = { acceptedSpans: 0, droppedSpans: 0, evictedTraces: 0, evictedSpans: 0, truncatedFields: 0, rejectedRequests: 0 };

  constructor(limits: Partial<TraceStoreLimits> = {}) {
    this.limits = { ...DEFAULT_TRACE_STORE_LIMITS, ...limits };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`trace store limit ${k} must be a positive integer, got ${v}`);
    }
    // one trace always fits: eviction then never has to remove the trace being added to
    if (this.limits.maxSpansPerTrace > this.limits.maxSpans) {
      throw new RangeError(`trace store limit maxSpansPerTrace (${this.limits.maxSpansPerTrace}) must not exceed maxSpans (${this.limits.maxSpans})`);
    }
  }

  add(spans: readonly TraceSpan[], truncatedFields = 0): AddResult {
    this.counters.truncatedFields += truncatedFields;
    let accepted = 0;
    let dropped = 0;
    for (const span of spans) {
      let entry = this.traces.get(span.traceId);
      if (entry) {
        this.traces.delete(span.traceId);
      } else {
        entry = { traceId: span.traceId, spans: [], keys: new Map(), perService: new Map() };
      }
      this.traces.set(span.traceId, entry);
      const key = spanKey(span);
      const at = entry.keys.get(key);
      entry.summary = undefined;
      if (at !== undefined) {
        entry.spans[at] = span;
        accepted++;
      } else if (entry.spans.length >= this.limits.maxSpansPerTrace) {
        dropped++;
      } else {
        entry.keys.set(key, entry.spans.length);
        entry.spans.push(span);
        entry.perService.set(serviceOf(span), (entry.perService.get(serviceOf(span)) ?? 0) + 1);
        this.spanCount++;
        accepted++;
      }
      this.evict();
    }
    this.counters.acceptedSpans += accepted;
    this.counters.droppedSpans += dropped;
    return { accepted, dropped };
  }

  /** a refused POST (malformed, too large, wrong media type) */
  rejected(): void {
    this.counters.rejectedRequests++;
  }

  /** least recently updated traces out until both bounds hold (the trace just updated is the newest, never the victim) */
  private evict(): void {
    while (this.spanCount > this.limits.maxSpans || this.traces.size > this.limits.maxTraces) {
      const [oldest, e] = this.traces.entries().next().value as [string, TraceEntry];
      this.traces.delete(oldest);
      this.spanCount -= e.spans.length;
      this.counters.evictedTraces++;
      this.counters.evictedSpans += e.spans.length;
    }
  }

  stats(): TraceReceiverStats {
    return { spans: this.spanCount, traces: this.traces.size, ...this.limits, ...this.counters };
  }

  services(): TraceServicesResponse {
    const rows = new Map<string, { name: string; traces: number; spans: number }>();
    for (const e of this.traces.values()) {
      for (const [name, spans] of e.perService) {
        let row = rows.get(name);
        if (!row) rows.set(name, (row = { name, traces: 0, spans: 0 }));
        row.traces++;
        row.spans += spans;
      }
    }
    return { items: [...rows.values()].sort((a, b) => a.name.localeCompare(b.name)), receiver: this.stats() };
  }

  private summaryOf(e: TraceEntry): TraceSummary {
    return (e.summary ??= summarize(e.traceId, e.spans));
  }

  /** the newest `limit` traces (by start) with a span the service reported; every trace for `''` */
  tracesOf(service: string, limit: number): TraceSummary[] {
    const out: TraceSummary[] = [];
    for (const e of this.traces.values()) {
      if (service && !e.perService.has(service)) continue;
      out.push(this.summaryOf(e));
    }
    return out.sort((a, b) => b.startUs - a.startUs).slice(0, limit);
  }

  trace(traceId: string): TraceResponse | undefined {
    const e = this.traces.get(traceId.toLowerCase());
    if (!e) return undefined;
    return { summary: this.summaryOf(e), spans: [...e.spans].sort(byStart) };
  }
}
