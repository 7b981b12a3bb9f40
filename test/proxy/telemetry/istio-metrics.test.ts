import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsStore } from '../../../src/stats/stats-store.js';
import { prometheusText } from '../../../src/stats/stats-prometheus.js';
import { IstioMetrics, destinationServiceOf } from '../../../src/proxy/telemetry/istio-metrics.js';
import { HTTP_LABEL_NAMES, TCP_LABEL_NAMES } from '../../../src/proxy/telemetry/istio-metrics-labels.js';
import { encodePeerMetadata, PeerMetadataDecoder } from '../../../src/proxy/telemetry/peer-metadata.js';
import { PRODUCTPAGE, REVIEWS, httpInfo, parseProm, type Sample } from './telemetry-fixtures.js';

const decoder = new PeerMetadataDecoder();
const productpagePeer = decoder.decode(encodePeerMetadata(PRODUCTPAGE)['x-envoy-peer-metadata'])!;
const reviewsPeer = decoder.decode(encodePeerMetadata(REVIEWS)['x-envoy-peer-metadata'])!;

function samples(store: StatsStore, name: string): Sample[] {
  return parseProm(prometheusText(store)).samples.filter((s) => s.name === name);
}

test('source side (client sidecar of productpage): every istio_requests_total label', () => {
  const store = new StatsStore();
  const m = new IstioMetrics(store, PRODUCTPAGE);
  m.recordRequest(httpInfo({ direction: 'outbound', peer: reviewsPeer, connectionSecurityPolicy: 'mutual_tls' }));
  const [s] = samples(store, 'istio_requests_total');
  assert.deepEqual(Object.keys(s.labels), [...HTTP_LABEL_NAMES]);
  assert.deepEqual(s.labels, {
    reporter: 'source',
    source_workload: 'productpage-v1',
    source_canonical_service: 'productpage',
    source_canonical_revision: 'v1',
    source_workload_namespace: 'default',
    source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage',
    source_app: 'productpage',
    source_version: 'v1',
    source_cluster: 'Kubernetes',
    destination_workload: 'reviews-v2',
    destination_workload_namespace: 'default',
    destination_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews',
    destination_app: 'reviews',
    destination_version: 'v2',
    destination_service: 'reviews.default.svc.cluster.local',
    destination_canonical_service: 'reviews',
    destination_canonical_revision: 'v2',
    destination_service_name: 'reviews',
    destination_service_namespace: 'default',
    destination_cluster: 'Kubernetes',
    request_protocol: 'http',
    response_code: '200',
    grpc_response_status: '',
    response_flags: '-',
    // the client cannot know what the server enforced
    connection_security_policy: 'unknown',
  });
  assert.equal(s.value, 1);
});

test('destination side (server sidecar of reviews), plain text: principals unknown, policy none', () => {
  const store = new StatsStore();
  const m = new IstioMetrics(store, REVIEWS);
  const info = httpInfo({
    direction: 'inbound',
    peer: productpagePeer,
    upstreamCluster: 'inbound|9080||',
    authority: 'reviews:9080',
    destinationService: 'reviews.default.svc.cluster.local',
    connectionSecurityPolicy: 'none',
    responseCode: 503,
  });
  info.responseFlags.add('UO');
  m.recordRequest(info);
  const [s] = samples(store, 'istio_requests_total');
  assert.deepEqual(Object.keys(s.labels), [...HTTP_LABEL_NAMES]);
  assert.equal(s.labels.reporter, 'destination');
  assert.equal(s.labels.source_workload, 'productpage-v1');
  assert.equal(s.labels.source_app, 'productpage');
  assert.equal(s.labels.source_principal, 'unknown');
  assert.equal(s.labels.destination_workload, 'reviews-v2');
  assert.equal(s.labels.destination_principal, 'unknown');
  assert.equal(s.labels.destination_canonical_revision, 'v2');
  assert.equal(s.labels.destination_service, 'reviews.default.svc.cluster.local');
  assert.equal(s.labels.response_code, '503');
  assert.equal(s.labels.response_flags, 'UO');
  assert.equal(s.labels.connection_security_policy, 'none');
});

test('destination side with mTLS and no peer metadata: unknown peer, mutual_tls policy', () => {
  const store = new StatsStore();
  const m = new IstioMetrics(store, REVIEWS);
  m.recordRequest(httpInfo({ direction: 'inbound', upstreamCluster: 'inbound|9080||', authority: 'reviews.default.svc.cluster.local:9080', connectionSecurityPolicy: 'mutual_tls' }));
  const [s] = samples(store, 'istio_requests_total');
  for (const k of ['source_workload', 'source_workload_namespace', 'source_principal', 'source_app', 'source_version', 'source_canonical_service', 'source_canonical_revision', 'source_cluster']) {
    assert.equal(s.labels[k], 'unknown', k);
  }
  assert.equal(s.labels.destination_principal, 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
  assert.equal(s.labels.destination_service, 'reviews.default.svc.cluster.local', 'from :authority without port');
  assert.equal(s.labels.connection_security_policy, 'mutual_tls');
});

test('canonical service/revision: labels win, then app/version, then workload name / latest', () => {
  const store = new StatsStore();
  const id = { ...REVIEWS, name: 'ratings-x', labels: { 'service.istio.io/canonical-name': 'ratings-canon', 'service.istio.io/canonical-revision': 'r7', app: 'ratings' } };
  const bare = { ...REVIEWS, name: 'bare-wl', labels: {} };
  const pBare = decoder.decode(encodePeerMetadata(bare)['x-envoy-peer-metadata'])!;
  new IstioMetrics(store, id).recordRequest(httpInfo({ direction: 'outbound', peer: pBare }));
  const [s] = samples(store, 'istio_requests_total');
  assert.equal(s.labels.source_canonical_service, 'ratings-canon');
  assert.equal(s.labels.source_canonical_revision, 'r7');
  assert.equal(s.labels.source_version, 'unknown');
  assert.equal(s.labels.destination_canonical_service, 'bare-wl');
  assert.equal(s.labels.destination_canonical_revision, 'latest');
  assert.equal(s.labels.destination_app, 'unknown');
});

test('histograms: Istio buckets exactly, values recorded in ms and bytes', () => {
  const store = new StatsStore();
  const m = new IstioMetrics(store, PRODUCTPAGE);
  m.recordRequest(httpInfo({ direction: 'outbound', peer: reviewsPeer, durationMs: 7, bytesReceived: 20, bytesSent: 2000 }));
  const expected = ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000', '600000', '1800000', '3600000', '+Inf'];
  for (const name of ['istio_request_duration_milliseconds', 'istio_request_bytes', 'istio_response_bytes']) {
    const b = samples(store, `${name}_bucket`);
    assert.deepEqual(b.map((x) => x.labels.le), expected, name);
  }
  const le = (name: string, bound: string) => samples(store, `${name}_bucket`).find((x) => x.labels.le === bound)!.value;
  assert.equal(le('istio_request_duration_milliseconds', '5'), 0);
  assert.equal(le('istio_request_duration_milliseconds', '10'), 1);
  assert.equal(le('istio_request_bytes', '10'), 0);
  assert.equal(le('istio_request_bytes', '25'), 1);
  assert.equal(le('istio_response_bytes', '1000'), 0);
  assert.equal(le('istio_response_bytes', '2500'), 1);
  assert.equal(samples(store, 'istio_request_duration_milliseconds_sum')[0].value, 7);
});

test('label sets are cached: repeated requests reuse one series and create no new ones', () => {
  const store = new StatsStore();
  const m = new IstioMetrics(store, PRODUCTPAGE);
  const make = (code: number) => httpInfo({ direction: 'outbound', peer: reviewsPeer, responseCode: code });
  m.recordRequest(make(200));
  const count = [...store.all()].length;
  // after the first request, the hot path must not resolve series (no label formatting) again
  let resolutions = 0;
  const origCounter = store.counter.bind(store);
  const origHist = store.histogram.bind(store);
  store.counter = (...a: Parameters<StatsStore['counter']>) => (resolutions++, origCounter(...a));
  store.histogram = (...a: Parameters<StatsStore['histogram']>) => (resolutions++, origHist(...a));
  for (let i = 0; i < 1000; i++) m.recordRequest(make(200));
  assert.equal(resolutions, 0);
  assert.equal([...store.all()].length, count);
  m.recordRequest(make(503));
  assert.equal([...store.all()].length, count + 4, 'one more counter + three histograms');
  const byCode = Object.fromEntries(samples(store, 'istio_requests_total').map((s) => [s.labels.response_code, s.value]));
  assert.deepEqual(byCode, { '200': 1001, '503': 1 });
});

test('gRPC: request_protocol grpc, status label, message counters', () => {
  const store = new StatsStore();
  const m = new IstioMetrics(store, PRODUCTPAGE);
  const info = httpInfo({ direction: 'outbound', peer: reviewsPeer, protocol: 'HTTP/2', requestHeaders: { 'content-type': 'application/grpc+proto' }, grpcStatus: 14, grpcRequestMessages: 2, grpcResponseMessages: 5 });
  m.recordRequest(info);
  const [s] = samples(store, 'istio_requests_total');
  assert.equal(s.labels.request_protocol, 'grpc');
  assert.equal(s.labels.grpc_response_status, '14');
  assert.equal(samples(store, 'istio_request_messages_total')[0].value, 2);
  assert.equal(samples(store, 'istio_response_messages_total')[0].value, 5);
});

test('TCP: opened/closed counters and byte deltas, TCP label set', () => {
  const store = new StatsStore();
  const m = new IstioMetrics(store, PRODUCTPAGE);
  const info = httpInfo({ direction: 'outbound', protocol: 'TCP', peer: reviewsPeer, upstreamCluster: 'outbound|3306||mysql.db.svc.cluster.local', bytesReceived: 0, bytesSent: 0 });
  m.tcpOpened(info);
  info.bytesReceived = 100;
  info.bytesSent = 40;
  m.tcpProgress(info);
  info.bytesReceived = 150;
  info.bytesSent = 1040;
  m.tcpClosed(info);
  m.tcpClosed(info); // idempotent
  const one = (n: string) => samples(store, n);
  assert.equal(one('istio_tcp_connections_opened_total')[0].value, 1);
  assert.equal(one('istio_tcp_connections_closed_total')[0].value, 1);
  assert.equal(one('istio_tcp_received_bytes_total')[0].value, 150);
  assert.equal(one('istio_tcp_sent_bytes_total')[0].value, 1040);
  const labels = one('istio_tcp_connections_opened_total')[0].labels;
  assert.deepEqual(Object.keys(labels), TCP_LABEL_NAMES);
  assert.equal(labels.request_protocol, 'tcp');
  assert.equal(labels.destination_service, 'mysql.db.svc.cluster.local');
  assert.equal(labels.destination_service_name, 'mysql');
  assert.equal(labels.destination_service_namespace, 'db');
});

test('tag overrides remove and upsert labels per metric', () => {
  const store = new StatsStore();
  const m = new IstioMetrics(store, PRODUCTPAGE, {
    tagOverrides: { istio_requests_total: { request_protocol: { operation: 'REMOVE' }, team: { value: 'books' } }, '*': { source_cluster: { value: 'east' } } },
  });
  m.recordRequest(httpInfo({ direction: 'outbound', peer: reviewsPeer }));
  const [s] = samples(store, 'istio_requests_total');
  assert.equal(s.labels.request_protocol, undefined);
  assert.equal(s.labels.team, 'books');
  assert.equal(s.labels.source_cluster, 'east');
  const d = samples(store, 'istio_request_duration_milliseconds_count')[0];
  assert.equal(d.labels.request_protocol, 'http');
  assert.equal(d.labels.source_cluster, 'east');
});

test('destination service: explicit, then outbound cluster FQDN, Istio\'s special clusters by name, then :authority', () => {
  assert.equal(destinationServiceOf(httpInfo({ direction: 'outbound', destinationService: 'x.y.svc.cluster.local' })), 'x.y.svc.cluster.local');
  assert.equal(destinationServiceOf(httpInfo({ direction: 'outbound' })), 'reviews.default.svc.cluster.local');
  // passthrough traffic is labelled by its cluster, never by the client-chosen Host
  assert.equal(destinationServiceOf(httpInfo({ direction: 'outbound', upstreamCluster: 'PassthroughCluster', authority: 'example.com:8080' })), 'PassthroughCluster');
  assert.equal(destinationServiceOf(httpInfo({ direction: 'outbound', upstreamCluster: 'BlackHoleCluster', authority: 'example.com:8080' })), 'BlackHoleCluster');
  assert.equal(destinationServiceOf(httpInfo({ direction: 'outbound', upstreamCluster: undefined, authority: 'example.com:8080' })), 'example.com');
  assert.equal(destinationServiceOf(httpInfo({ direction: 'inbound', upstreamCluster: 'inbound|9080||', authority: undefined, requestHeaders: {} })), '');
});
