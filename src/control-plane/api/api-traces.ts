/**
 * Traces: the control plane as a Zipkin v2 collector. `POST /api/v2/spans` takes the JSON spans
 * the sidecars' Zipkin exporters send (gzip allowed; no admin token: reporters have none, so the
 * Host check and a JSON media type, which a cross-site form cannot send, guard it), 202 when
 * stored, 400/413/415 with the reason otherwise. Reads: the services that reported spans, a
 * service's recent traces, one trace's spans (the dashboard's Traces page); the same reads in
 * Zipkin's own v2 shapes (`/api/v2/services`, `/api/v2/traces`, `/api/v2/trace/<id>`) for Zipkin
 * API clients.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { API_PATHS } from '../../api/api-paths.js';
import type { TraceListResponse, TraceResponse, TraceServicesResponse } from '../../api/api-types.js';
import { decodeZipkinJson, SpanDecodeError } from '../traces/zipkin-decode.js';
import { BodyTooLargeError, json, text, type ApiReply, type ApiRequest, type ApiRoute } from './api-route.js';
import type { ControlPlaneTraces } from './control-plane-view.js';

const gunzipAsync = promisify(gunzip);

export const TRACE_LIST_DEFAULT = 50;
export const TRACE_LIST_MAX = 1000;

function refused(traces: ControlPlaneTraces, status: number, error: string, code: string): ApiReply {
  traces.spansRefused();
  return json(status, { error, code });
}

async function receive(traces: ControlPlaneTraces, req: ApiRequest): Promise<ApiReply> {
  const limit = traces.maxSpanBodyBytes();
  const type = (req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    req.rawBody(0).catch(() => undefined); // drain
    return refused(traces, 415, `content-type must be application/json (Zipkin v2 JSON spans), got ${JSON.stringify(type || '(none)')}`, 'CLEW_ZIPKIN_MEDIA_TYPE');
  }
  const encoding = (req.header('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    req.rawBody(0).catch(() => undefined);
    return refused(traces, 415, `content-encoding must be gzip or none, got ${JSON.stringify(encoding)}`, 'CLEW_ZIPKIN_ENCODING');
  }
  let body: Buffer;
  try {
    body = await req.rawBody(limit);
    if (encoding === 'gzip') body = await gunzipAsync(body, { maxOutputLength: limit });
  } catch (err) {
    if (err instanceof BodyTooLargeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      return refused(traces, 413, `span body larger than ${limit} bytes${encoding === 'gzip' ? ' (compressed or not)' : ''}`, 'CLEW_ZIPKIN_TOO_LARGE');
    }
    if (encoding === 'gzip' && /^Z_|ERR_ZLIB/.test(String((err as NodeJS.ErrnoException).code))) {
      return refused(traces, 400, `content-encoding gzip, but the body is not gzip: ${(err as Error).message}`, 'CLEW_ZIPKIN_BAD_GZIP');
    }
    throw err;
  }
  try {
    const { spans, truncated } = decodeZipkinJson(body.toString('utf8'));
    traces.receiveSpans(spans, truncated);
  } catch (err) {
    if (err instanceof SpanDecodeError) return refused(traces, 400, err.message, err.code);
    throw err;
  }
  return text(202, '');
}

function limitOf(q: URLSearchParams): number | string {
  const raw = q.get('limit');
  if (raw === null || raw === '') return TRACE_LIST_DEFAULT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > TRACE_LIST_MAX) return `limit must be an integer from 1 to ${TRACE_LIST_MAX}, got ${JSON.stringify(raw)}`;
  return n;
}

export function traceRoutes(traces: ControlPlaneTraces): ApiRoute[] {
  return [
    { method: 'POST', path: API_PATHS.zipkinSpans, doc: `POST ${API_PATHS.zipkinSpans}`, ingest: true, handle: (req) => receive(traces, req) },
    {
      method: 'GET', path: API_PATHS.traceServices, doc: API_PATHS.traceServices,
      handle: () => json(200, traces.reader().services() satisfies TraceServicesResponse),
    },
    {
      method: 'GET', path: API_PATHS.traces, doc: `${API_PATHS.traces}?service=&limit=`,
      handle: (req) => {
        const limit = limitOf(req.query);
        if (typeof limit === 'string') return json(400, { error: limit, code: 'CLEW_API_BAD_LIMIT' });
        const service = (req.query.get('service') ?? '').toLowerCase();
        return json(200, { service, items: traces.reader().tracesOf(service, limit) } satisfies TraceListResponse);
      },
    },
    {
      method: 'GET', path: API_PATHS.zipkinServices, doc: API_PATHS.zipkinServices,
      handle: () => json(200, traces.reader().services().items.map((s) => s.name)),
    },
    {
      method: 'GET', path: API_PATHS.zipkinTraces, doc: `${API_PATHS.zipkinTraces}?serviceName=&limit=`,
      handle: (req) => {
        const limit = limitOf(req.query);
        if (typeof limit === 'string') return json(400, { error: limit, code: 'CLEW_API_BAD_LIMIT' });
        const store = traces.reader();
        const items = store.tracesOf((req.query.get('serviceName') ?? '').toLowerCase(), limit);
        return json(200, items.map((t) => store.trace(t.traceId)?.spans ?? []));
      },
    },
    {
      method: 'GET', path: /^\/api\/v2\/trace\/([^/]+)$/, doc: `${API_PATHS.zipkinTrace}/<traceId>`,
      handle: (req) => {
        const found = traces.reader().trace(req.params[0]);
        return found ? json(200, found.spans) : json(404, { error: `no trace ${req.params[0]}`, code: 'CLEW_API_NO_TRACE' });
      },
    },
    {
      method: 'GET', path: /^\/apis\/v1\/traces\/([^/]+)$/, doc: `${API_PATHS.traces}/<traceId>`,
      handle: (req) => {
        const found = traces.reader().trace(req.params[0]);
        if (!found) return json(404, { error: `no trace ${req.params[0]} (never received, or evicted by the receiver's bounds)`, code: 'CLEW_API_NO_TRACE' });
        return json(200, found satisfies TraceResponse);
      },
    },
  ];
}
