/**
 * Traces: the spans the control plane's Zipkin receiver holds. `#/traces` lists a service's recent
 * traces (duration, span count, error flag); `#/traces/<traceId>` draws one trace as a timeline
 * (waterfall): a row per span in call order (a shared SERVER span under the CLIENT span it shares
 * an id with, children under the span of the same service that has their parent id), with service,
 * operation, start offset and duration; a click shows the span's tags.
 */
import type { TraceListResponse, TraceResponse, TraceServicesResponse, TraceSpan, TraceSummary } from '../../api/api-types.js';
import { api, el, ms, setStatus, table } from './ui-util.js';

let service: string | undefined;

function fail(main: HTMLElement, err: unknown): void {
  setStatus((err as Error).message, true);
  main.replaceChildren(el('p', { class: 'messages' }, (err as Error).message));
}

function micros(us: number): string {
  return ms(us / 1000);
}

function when(us: number): string {
  return us ? new Date(us / 1000).toLocaleTimeString() : '-';
}

function serviceOf(s: TraceSpan): string {
  return s.localEndpoint?.serviceName ?? 'unknown';
}

function errorBadge(error: boolean): HTMLSpanElement | undefined {
  return error ? el('span', { class: 'badge state-error' }, 'error') : undefined;
}

export async function showTraces(main: HTMLElement): Promise<void> {
  try {
    const services = await api<TraceServicesResponse>('traces/services');
    const names = services.items.map((s) => s.name);
    // the last choice, else the service in the most traces (the list is sorted by name: ties go to the first)
    if (!service || !names.includes(service)) service = services.items.reduce<TraceServicesResponse['items'][number] | undefined>((best, x) => (!best || x.traces > best.traces ? x : best), undefined)?.name;
    const select = el('select', { id: 'trace-service' }, ...services.items.map((s) => {
      const o = el('option', { value: s.name }, `${s.name} (${s.traces} traces)`);
      if (s.name === service) o.selected = true;
      return o;
    }));
    const refresh = el('button', { id: 'trace-refresh', type: 'button' }, 'Refresh');
    const list = el('div', { id: 'trace-list' });
    const r = services.receiver;
    const stats = el('span', { class: 'muted', id: 'trace-receiver' },
      `receiver: ${r.spans} spans in ${r.traces} traces (bounds ${r.maxSpans} spans, ${r.maxTraces} traces, ${r.maxSpansPerTrace} spans/trace)`
      + (r.droppedSpans || r.evictedTraces || r.rejectedRequests ? `; dropped ${r.droppedSpans}, evicted ${r.evictedTraces} traces, refused ${r.rejectedRequests} POSTs` : ''));
    main.replaceChildren(el('h2', {}, 'Traces'), el('div', { class: 'toolbar' }, el('label', {}, 'Service ', select), refresh, stats), list);
    const load = async (): Promise<void> => {
      if (!service) {
        list.replaceChildren(el('p', { class: 'muted' }, 'No spans received yet. Sidecars send them when the mesh config\'s tracing provider is the control plane (clew demo sets it up).'));
        return;
      }
      const traces = await api<TraceListResponse>(`traces?service=${encodeURIComponent(service)}&limit=100`);
      list.replaceChildren(traceTable(traces.items));
      setStatus(`${traces.items.length} traces of ${service}`);
    };
    select.addEventListener('change', () => {
      service = select.value;
      load().catch((err) => setStatus((err as Error).message, true));
    });
    refresh.addEventListener('click', () => void showTraces(main));
    await load();
  } catch (err) {
    fail(main, err);
  }
}

function traceTable(items: TraceSummary[]): HTMLTableElement {
  const longest = Math.max(1, ...items.map((t) => t.durationUs));
  const rows = items.map((t) => {
    const bar = el('div', { class: `span-bar${t.error ? ' error' : ''}` });
    bar.style.width = `${Math.max(0.5, (t.durationUs / longest) * 100)}%`;
    const tr = el('tr', { class: 'clickable', 'data-trace': t.traceId, 'data-error': String(t.error), 'data-spans': String(t.spanCount) },
      el('td', {}, when(t.startUs)), el('td', {}, el('b', {}, t.rootService), ' ', t.rootName),
      el('td', { class: 'num' }, micros(t.durationUs)), el('td', { class: 'track' }, bar),
      el('td', { class: 'num' }, t.spanCount), el('td', {}, t.services.join(', ')), el('td', {}, errorBadge(t.error)));
    tr.addEventListener('click', () => { location.hash = `#/traces/${t.traceId}`; });
    return tr;
  });
  return table(['Started', 'Root span', 'Duration', '', 'Spans', 'Services', ''], rows, { id: 'traces' });
}

interface Row {
  span: TraceSpan;
  depth: number;
}

/** Spans in call order with their depth (Zipkin's shared spans: the SERVER side under its CLIENT side). */
export function spanTree(spans: readonly TraceSpan[]): Row[] {
  const byId = new Map<string, TraceSpan[]>();
  for (const s of spans) byId.set(s.id, [...(byId.get(s.id) ?? []), s]);
  const parentOf = (s: TraceSpan): TraceSpan | undefined => {
    if (s.shared) {
      const client = byId.get(s.id)?.find((c) => c !== s && c.kind === 'CLIENT');
      if (client) return client;
    }
    const candidates = s.parentId ? byId.get(s.parentId)?.filter((c) => c !== s) ?? [] : [];
    return candidates.find((c) => serviceOf(c) === serviceOf(s)) ?? candidates.find((c) => c.kind === 'SERVER') ?? candidates[0];
  };
  const children = new Map<TraceSpan | undefined, TraceSpan[]>();
  for (const s of spans) {
    let p = parentOf(s);
    // a cycle (bad ids) would hide spans: treat such spans as roots
    for (let q = p, n = 0; q && n <= spans.length; q = parentOf(q), n++) if (q === s) p = undefined;
    children.set(p, [...(children.get(p) ?? []), s]);
  }
  const start = (s: TraceSpan): number => s.timestamp ?? Infinity;
  const out: Row[] = [];
  const walk = (p: TraceSpan | undefined, depth: number): void => {
    for (const c of (children.get(p) ?? []).sort((a, b) => start(a) - start(b))) {
      out.push({ span: c, depth });
      walk(c, depth + 1);
    }
  };
  walk(undefined, 0);
  return out;
}

export async function showTrace(main: HTMLElement, traceId: string): Promise<void> {
  try {
    const t = await api<TraceResponse>(`traces/${encodeURIComponent(traceId)}`);
    const s = t.summary;
    const total = Math.max(1, s.durationUs);
    const details = el('div', { id: 'span-details' }, el('p', { class: 'muted' }, 'Click a span for its tags.'));
    const rows = spanTree(t.spans).map(({ span, depth }) => {
      const offset = (span.timestamp ?? s.startUs) - s.startUs;
      const bar = el('div', { class: `span-bar kind-${(span.kind ?? 'none').toLowerCase()}${isError(span) ? ' error' : ''}` });
      bar.style.left = `${(offset / total) * 100}%`;
      bar.style.width = `${Math.max(0.3, ((span.duration ?? 0) / total) * 100)}%`;
      const label = el('td', { class: 'span-label' }, el('b', {}, serviceOf(span)), ' ', el('span', { class: 'muted' }, span.kind ?? ''));
      label.style.paddingLeft = `${8 + depth * 14}px`;
      const tr = el('tr', {
        class: 'clickable', 'data-span': span.id, 'data-parent': span.parentId ?? '', 'data-shared': String(span.shared === true), 'data-service': serviceOf(span), 'data-kind': span.kind ?? '', 'data-depth': String(depth),
      }, label, el('td', { class: 'span-name' }, span.name ?? ''), el('td', { class: 'num' }, micros(offset)), el('td', { class: 'num' }, micros(span.duration ?? 0)),
      el('td', { class: 'track' }, bar));
      tr.addEventListener('click', () => {
        main.querySelectorAll('tr.selected').forEach((x) => x.classList.remove('selected'));
        tr.classList.add('selected');
        details.replaceChildren(...spanDetails(span));
      });
      return tr;
    });
    main.replaceChildren(
      el('div', { class: 'toolbar' }, el('a', { href: '#/traces' }, '← Traces'),
        el('h2', {}, `${s.rootService}: ${s.rootName}`), errorBadge(s.error)),
      el('p', { class: 'muted', id: 'trace-summary' }, `trace ${s.traceId} · ${micros(s.durationUs)} · ${s.spanCount} spans · ${s.services.length} services (${s.services.join(', ')}) · started ${when(s.startUs)}`),
      el('div', { class: 'trace-wrap' }, table(['Service', 'Operation', 'Start', 'Duration', 'Timeline'], rows, { id: 'timeline' }), details),
    );
    setStatus('');
  } catch (err) {
    fail(main, err);
  }
}

function isError(s: TraceSpan): boolean {
  return s.tags?.error !== undefined || Number(s.tags?.['http.status_code']) >= 500;
}

function spanDetails(s: TraceSpan): Node[] {
  const kv = (k: string, v: string | undefined): HTMLTableRowElement | undefined =>
    v === undefined ? undefined : el('tr', {}, el('th', {}, k), el('td', {}, v));
  const ep = (e: TraceSpan['localEndpoint']): string | undefined =>
    e ? [e.serviceName, e.ipv4 ?? e.ipv6, e.port].filter((x) => x !== undefined).join(' ') : undefined;
  const fixed = [
    kv('span id', s.id), kv('parent id', s.parentId), kv('kind', s.kind), kv('shared', s.shared ? 'yes' : undefined),
    kv('local', ep(s.localEndpoint)), kv('remote', ep(s.remoteEndpoint)), kv('duration', micros(s.duration ?? 0)),
  ].filter((r): r is HTMLTableRowElement => r !== undefined);
  const tags = Object.entries(s.tags ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => el('tr', { 'data-tag': k }, el('th', {}, k), el('td', {}, v)));
  const notes = (s.annotations ?? []).map((a) => el('tr', {}, el('th', {}, micros(a.timestamp - (s.timestamp ?? a.timestamp))), el('td', {}, a.value)));
  return [
    el('h3', {}, `${s.localEndpoint?.serviceName ?? 'unknown'}: ${s.name ?? ''}`),
    el('table', {}, el('tbody', {}, ...fixed)),
    el('h3', {}, 'Tags'),
    el('table', { id: 'span-tags' }, el('tbody', {}, ...tags)),
    ...(notes.length ? [el('h3', {}, 'Annotations'), el('table', {}, el('tbody', {}, ...notes))] : []),
  ];
}
