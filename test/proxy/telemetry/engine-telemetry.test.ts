/**
 * Telemetry wired into the engine: two real sidecars (productpage-v1 calling reviews-v2) with
 * the contract's xDS: metadata exchange, Istio metrics from both reporters, access logs, trace
 * headers, TCP metrics, and telemetry off where the xDS has none of it.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { httpRequest, waitFor, type Harness } from '../helpers/harness.js';
import { closedPort, startEcho, startTcpEcho, type EchoServer } from '../helpers/upstreams.js';
import { parseProm, startReceiver, type Receiver, type Sample } from './telemetry-fixtures.js';
import { collectorCluster, fileAccessLog, portOf, startSidecar, zipkinTracing } from './telemetry-mesh.js';

const REVIEWS_FQDN = 'reviews.default.svc.cluster.local';
const ZIPKIN = 'zipkin.istio-system.svc.cluster.local';
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let app: EchoServer;
let tcpApp: { port: number; close(): Promise<void> };
let zipkin: Receiver;
let a: Harness;
let b: Harness;
let bTcp: Harness;
let dir: string;
let aPort: number;
let aPlain: number;
let aBroken: number;
let aTcp: number;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-engine-telemetry-'));
  app = await startEcho('reviews-v2');
  tcpApp = await startTcpEcho('echo:');
  zipkin = await startReceiver();
  const collector = collectorCluster(ZIPKIN, 9411, Number(new URL(zipkin.url).port));
  b = await startSidecar({
    id: 'reviews-v2.default',
    labels: { app: 'reviews', version: 'v2' },
    inboundService: REVIEWS_FQDN,
    clusters: [collector],
    inbound: {
      port: 9080,
      appPort: app.port,
      telemetry: {
        stats: { disable_host_header_fallback: true },
        tracing: zipkinTracing(collector.name, 0),
        accessLog: [fileAccessLog(path.join(dir, 'b.log'), { json: { code: '%RESPONSE_CODE%', id: '%REQ(X-REQUEST-ID)%', flags: '%RESPONSE_FLAGS%' } })],
      },
    },
  });
  bTcp = await startSidecar({ id: 'mysql-v1.default', labels: { app: 'mysql', version: 'v1' }, inbound: { port: 3306, appPort: tcpApp.port, tcp: true, telemetry: { stats: true } } });
  const bInbound = portOf(b, '127.0.0.1_9080');
  a = await startSidecar({
    id: 'productpage-v1.default',
    labels: { app: 'productpage', version: 'v1' },
    clusters: [collector],
    outbound: [
      {
        name: 'reviews_9080',
        host: REVIEWS_FQDN,
        port: 9080,
        target: bInbound,
        telemetry: {
          stats: true,
          tracing: zipkinTracing(collector.name, 0),
          accessLog: [fileAccessLog(path.join(dir, 'a.log'), { text: '%RESPONSE_CODE% %RESPONSE_FLAGS% "%REQ(X-REQUEST-ID)%" %UPSTREAM_CLUSTER% %RESPONSE_CODE_DETAILS%\n' })],
        },
      },
      // the same service through a listener whose xDS carries no telemetry
      { name: 'reviews_plain', host: 'reviews-plain.default.svc.cluster.local', port: 9080, target: bInbound },
      { name: 'ratings_9080', host: 'ratings.default.svc.cluster.local', port: 9080, target: await closedPort(), telemetry: { stats: true } },
      { name: 'mysql_3306', host: 'mysql.default.svc.cluster.local', port: 3306, target: portOf(bTcp, '127.0.0.1_3306'), tcp: true, telemetry: { stats: { tcp_reporting_duration: '0.05s' } } },
    ],
  });
  aPort = portOf(a, 'reviews_9080');
  aPlain = portOf(a, 'reviews_plain');
  aBroken = portOf(a, 'ratings_9080');
  aTcp = portOf(a, 'mysql_3306');
});

after(async () => {
  await a?.close();
  await b?.close();
  await bTcp?.close();
  await app?.close();
  await tcpApp?.close();
  await zipkin?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function prom(h: Harness): Promise<Sample[]> {
  const r = await httpRequest({ port: h.proxy.ports.stats, path: '/stats/prometheus' });
  return parseProm(r.body).samples;
}

function find(samples: Sample[], name: string, labels: Record<string, string>): Sample | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

test('metadata exchange: both sides learn the peer, neither app sees the headers; Istio metrics from both reporters', async () => {
  const before = app.requests.length;
  const r1 = await httpRequest({ port: aPort, path: '/reviews/0', host: 'reviews:9080' });
  const r2 = await httpRequest({ port: aPort, path: '/status/503', host: 'reviews:9080' });
  assert.equal(r1.status, 200);
  assert.equal(r2.status, 503);
  assert.equal(r1.headers['x-envoy-peer-metadata'], undefined, 'stripped before the calling app');
  assert.equal(r1.headers['x-envoy-peer-metadata-id'], undefined);
  const seen = app.requests.slice(before);
  assert.equal(seen.length, 2);
  for (const req of seen) {
    assert.equal(req.headers['x-envoy-peer-metadata'], undefined, 'stripped before the called app');
    assert.equal(req.headers['x-envoy-peer-metadata-id'], undefined);
    assert.match(String(req.headers['x-request-id']), UUID4);
  }

  const src = { reporter: 'source', source_workload: 'productpage-v1', destination_workload: 'reviews-v2' };
  await waitFor(async () => find(await prom(a), 'istio_requests_total', { ...src, response_code: '503' }) !== undefined, 3000, 'source metrics');
  const aSamples = await prom(a);
  const ok = find(aSamples, 'istio_requests_total', { ...src, response_code: '200' });
  assert.equal(ok?.value, 1);
  assert.deepEqual(
    { ...ok!.labels },
    {
      reporter: 'source',
      source_workload: 'productpage-v1',
      source_canonical_service: 'productpage',
      source_canonical_revision: 'v1',
      source_workload_namespace: 'default',
      source_principal: 'unknown',
      source_app: 'productpage',
      source_version: 'v1',
      source_cluster: 'Kubernetes',
      destination_workload: 'reviews-v2',
      destination_workload_namespace: 'default',
      destination_principal: 'unknown',
      destination_app: 'reviews',
      destination_version: 'v2',
      destination_service: REVIEWS_FQDN,
      destination_canonical_service: 'reviews',
      destination_canonical_revision: 'v2',
      destination_service_name: 'reviews',
      destination_service_namespace: 'default',
      destination_cluster: 'Kubernetes',
      request_protocol: 'http',
      response_code: '200',
      grpc_response_status: '',
      response_flags: '-',
      connection_security_policy: 'unknown',
    },
  );
  // Istio's duration buckets on the same series
  const buckets = aSamples.filter((s) => s.name === 'istio_request_duration_milliseconds_bucket' && s.labels.response_code === '200' && s.labels.reporter === 'source').map((s) => s.labels.le);
  assert.deepEqual(buckets, ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000', '600000', '1800000', '3600000', '+Inf']);

  const dst = { reporter: 'destination', source_workload: 'productpage-v1', destination_workload: 'reviews-v2' };
  await waitFor(async () => find(await prom(b), 'istio_requests_total', { ...dst, response_code: '503' }) !== undefined, 3000, 'destination metrics');
  const bSamples = await prom(b);
  const bOk = find(bSamples, 'istio_requests_total', { ...dst, response_code: '200' })!;
  assert.equal(bOk.value, 1);
  assert.equal(bOk.labels.source_app, 'productpage');
  assert.equal(bOk.labels.source_version, 'v1');
  assert.equal(bOk.labels.destination_service, REVIEWS_FQDN, 'from the inbound cluster metadata (no Host fallback)');
  assert.equal(bOk.labels.connection_security_policy, 'none');
  // Envoy-style stats beside them
  assert.ok(find(bSamples, 'envoy_cluster_upstream_rq_total', { cluster_name: 'inbound|9080||' }));
  const text = (await httpRequest({ port: a.proxy.ports.admin, path: '/stats' })).body;
  assert.match(text, /^http\.reviews_9080\.downstream_rq_total: 2$/m);
  assert.match(text, /^http\.reviews_9080\.downstream_rq_5xx: 1$/m);
});

test('response flags reach the metrics and the access log; x-request-id is logged on both sides', async () => {
  const r = await httpRequest({ port: aBroken, path: '/', host: 'ratings:9080' });
  assert.equal(r.status, 503);
  await waitFor(async () => find(await prom(a), 'istio_requests_total', { response_flags: 'UF', destination_service: 'ratings.default.svc.cluster.local' }) !== undefined, 3000, 'UF series');
  const uf = find(await prom(a), 'istio_requests_total', { response_flags: 'UF' })!;
  assert.equal(uf.labels.response_code, '503');
  assert.equal(uf.labels.destination_workload, 'unknown', 'no peer answered');

  const rid = 'f0e5b7d4-3e65-4d1c-9a1b-3f4e5d6c7b8a';
  await httpRequest({ port: aPort, path: '/logged', host: 'reviews:9080', headers: { 'x-request-id': rid } });
  await waitFor(() => fs.existsSync(path.join(dir, 'a.log')) && fs.readFileSync(path.join(dir, 'a.log'), 'utf8').includes(rid), 3000, 'client log line');
  const aLine = fs.readFileSync(path.join(dir, 'a.log'), 'utf8').split('\n').find((l) => l.includes(rid))!;
  assert.equal(aLine, `200 - "${rid}" outbound|9080||${REVIEWS_FQDN} via_upstream`);
  await waitFor(() => fs.existsSync(path.join(dir, 'b.log')) && fs.readFileSync(path.join(dir, 'b.log'), 'utf8').includes(rid), 3000, 'server log line');
  const bLine = fs.readFileSync(path.join(dir, 'b.log'), 'utf8').split('\n').find((l) => l.includes(rid))!;
  assert.deepEqual(JSON.parse(bLine), { code: 200, id: rid, flags: '-' });
});

test('trace headers: B3 and W3C go upstream; an incoming trace is continued; x-client-trace-id forces a span', async () => {
  const before = app.requests.length;
  await httpRequest({ port: aPort, path: '/t1', host: 'reviews:9080' });
  const fresh = app.requests[before].headers;
  assert.match(String(fresh['x-b3-traceid']), /^[0-9a-f]{32}$/);
  assert.equal(fresh['x-b3-sampled'], '0', 'default 0 % here: not sampled, decision propagated');
  assert.match(String(fresh.traceparent), new RegExp(`^00-${fresh['x-b3-traceid']}-${fresh['x-b3-spanid']}-00$`));
  assert.notEqual(fresh['x-b3-parentspanid'], undefined, 'the server span is a child of the client span');

  // W3C in, B3 single in: same trace id downstream, sampled flag honoured
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  await httpRequest({ port: aPort, path: '/t2', host: 'reviews:9080', headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
  const w3c = app.requests[before + 1].headers;
  assert.equal(w3c['x-b3-traceid'], traceId);
  assert.equal(w3c['x-b3-sampled'], '1');
  await httpRequest({ port: aPort, path: '/t3', host: 'reviews:9080', headers: { b3: `${traceId}-00f067aa0ba902b7-1` } });
  const single = app.requests[before + 2].headers;
  assert.equal(single['x-b3-traceid'], traceId);
  assert.match(String(single.b3), new RegExp(`^${traceId}-[0-9a-f]{16}-1-[0-9a-f]{16}$`), 'B3 single kept when it came in');

  // sampled requests: client span at A, server span at B, same trace; spans reach Zipkin
  const clientTraceId = 'ct-42';
  await httpRequest({ port: aPort, path: '/t4', host: 'reviews:9080', headers: { 'x-client-trace-id': clientTraceId } });
  await waitFor(() => zipkin.bodies.flat().filter((s: any) => s.tags?.['guid:x-client-trace-id'] === clientTraceId || s.tags?.['http.url']?.endsWith('/t4')).length >= 2, 4000, 'spans of /t4');
  const spans = (zipkin.bodies.flat() as any[]).filter((s) => s.tags['http.url'].endsWith('/t4'));
  const client = spans.find((s) => s.kind === 'CLIENT');
  const server = spans.find((s) => s.kind === 'SERVER');
  assert.equal(client.tags['guid:x-client-trace-id'], clientTraceId);
  assert.equal(server.traceId, client.traceId);
  assert.equal(server.parentId, client.id);
  assert.equal(client.name, `${REVIEWS_FQDN}:9080/*`, 'the route decorator names the span');
  // x-envoy-force-trace samples too (this listener samples 0 %)
  await httpRequest({ port: aPort, path: '/t5', host: 'reviews:9080', headers: { 'x-envoy-force-trace': 'true' } });
  await waitFor(() => (zipkin.bodies.flat() as any[]).filter((s) => s.tags['http.url'].endsWith('/t5')).length === 2, 3000, 'forced spans');
  // the unsampled request exported nothing; /t2 and /t3 (sampled upstream) a client and a server span each
  await waitFor(() => (zipkin.bodies.flat() as any[]).filter((s) => /\/t[23]$/.test(s.tags['http.url'])).length === 4, 3000, 'spans of /t2 /t3');
  assert.equal((zipkin.bodies.flat() as any[]).filter((s) => s.tags['http.url'].endsWith('/t1')).length, 0);
});

test('telemetry is off where the xDS has none: no Istio metrics, no spans, but the exchange still hides the headers', async () => {
  const before = app.requests.length;
  const dstOk = { reporter: 'destination', source_workload: 'productpage-v1', response_code: '200' };
  const countBefore = find(await prom(b), 'istio_requests_total', dstOk)?.value ?? 0;
  const r = await httpRequest({ port: aPlain, path: '/plain', host: 'reviews-plain:9080', headers: { 'x-b3-sampled': '1' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-envoy-peer-metadata'], undefined);
  const seen = app.requests[before].headers;
  assert.equal(seen['x-envoy-peer-metadata'], undefined);
  // the server side (with stats) still records it, and knows who called through the exchange
  await waitFor(async () => find(await prom(b), 'istio_requests_total', dstOk)?.value === countBefore + 1, 3000, 'server count');
  const samples = await prom(a);
  assert.equal(samples.filter((s) => s.name === 'istio_requests_total' && s.labels.destination_service === 'reviews-plain.default.svc.cluster.local').length, 0);
  // the server (tracing on, forced by x-b3-sampled: 1) reports its span; the client has no tracer
  await waitFor(() => (zipkin.bodies.flat() as any[]).some((s) => s.kind === 'SERVER' && s.tags['http.url'].endsWith('/plain')), 3000, 'server span');
  assert.equal((zipkin.bodies.flat() as any[]).filter((s) => s.kind === 'CLIENT' && s.tags['http.url'].endsWith('/plain')).length, 0);
});

test('TCP: Istio TCP metrics on both sides of a tcp_proxy chain with istio.stats, bytes while open', async () => {
  const sock = net.connect(aTcp, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write('hello');
  await new Promise<void>((r) => sock.once('data', () => r()));
  const tcpSrc = { reporter: 'source', request_protocol: 'tcp', destination_service: 'mysql.default.svc.cluster.local' };
  await waitFor(async () => find(await prom(a), 'istio_tcp_connections_opened_total', tcpSrc)?.value === 1, 3000, 'opened');
  // tcp_reporting_duration 50 ms: bytes show up before the connection closes
  await waitFor(async () => (find(await prom(a), 'istio_tcp_received_bytes_total', tcpSrc)?.value ?? 0) === 5, 3000, 'bytes while open');
  assert.equal(find(await prom(a), 'istio_tcp_connections_closed_total', tcpSrc)?.value ?? 0, 0);
  sock.end();
  await waitFor(async () => find(await prom(a), 'istio_tcp_connections_closed_total', tcpSrc)?.value === 1, 3000, 'closed');
  const sent = find(await prom(a), 'istio_tcp_sent_bytes_total', tcpSrc);
  assert.equal(sent?.value, 'echo:hello'.length);
  const ts = (await prom(a)).find((s) => s.name === 'istio_tcp_connections_opened_total')!;
  assert.equal('response_code' in ts.labels, false, 'TCP metrics have no response_code');
  // the server side of the TCP call reports too (no metadata exchange over plain TCP: peer unknown)
  const tcpDst = { reporter: 'destination', request_protocol: 'tcp', destination_workload: 'mysql-v1' };
  await waitFor(async () => find(await prom(bTcp), 'istio_tcp_connections_closed_total', tcpDst)?.value === 1, 3000, 'server closed');
  assert.equal(find(await prom(bTcp), 'istio_tcp_received_bytes_total', tcpDst)?.value, 5);
});
