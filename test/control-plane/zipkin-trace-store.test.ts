/**
 * The Zipkin receiver's decoder and store, without HTTP: what a malformed span is refused for
 * (naming the span and field), per-span caps, the three bounds of the store with their counters,
 * per-service listing (newest first, error flag, duration and span count) and one trace's spans.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TraceSpan } from '../../src/api/api-types.js';
import { decodeZipkinJson, SpanDecodeError } from '../../src/control-plane/traces/zipkin-decode.js';
import { TraceStore } from '../../src/control-plane/traces/trace-store.js';

const T1 = '463ac35c9f6413ad48485a3953bb6124';
const hex16 = (n: number): string => n.toString(16).padStart(16, '0');

function span(traceId: string, id: number, service: string, over: Partial<TraceSpan> = {}): TraceSpan {
  return { traceId, id: hex16(id), name: `${service}-op`, kind: 'SERVER', timestamp: 1_000_000 + id, duration: 10, localEndpoint: { serviceName: service }, ...over };
}

test('decoder: Zipkin v2 fields kept, ids lowered, unknown fields ignored', () => {
  const body = JSON.stringify([{
    traceId: T1.toUpperCase(), id: 'A2FB4A1D1A96D312', parentId: '0020000000000001', name: 'get /api', kind: 'CLIENT',
    timestamp: 1_700_000_000_000_000, duration: 207_000, localEndpoint: { serviceName: 'Frontend', ipv4: '127.0.0.1', port: 8080 },
    remoteEndpoint: { ipv4: '10.0.0.2' }, tags: { 'http.method': 'GET' }, annotations: [{ timestamp: 1_700_000_000_000_100, value: 'ws' }],
    shared: false, debug: true, futureField: { x: 1 },
  }]);
  const { spans, truncated } = decodeZipkinJson(body);
  assert.equal(truncated, 0);
  assert.deepEqual(spans, [{
    traceId: T1, id: 'a2fb4a1d1a96d312', parentId: '0020000000000001', name: 'get /api', kind: 'CLIENT',
    timestamp: 1_700_000_000_000_000, duration: 207_000, localEndpoint: { serviceName: 'frontend', ipv4: '127.0.0.1', port: 8080 },
    remoteEndpoint: { ipv4: '10.0.0.2' }, tags: { 'http.method': 'GET' }, annotations: [{ timestamp: 1_700_000_000_000_100, value: 'ws' }], debug: true,
  }]);
});

test('decoder: malformed input is a SpanDecodeError naming the span and field', () => {
  const cases: Array<[string, RegExp]> = [
    ['{"traceId":', /^body is not JSON/],
    ['{"traceId":"a"}', /body must be a JSON array of Zipkin v2 spans, got object/],
    ['null', /got null/],
    ['[1]', /^span\[0\]: must be an object/],
    [JSON.stringify([{ traceId: 'xyz', id: hex16(1) }]), /^span\[0\]\.traceId: must be 16 or 32 hex characters, got "xyz"/],
    [JSON.stringify([{ traceId: T1, id: hex16(1) }, { traceId: T1, id: '12' }]), /^span\[1\]\.id: must be 16 hex characters/],
    [JSON.stringify([{ traceId: T1, id: hex16(1), parentId: 5 }]), /^span\[0\]\.parentId/],
    [JSON.stringify([{ traceId: T1, id: hex16(1), kind: 'SERVERX' }]), /^span\[0\]\.kind: must be CLIENT, SERVER, PRODUCER or CONSUMER/],
    [JSON.stringify([{ traceId: T1, id: hex16(1), timestamp: -1 }]), /^span\[0\]\.timestamp: must be a non-negative number/],
    [JSON.stringify([{ traceId: T1, id: hex16(1), duration: '5' }]), /^span\[0\]\.duration/],
    [JSON.stringify([{ traceId: T1, id: hex16(1), tags: { code: 200 } }]), /^span\[0\]\.tags\["code"\]: must be a string, got 200/],
    [JSON.stringify([{ traceId: T1, id: hex16(1), localEndpoint: 'svc' }]), /^span\[0\]\.localEndpoint: must be an object/],
    [JSON.stringify([{ traceId: T1, id: hex16(1), localEndpoint: { port: 70000 } }]), /^span\[0\]\.localEndpoint\.port/],
    [JSON.stringify([{ traceId: T1, id: hex16(1), annotations: [{ value: 'x' }] }]), /^span\[0\]\.annotations\[0\]\.timestamp/],
    [JSON.stringify([{ traceId: T1, id: hex16(1), shared: 'yes' }]), /^span\[0\]\.shared: must be true or false/],
  ];
  for (const [body, want] of cases) {
    assert.throws(() => decodeZipkinJson(body), (err: unknown) => err instanceof SpanDecodeError && err.code === 'CLEW_ZIPKIN_BAD_SPANS' && want.test(err.message), body);
  }
});

test('decoder: oversized tags, names and lists are cut to the limits and counted', () => {
  const tags: Record<string, string> = { big: 'x'.repeat(50) };
  for (let i = 0; i < 10; i++) tags[`t${i}`] = 'v';
  const { spans, truncated } = decodeZipkinJson(JSON.stringify([{
    traceId: T1, id: hex16(1), name: 'n'.repeat(40), tags, annotations: [1, 2, 3].map((t) => ({ timestamp: t, value: 'a' })),
  }]), { maxStringLength: 16, maxTagsPerSpan: 4, maxAnnotationsPerSpan: 2 });
  assert.equal(spans[0].name, 'n'.repeat(16));
  assert.equal(spans[0].tags!.big, 'x'.repeat(16));
  assert.equal(Object.keys(spans[0].tags!).length, 4);
  assert.equal(spans[0].annotations!.length, 2);
  // name, big tag, 7 tags over the count, 1 annotation
  assert.equal(truncated, 1 + 1 + 7 + 1);
});

test('store: per-trace bound drops later spans; span and trace bounds evict the least recently updated traces', () => {
  const store = new TraceStore({ maxSpans: 9, maxTraces: 3, maxSpansPerTrace: 4 });
  const r = store.add([1, 2, 3, 4, 5, 6].map((i) => span(T1, i, 'a')));
  assert.deepEqual(r, { accepted: 4, dropped: 2 });
  assert.equal(store.trace(T1)!.spans.length, 4);
  // a retried span replaces its copy: no growth, still accepted
  assert.deepEqual(store.add([span(T1, 1, 'a', { duration: 99 })]), { accepted: 1, dropped: 0 });
  assert.equal(store.trace(T1)!.spans.find((s) => s.id === hex16(1))!.duration, 99);

  const [t2, t3, t4] = ['2', '3', '4'].map((c) => c.repeat(32));
  store.add([span(t2, 1, 'b'), span(t2, 2, 'b'), span(t2, 3, 'b')]);
  store.add([span(t3, 1, 'c'), span(t3, 2, 'c')]);
  // T1 (4) + t2 (3) + t3 (2) = 9 spans, 3 traces. Touch T1, then a 4th trace: over both bounds, t2 (the oldest update) goes
  store.add([span(T1, 1, 'a')]);
  store.add([span(t4, 1, 'd')]);
  assert.equal(store.trace(t2), undefined);
  assert.ok(store.trace(T1) && store.trace(t3) && store.trace(t4));
  // t3 (2) + T1 (4) + t4 (3) = 9 spans; one more is over the span bound: t3, now the oldest update, goes
  store.add([span(t4, 2, 'd'), span(t4, 3, 'd')]);
  store.add([span(t4, 4, 'd')]);
  const s = store.stats();
  assert.ok(s.spans <= 9 && s.traces <= 3, JSON.stringify(s));
  assert.equal(store.trace(t3), undefined, 'the least recently updated trace went first');
  assert.ok(store.trace(T1), 'T1 was updated after t3');
  assert.deepEqual(
    { droppedSpans: s.droppedSpans, evictedTraces: s.evictedTraces, evictedSpans: s.evictedSpans },
    { droppedSpans: 2, evictedTraces: 2, evictedSpans: 5 },
  );
  assert.equal(s.spans, 8);
  assert.throws(() => new TraceStore({ maxSpans: 5, maxSpansPerTrace: 6 }), /maxSpansPerTrace \(6\) must not exceed maxSpans \(5\)/);
  assert.throws(() => new TraceStore({ maxTraces: 0 }), /maxTraces must be a positive integer/);
});

test('store: services, a service\'s recent traces with duration, span count and error flag, one trace ordered by start', () => {
  const store = new TraceStore();
  const old = '1'.repeat(32);
  const recent = '2'.repeat(32);
  // old: frontend -> backend, 1_000 µs
  store.add([
    span(old, 1, 'frontend', { kind: 'SERVER', timestamp: 1_000_000, duration: 1_000 }),
    span(old, 2, 'frontend', { kind: 'CLIENT', parentId: hex16(1), timestamp: 1_000_100, duration: 800 }),
    span(old, 2, 'backend', { kind: 'SERVER', shared: true, parentId: hex16(1), timestamp: 1_000_150, duration: 700 }),
  ]);
  // recent: frontend only, a 503
  store.add([span(recent, 7, 'frontend', { timestamp: 5_000_000, duration: 300, tags: { 'http.status_code': '503' } })]);
  assert.deepEqual(store.services().items, [{ name: 'backend', traces: 1, spans: 1 }, { name: 'frontend', traces: 2, spans: 3 }]);
  const front = store.tracesOf('frontend', 10);
  assert.deepEqual(front.map((t) => t.traceId), [recent, old], 'newest first');
  assert.deepEqual(front[1], {
    traceId: old, rootService: 'frontend', rootName: 'frontend-op', startUs: 1_000_000, durationUs: 1_000, spanCount: 3, error: false, services: ['backend', 'frontend'],
  });
  assert.equal(front[0].error, true);
  assert.deepEqual(store.tracesOf('backend', 10).map((t) => t.traceId), [old]);
  assert.deepEqual(store.tracesOf('frontend', 1).map((t) => t.traceId), [recent]);
  assert.deepEqual(store.tracesOf('', 10).length, 2, 'every trace for no service');
  // both sides of the shared span are kept, client first
  const t = store.trace(old.toUpperCase())!;
  assert.deepEqual(t.spans.map((s) => `${s.localEndpoint!.serviceName}/${s.kind}/${s.id}`), [
    `frontend/SERVER/${hex16(1)}`, `frontend/CLIENT/${hex16(2)}`, `backend/SERVER/${hex16(2)}`,
  ]);
  assert.equal(store.trace('f'.repeat(32)), undefined);
});
