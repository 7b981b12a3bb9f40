import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  extractB3Multi,
  extractB3Single,
  extractW3C,
  extractContext,
  injectContext,
  newSpanId,
  newTraceId,
} from '../../../src/proxy/telemetry/tracing-propagation.js';
import { Tracer, type FinishedSpan } from '../../../src/proxy/telemetry/tracing-tracer.js';
import { PRODUCTPAGE, REVIEWS, httpInfo } from './telemetry-fixtures.js';

const T = '463ac35c9f6413ad48485a3953bb6124';
const S = 'a2fb4a1d1a96d312';
const P = '0020000000000001';

/** mulberry32: a seeded [0,1) source so the statistics are reproducible */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('B3 multi: extract, inject, round trip; 64-bit trace ids are padded', () => {
  const ctx = extractB3Multi({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-parentspanid': P, 'x-b3-sampled': '1' });
  assert.deepEqual(ctx, { traceId: T, spanId: S, parentSpanId: P, sampled: true, debug: false, format: 'b3' });
  const out: Record<string, string> = {};
  injectContext({ traceId: T, spanId: S, parentSpanId: P, sampled: true }, ['b3'], out);
  assert.deepEqual(out, { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-parentspanid': P, 'x-b3-sampled': '1' });
  assert.deepEqual(extractB3Multi(out), ctx);
  assert.equal(extractB3Multi({ 'x-b3-traceid': '48485a3953bb6124', 'x-b3-spanid': S })?.traceId, '000000000000000048485a3953bb6124');
  assert.equal(extractB3Multi({ 'x-b3-traceid': 'zz', 'x-b3-spanid': S }), undefined);
  assert.deepEqual(extractB3Multi({ 'x-b3-sampled': '0' }), { sampled: false, debug: false, format: 'b3' });
  assert.equal(extractB3Multi({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '1' })?.sampled, true);
  const dbg: Record<string, string> = {};
  injectContext({ traceId: T, spanId: S, sampled: true, debug: true }, ['b3'], dbg);
  assert.equal(dbg['x-b3-flags'], '1');
  assert.equal(dbg['x-b3-sampled'], undefined);
});

test('B3 single: extract, inject, round trip, sampling-only form', () => {
  const ctx = extractB3Single({ b3: `${T}-${S}-1-${P}` });
  assert.deepEqual(ctx, { traceId: T, spanId: S, parentSpanId: P, sampled: true, debug: false, format: 'b3-single' });
  const out: Record<string, string> = {};
  injectContext({ traceId: T, spanId: S, parentSpanId: P, sampled: true }, ['b3-single'], out);
  assert.deepEqual(out, { b3: `${T}-${S}-1-${P}` });
  assert.deepEqual(extractB3Single(out), ctx);
  assert.equal(extractB3Single({ b3: `${T}-${S}` })?.sampled, undefined);
  assert.equal(extractB3Single({ b3: `${T}-${S}-d` })?.debug, true);
  assert.deepEqual(extractB3Single({ b3: '0' }), { sampled: false, debug: false, format: 'b3-single' });
  assert.equal(extractB3Single({ b3: 'nonsense-x' }), undefined);
});

test('W3C traceparent/tracestate: extract, inject, round trip, invalid forms rejected', () => {
  const tp = `00-${T}-${S}-01`;
  const ctx = extractW3C({ traceparent: tp, tracestate: 'congo=t61rcWkgMzE' });
  assert.deepEqual(ctx, { traceId: T, spanId: S, sampled: true, tracestate: 'congo=t61rcWkgMzE', format: 'w3c' });
  const out: Record<string, string> = {};
  injectContext({ traceId: T, spanId: S, sampled: true, tracestate: 'congo=t61rcWkgMzE' }, ['w3c'], out);
  assert.deepEqual(out, { traceparent: tp, tracestate: 'congo=t61rcWkgMzE' });
  assert.deepEqual(extractW3C(out), ctx);
  assert.equal(extractW3C({ traceparent: `00-${T}-${S}-00` })?.sampled, false);
  assert.equal(extractW3C({ traceparent: `00-${'0'.repeat(32)}-${S}-01` }), undefined);
  assert.equal(extractW3C({ traceparent: `00-${T}-${'0'.repeat(16)}-01` }), undefined);
  assert.equal(extractW3C({ traceparent: `ff-${T}-${S}-01` }), undefined);
  assert.equal(extractW3C({ traceparent: `00-${T}-${S}-01-extra` }), undefined);
  assert.equal(extractW3C({ traceparent: `01-${T}-${S}-01-future` })?.traceId, T);
  // B3 is preferred when both are present
  assert.equal(extractContext({ traceparent: tp, 'x-b3-traceid': P + P, 'x-b3-spanid': P })?.format, 'b3');
});

test('ids: 128-bit trace ids and 64-bit span ids, hex, distinct', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const t = newTraceId();
    const s = newSpanId();
    assert.match(t, /^[0-9a-f]{32}$/);
    assert.match(s, /^[0-9a-f]{16}$/);
    seen.add(t);
  }
  assert.equal(seen.size, 2000);
});

function collect(): { spans: FinishedSpan[]; sink: { export(s: FinishedSpan): void } } {
  const spans: FinishedSpan[] = [];
  return { spans, sink: { export: (s) => spans.push(s) } };
}

test('client span on the outbound side: child of the app context, injected upstream', () => {
  const { spans, sink } = collect();
  const tr = new Tracer(PRODUCTPAGE, [sink], { samplingPercent: 0 });
  const ctx = tr.start({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1', 'x-request-id': 'rid-1' }, 'outbound');
  assert.equal(ctx.kind, 'CLIENT');
  assert.equal(ctx.traceId, T);
  assert.equal(ctx.parentSpanId, S);
  assert.notEqual(ctx.spanId, S);
  assert.equal(ctx.sampled, true);
  assert.equal(ctx.headers['x-request-id'], undefined, 'existing x-request-id kept');
  assert.equal(ctx.headers['x-b3-spanid'], ctx.spanId);
  assert.equal(ctx.headers['x-b3-parentspanid'], S);
  assert.equal(ctx.headers.traceparent, `00-${T}-${ctx.spanId}-01`);
  const info = httpInfo({ direction: 'outbound', responseCode: 503, requestHeaders: { 'user-agent': 'curl/8.0', 'x-request-id': 'rid-1' } });
  info.responseFlags.add('UO');
  const span = tr.finish(info, ctx)!;
  assert.equal(spans.length, 1);
  assert.equal(span.name, 'reviews:9080/*');
  assert.equal(span.kind, 'CLIENT');
  assert.equal(span.serviceName, 'productpage.default');
  assert.equal(span.startUs, info.startTime * 1000);
  assert.equal(span.durationUs, 12400);
  assert.deepEqual(span.tags, {
    'istio.canonical_service': 'productpage',
    'istio.canonical_revision': 'v1',
    'istio.namespace': 'default',
    'istio.mesh_id': 'cluster.local',
    node_id: 'sidecar~127.0.1.1~productpage-v1.default~default.svc.cluster.local',
    component: 'proxy',
    'http.url': 'http://reviews:9080/reviews/0',
    'http.method': 'GET',
    'http.protocol': 'HTTP/1.1',
    'http.status_code': '503',
    upstream_cluster: 'outbound|9080||reviews.default.svc.cluster.local',
    'upstream_cluster.name': 'outbound|9080||reviews.default.svc.cluster.local',
    response_flags: 'UO',
    response_size: '358',
    request_size: '0',
    'guid:x-request-id': 'rid-1',
    user_agent: 'curl/8.0',
    downstream_cluster: '-',
    'peer.address': '127.0.1.1',
    error: 'true',
  });
  info.operationName = 'reviews.default.svc.cluster.local:9080/reviews*';
  assert.equal(tr.toSpan(info, ctx).name, 'reviews.default.svc.cluster.local:9080/reviews*');
});

test('server span on the inbound side: child by default, shared span id with sharedSpanContext', () => {
  const incoming = { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-parentspanid': P, 'x-b3-sampled': '1' };
  const child = new Tracer(REVIEWS, [], {}).start(incoming, 'inbound');
  assert.equal(child.kind, 'SERVER');
  assert.equal(child.parentSpanId, S);
  assert.notEqual(child.spanId, S);
  assert.equal(child.shared, false);
  const shared = new Tracer(REVIEWS, [], { sharedSpanContext: true }).start(incoming, 'inbound');
  assert.equal(shared.spanId, S);
  assert.equal(shared.parentSpanId, P);
  assert.equal(shared.shared, true);
  // the app sees the same context the server span has
  assert.equal(shared.headers['x-b3-spanid'], S);
});

test('x-request-id is generated as a UUID v4 when absent; b3 single input keeps b3 single output', () => {
  const ctx = new Tracer(REVIEWS, [], {}).start({ b3: `${T}-${S}-0` }, 'inbound');
  assert.match(ctx.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(ctx.requestId, ctx.headers['x-request-id']);
  assert.equal(ctx.sampled, false, 'decision from b3 propagates');
  assert.equal(ctx.headers.b3, `${T}-${ctx.spanId}-0-${S}`);
  assert.equal(ctx.headers['x-b3-sampled'], '0');
  assert.equal(ctx.headers.traceparent, `00-${T}-${ctx.spanId}-00`);
});

test('sampling: forced by headers, kept from upstream decisions, otherwise ~samplingPercent', () => {
  const never = new Tracer(REVIEWS, [], { samplingPercent: 0, random: seeded(1) });
  assert.equal(never.start({ 'x-envoy-force-trace': '1' }, 'inbound').sampled, true);
  assert.equal(never.start({ 'x-client-trace-id': 'abc' }, 'inbound').sampled, true);
  assert.equal(never.start({ 'x-b3-sampled': '1' }, 'inbound').sampled, true);
  assert.equal(never.start({ b3: '1' }, 'inbound').sampled, true);
  assert.equal(never.start({ traceparent: `00-${T}-${S}-01` }, 'inbound').sampled, true);
  assert.equal(never.start({ 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '1' }, 'inbound').sampled, true);
  assert.equal(never.start({}, 'inbound').sampled, false);
  const always = new Tracer(REVIEWS, [], { samplingPercent: 100, random: seeded(2) });
  assert.equal(always.start({}, 'inbound').sampled, true);
  assert.equal(always.start({ 'x-b3-sampled': '0' }, 'inbound').sampled, false, 'upstream "no" is kept');
  assert.equal(always.start({ traceparent: `00-${T}-${S}-00` }, 'inbound').sampled, false);
  const client = never.start({ 'x-client-trace-id': 'abc' }, 'inbound');
  const span = never.toSpan(httpInfo({ direction: 'inbound' }), client);
  assert.equal(span.tags['guid:x-client-trace-id'], 'abc');

  // statistical: 10 % of 20000 unforced requests, seeded source; 5 sigma is ~ +-212
  const tenPct = new Tracer(REVIEWS, [], { samplingPercent: 10, random: seeded(42) });
  let n = 0;
  for (let i = 0; i < 20000; i++) if (tenPct.start({ 'x-request-id': 'r' }, 'outbound').sampled) n++;
  assert.ok(n > 2000 - 212 && n < 2000 + 212, `sampled ${n} of 20000 at 10 %`);
  // the default is 1 %
  const dflt = new Tracer(REVIEWS, [], { random: seeded(7) });
  let d = 0;
  for (let i = 0; i < 20000; i++) if (dflt.start({ 'x-request-id': 'r' }, 'outbound').sampled) d++;
  assert.ok(d > 200 - 71 && d < 200 + 71, `sampled ${d} of 20000 at 1 %`);
});

test('unsampled requests export nothing', () => {
  const { spans, sink } = collect();
  const tr = new Tracer(REVIEWS, [sink], { samplingPercent: 0 });
  const ctx = tr.start({}, 'inbound');
  assert.equal(tr.finish(httpInfo({ direction: 'inbound' }), ctx), undefined);
  assert.equal(spans.length, 0);
});

test('custom tags from xDS (literal, environment, request header) and max_path_tag_length', async () => {
  const { telemetryConfigFromXds } = await import('../../../src/proxy/telemetry/telemetry-config.js');
  process.env.CLEW_TEST_POD_ZONE = 'zone-a';
  const cfg = telemetryConfigFromXds({
    tracing: {
      max_path_tag_length: { value: 24 },
      custom_tags: [
        { tag: 'team', literal: { value: 'bookinfo' } },
        { tag: 'zone', environment: { name: 'CLEW_TEST_POD_ZONE' } },
        { tag: 'missing_env', environment: { name: 'CLEW_TEST_NOT_SET', default_value: 'none' } },
        { tag: 'user', request_header: { name: 'End-User', default_value: 'anonymous' } },
        { tag: 'bad' },
      ],
      provider: { typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig', collector_cluster: 'z' } },
    },
  }).tracing!;
  assert.equal(cfg.customTags?.length, 4);
  const spans: FinishedSpan[] = [];
  const tracer = new Tracer(PRODUCTPAGE, [{ export: (s) => spans.push(s) }], { samplingPercent: 100, customTags: cfg.customTags, maxPathTagLength: cfg.maxPathTagLength });
  const withUser = httpInfo({ direction: 'outbound', requestHeaders: { 'end-user': 'jason' }, path: '/reviews/0?very=long&query=string' });
  tracer.finish(withUser, tracer.start(withUser.requestHeaders!, 'outbound'));
  const anon = httpInfo({ direction: 'outbound', requestHeaders: {} });
  tracer.finish(anon, tracer.start(anon.requestHeaders!, 'outbound'));
  assert.equal(spans[0].tags.team, 'bookinfo');
  assert.equal(spans[0].tags.zone, 'zone-a');
  assert.equal(spans[0].tags.missing_env, 'none');
  assert.equal(spans[0].tags.user, 'jason');
  assert.equal(spans[1].tags.user, 'anonymous');
  assert.equal(spans[0].tags['http.url'], 'http://reviews:9080/revi', 'cut to max_path_tag_length (24)');
});
