import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpBatchExporter } from '../../../src/proxy/telemetry/tracing-exporter.js';
import { encodeZipkin, ZIPKIN_DEFAULT_PATH } from '../../../src/proxy/telemetry/tracing-zipkin.js';
import { encodeOtlp, OTLP_DEFAULT_PATH } from '../../../src/proxy/telemetry/tracing-otlp.js';
import { Tracer, type FinishedSpan } from '../../../src/proxy/telemetry/tracing-tracer.js';
import { REVIEWS, httpInfo, startReceiver, waitFor } from './telemetry-fixtures.js';

function spans(n: number, kind: 'CLIENT' | 'SERVER' = 'SERVER'): FinishedSpan[] {
  const tr = new Tracer(REVIEWS, [], { samplingPercent: 100, sharedSpanContext: true });
  const out: FinishedSpan[] = [];
  for (let i = 0; i < n; i++) {
    const ctx = tr.start(
      { 'x-b3-traceid': '463ac35c9f6413ad48485a3953bb6124', 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-parentspanid': '0020000000000001', 'x-request-id': `r${i}` },
      kind === 'SERVER' ? 'inbound' : 'outbound',
    );
    out.push(tr.toSpan(httpInfo({ direction: kind === 'SERVER' ? 'inbound' : 'outbound', responseCode: i === 0 ? 500 : 200 }), ctx));
  }
  return out;
}

test('Zipkin v2: batches POSTed to /api/v2/spans with the v2 JSON shape', async () => {
  const rx = await startReceiver();
  const ex = new HttpBatchExporter({ url: rx.url, defaultPath: ZIPKIN_DEFAULT_PATH, encode: encodeZipkin, batchSize: 10, flushIntervalMs: 50 });
  try {
    for (const s of spans(25)) ex.export(s);
    await waitFor(() => ex.sent === 25);
    assert.deepEqual(rx.paths, [ZIPKIN_DEFAULT_PATH, ZIPKIN_DEFAULT_PATH, ZIPKIN_DEFAULT_PATH]);
    assert.deepEqual(rx.bodies.map((b) => (b as unknown[]).length), [10, 10, 5]);
    const z = (rx.bodies[0] as Array<Record<string, unknown>>)[0];
    assert.equal(z.traceId, '463ac35c9f6413ad48485a3953bb6124');
    assert.equal(z.id, 'a2fb4a1d1a96d312', 'shared server span keeps the caller span id');
    assert.equal(z.parentId, '0020000000000001');
    assert.equal(z.shared, true);
    assert.equal(z.kind, 'SERVER');
    assert.equal(z.name, 'reviews:9080/*');
    assert.equal(typeof z.timestamp, 'number');
    assert.equal(z.duration, 12400);
    assert.deepEqual(z.localEndpoint, { serviceName: 'reviews.default', ipv4: '127.0.1.3' });
    assert.equal((z.tags as Record<string, string>).error, 'true');
    assert.equal((z.tags as Record<string, string>)['http.status_code'], '500');
    assert.equal(ex.dropped, 0);
    assert.equal(ex.failed, 0);
  } finally {
    await ex.close();
    await rx.close();
  }
});

test('OTLP/HTTP JSON: /v1/traces, resourceSpans/scopeSpans/spans, hex ids, kinds 2/3', async () => {
  const rx = await startReceiver();
  const ex = new HttpBatchExporter({ url: rx.url + '/', defaultPath: OTLP_DEFAULT_PATH, encode: encodeOtlp, batchSize: 100, flushIntervalMs: 30 });
  try {
    for (const s of [...spans(2, 'SERVER'), ...spans(1, 'CLIENT')]) ex.export(s);
    await waitFor(() => ex.sent === 3);
    assert.deepEqual(rx.paths, ['/v1/traces'], 'a partial batch goes out on the interval');
    const body = rx.bodies[0] as { resourceSpans: Array<{ resource: { attributes: unknown[] }; scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }> };
    assert.equal(body.resourceSpans.length, 1);
    assert.deepEqual(body.resourceSpans[0].resource.attributes, [{ key: 'service.name', value: { stringValue: 'reviews.default' } }]);
    const list = body.resourceSpans[0].scopeSpans[0].spans;
    assert.deepEqual(list.map((s) => s.kind), [2, 2, 3]);
    const s0 = list[0];
    assert.match(String(s0.traceId), /^[0-9a-f]{32}$/);
    assert.match(String(s0.spanId), /^[0-9a-f]{16}$/);
    assert.equal(BigInt(String(s0.endTimeUnixNano)) - BigInt(String(s0.startTimeUnixNano)), 12400000n);
    assert.deepEqual(s0.status, { code: 2 });
    assert.deepEqual(list[1].status, { code: 0 });
    const attrs = s0.attributes as Array<{ key: string; value: { stringValue: string } }>;
    assert.equal(attrs.find((a) => a.key === 'istio.canonical_service')?.value.stringValue, 'reviews');
    assert.equal(list[2].parentSpanId, 'a2fb4a1d1a96d312', 'client span is a child of the incoming span');
  } finally {
    await ex.close();
    await rx.close();
  }
});

test('a stalled collector: export() never blocks, queue is bounded, drops are counted', async () => {
  const rx = await startReceiver();
  rx.stall = true;
  const ex = new HttpBatchExporter({ url: rx.url, defaultPath: ZIPKIN_DEFAULT_PATH, encode: encodeZipkin, batchSize: 10, maxQueue: 50, flushIntervalMs: 20, timeoutMs: 300 });
  try {
    const batch = spans(1)[0];
    for (let i = 0; i < 10; i++) ex.export(batch);
    await waitFor(() => ex.requests === 1); // first POST in flight, never answered
    const t0 = performance.now();
    for (let i = 0; i < 10000; i++) ex.export(batch);
    assert.ok(performance.now() - t0 < 200, 'export() is O(1)');
    assert.equal(ex.queued, 50);
    assert.equal(ex.dropped, 10000 - 50);
    // the stalled POST times out and its spans are counted as failed; the queue drains later
    await waitFor(() => ex.failed >= 10, 3000);
    rx.stall = false;
    // a batch sent before the receiver recovered may also time out; every span is accounted for
    await waitFor(() => ex.sent + ex.failed === 60, 5000);
    assert.ok(ex.sent >= 30, `most queued spans delivered after recovery (sent ${ex.sent})`);
    assert.equal(ex.queued, 0);
  } finally {
    await ex.close(500);
    await rx.close();
  }
});

test('a dead collector: connection refused counts failures and keeps going', async () => {
  const rx = await startReceiver();
  const url = rx.url;
  await rx.close();
  const ex = new HttpBatchExporter({ url, defaultPath: OTLP_DEFAULT_PATH, encode: encodeOtlp, batchSize: 5, flushIntervalMs: 20 });
  try {
    for (const s of spans(12)) ex.export(s);
    await waitFor(() => ex.failed === 12);
    assert.equal(ex.sent, 0);
  } finally {
    await ex.close(200);
  }
});
