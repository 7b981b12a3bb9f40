/**
 * The control plane's Zipkin v2 receiver over HTTP, on a real control plane's debug port: the
 * proxy's own span exporter (HttpBatchExporter + encodeZipkin, what sidecars run) posts without a
 * token and the spans are listed per service and by trace id; gzip bodies; the body limit before
 * and after gzip (a small bomb); malformed JSON and spans, a wrong media type or encoding are 4xx
 * with the reason and counted, and the control plane keeps serving; the Host check still applies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { API_PATHS, tracePath } from '../../src/api/api-paths.js';
import type { TraceListResponse, TraceResponse, TraceServicesResponse } from '../../src/api/api-types.js';
import { HttpBatchExporter } from '../../src/proxy/telemetry/tracing-exporter.js';
import { encodeZipkin, ZIPKIN_DEFAULT_PATH } from '../../src/proxy/telemetry/tracing-zipkin.js';
import type { FinishedSpan } from '../../src/proxy/telemetry/tracing-tracer.js';

const MAX_BODY = 64 * 1024;
let dir: string;
let cp: ControlPlane;
let base: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-zipkin-receiver-'));
  fs.mkdirSync(path.join(dir, 'config'));
  cp = new ControlPlane({
    configDir: path.join(dir, 'config'), xdsPort: 0, secureXdsPort: 0, debugPort: 0, publishToken: false, log: () => {},
    traceLimits: { maxBodyBytes: MAX_BODY },
  });
  await cp.start();
  base = `http://127.0.0.1:${cp.debugPort}`;
});

after(async () => {
  await cp?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function post(body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; body: string }> {
  const r = await request(`${base}${API_PATHS.zipkinSpans}`, { method: 'POST', headers, body });
  return { status: r.statusCode, body: await r.body.text() };
}

async function get<T>(p: string): Promise<{ status: number; body: T }> {
  const r = await request(`${base}${p}`);
  return { status: r.statusCode, body: (await r.body.json()) as T };
}

function finished(traceId: string, spanId: string, service: string, kind: 'CLIENT' | 'SERVER', startUs: number, over: Partial<FinishedSpan> = {}): FinishedSpan {
  return {
    traceId, spanId, name: `${service}.default.svc.cluster.local:9080/*`, kind, startUs, durationUs: 2_000, shared: false, error: false,
    tags: { 'http.status_code': '200', component: 'proxy' }, serviceName: `${service}.default`, localIp: '127.0.1.2', ...over,
  };
}

test('the sidecars\' exporter posts spans without a token; listed per service and by trace id', async () => {
  const exporter = new HttpBatchExporter({ url: `${base}/`, defaultPath: ZIPKIN_DEFAULT_PATH, encode: encodeZipkin, flushIntervalMs: 50 });
  const trace = 'a'.repeat(16) + '0123456789abcdef';
  const t0 = 1_765_000_000_000_000;
  // productpage -> reviews, both sides (the server side shares the client's span id, as Envoy's Zipkin does)
  exporter.export(finished(trace, '1000000000000001', 'productpage', 'SERVER', t0, { durationUs: 10_000 }));
  exporter.export(finished(trace, '1000000000000002', 'productpage', 'CLIENT', t0 + 1_000, { parentSpanId: '1000000000000001', durationUs: 5_000 }));
  exporter.export(finished(trace, '1000000000000002', 'reviews', 'SERVER', t0 + 1_500, {
    parentSpanId: '1000000000000001', shared: true, durationUs: 4_000, error: true, tags: { 'http.status_code': '503', error: 'true' },
  }));
  await exporter.close();
  assert.equal(exporter.sent, 3, `sent ${exporter.sent}, failed ${exporter.failed}`);

  const services = await get<TraceServicesResponse>(API_PATHS.traceServices);
  assert.equal(services.status, 200);
  assert.deepEqual(services.body.items, [{ name: 'productpage.default', traces: 1, spans: 2 }, { name: 'reviews.default', traces: 1, spans: 1 }]);
  assert.equal(services.body.receiver.acceptedSpans, 3);
  assert.equal(services.body.receiver.maxBodyBytes, MAX_BODY);

  const list = await get<TraceListResponse>(`${API_PATHS.traces}?service=reviews.default`);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.items, [{
    traceId: trace, rootService: 'productpage.default', rootName: 'productpage.default.svc.cluster.local:9080/*', startUs: t0, durationUs: 10_000,
    spanCount: 3, error: true, services: ['productpage.default', 'reviews.default'],
  }]);
  const one = await get<TraceResponse>(tracePath(trace));
  assert.equal(one.status, 200);
  assert.deepEqual(one.body.spans.map((s) => `${s.localEndpoint?.serviceName} ${s.kind} ${s.id} ${s.parentId ?? '-'} ${s.shared ? 'shared' : ''}`), [
    'productpage.default SERVER 1000000000000001 - ',
    'productpage.default CLIENT 1000000000000002 1000000000000001 ',
    'reviews.default SERVER 1000000000000002 1000000000000001 shared',
  ]);
  assert.equal(one.body.spans[2].tags?.error, 'true');
  assert.equal((await get(tracePath('f'.repeat(32)))).status, 404);
  // Zipkin's own reads over the same store
  assert.deepEqual((await get<string[]>(API_PATHS.zipkinServices)).body, ['productpage.default', 'reviews.default']);
  const zipkinTraces = await get<unknown[][]>(`${API_PATHS.zipkinTraces}?serviceName=reviews.default&limit=5`);
  assert.deepEqual(zipkinTraces.body, [one.body.spans]);
  assert.deepEqual((await get(`${API_PATHS.zipkinTrace}/${trace.toUpperCase()}`)).body, one.body.spans);
  assert.equal((await get(`${API_PATHS.zipkinTrace}/${'f'.repeat(16)}`)).status, 404);
  const bad = await get<{ error: string }>(`${API_PATHS.traces}?limit=0`);
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /limit must be an integer from 1 to 1000/);
});

test('gzip bodies are taken; a body that is not gzip, or too large before or after gzip, is refused', async () => {
  const span = (id: string): object => ({ traceId: 'b'.repeat(32), id, name: 'gz', kind: 'SERVER', timestamp: 1, duration: 1, localEndpoint: { serviceName: 'gzipped' } });
  const ok = await post(gzipSync(JSON.stringify([span('2000000000000001')])), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  assert.equal(ok.status, 202, ok.body);
  assert.equal((await get<TraceResponse>(tracePath('b'.repeat(32)))).body.spans[0].name, 'gz');

  const notGzip = await post('[]', { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  assert.equal(notGzip.status, 400);
  assert.match(JSON.parse(notGzip.body).error, /content-encoding gzip, but the body is not gzip/);

  const big = JSON.stringify(Array.from({ length: 2000 }, (_, i) => span(i.toString(16).padStart(16, '0'))));
  assert.ok(big.length > MAX_BODY);
  const plain = await post(big);
  assert.equal(plain.status, 413);
  assert.equal(JSON.parse(plain.body).code, 'CLEW_ZIPKIN_TOO_LARGE');
  // a small bomb: 10 KiB compressed, 1 MiB inflated
  const bomb = gzipSync(Buffer.alloc(1024 * 1024, 0x20));
  assert.ok(bomb.length < MAX_BODY);
  const inflated = await post(bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  assert.equal(inflated.status, 413);
  assert.match(JSON.parse(inflated.body).error, /span body larger than 65536 bytes \(compressed or not\)/);
  // chunked (no content-length) over the limit
  const chunked = await request(`${base}${API_PATHS.zipkinSpans}`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: Readable.from((function* () { for (let i = 0; i < 40; i++) yield Buffer.alloc(4096, 0x20); })()),
  });
  assert.equal(chunked.statusCode, 413);
  await chunked.body.dump();
});

test('malformed input is 400/415 with the reason, counted; the control plane keeps serving', async () => {
  const before = (await get<TraceServicesResponse>(API_PATHS.traceServices)).body.receiver.rejectedRequests;
  const cases: Array<[string | Buffer, Record<string, string>, number, RegExp]> = [
    ['{not json', { 'content-type': 'application/json' }, 400, /^body is not JSON/],
    ['{"traceId":"x"}', { 'content-type': 'application/json' }, 400, /body must be a JSON array of Zipkin v2 spans/],
    [JSON.stringify([{ traceId: 'c'.repeat(32), id: 'nothex!!nothex!!' }]), { 'content-type': 'application/json' }, 400, /span\[0\]\.id: must be 16 hex characters/],
    ['[]', { 'content-type': 'text/plain' }, 415, /content-type must be application\/json \(Zipkin v2 JSON spans\), got "text\/plain"/],
    ['[]', { 'content-type': 'application/x-protobuf' }, 415, /got "application\/x-protobuf"/],
    ['[]', { 'content-type': 'application/json', 'content-encoding': 'br' }, 415, /content-encoding must be gzip or none, got "br"/],
  ];
  for (const [body, headers, status, want] of cases) {
    const r = await post(body, headers);
    assert.equal(r.status, status, `${JSON.stringify(headers)} ${String(body).slice(0, 40)}: ${r.body}`);
    assert.match(JSON.parse(r.body).error, want);
  }
  // nothing half-stored from the refused body, and the API still answers
  assert.equal((await get(tracePath('c'.repeat(32)))).status, 404);
  const after = (await get<TraceServicesResponse>(API_PATHS.traceServices)).body.receiver.rejectedRequests;
  assert.equal(after - before, cases.length);
  const metrics = await request(`${base}${API_PATHS.metrics}`);
  const text = await metrics.body.text();
  assert.match(text, /clew_zipkin_requests_refused_total \d+/);
  assert.match(text, /clew_zipkin_spans_total\{result="stored"\} \d+/);
  // an empty array is a valid (empty) report
  assert.equal((await post('[]')).status, 202);
});

test('no admin token needed, but the Host check holds and other writes still need the token', async () => {
  const rebind = await request(`${base}${API_PATHS.zipkinSpans}`, { method: 'POST', headers: { host: 'evil.example', 'content-type': 'application/json' }, body: '[]' });
  assert.equal(rebind.statusCode, 403);
  await rebind.body.dump();
  const apply = await request(`${base}${API_PATHS.apply}`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: 'kind: x' });
  assert.equal(apply.statusCode, 401);
  await apply.body.dump();
});
