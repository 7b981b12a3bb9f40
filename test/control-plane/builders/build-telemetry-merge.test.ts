/**
 * Telemetry API semantics (Istio's): root namespace → namespace → workload, the most specific
 * winning; match.mode CLIENT (outbound, gateways) / SERVER (inbound); providers resolved in the
 * mesh config; metric tag overrides and disabling to the istio.stats config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildListeners } from '../../../src/control-plane/builders/index.js';
import { applyMeshConfig, type MeshConfig } from '../../../src/config/mesh-config.js';
import { structToJson } from '../../../src/xds/struct.js';
import { LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import type { ConfigResource } from '../../../src/config/types.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import type { ProxyIdentity } from '../../../src/xds/node-metadata.js';
import { assertRoundTrip, BOOKINFO_SERVICES, byName, kubeService, makePc, proxy, res } from './fixtures.js';

const CONFIG = [...BOOKINFO_SERVICES, kubeService('mongo', [{ name: 'mongo', port: 27017 }]),
  kubeService('zipkin', [{ name: 'http', port: 9411 }], { app: 'zipkin' }, 'istio-system')];
const MESH = applyMeshConfig({
  extensionProviders: [{ name: 'zipkin', zipkin: { service: 'zipkin.istio-system.svc.cluster.local', port: 9411 } }],
});
const PRODUCTPAGE = proxy();
const REVIEWS = proxy({ name: 'reviews-v1', address: '127.0.10.3', labels: { app: 'reviews', version: 'v1' } });
const OTHER_NS = proxy({ name: 'client', namespace: 'other', address: '127.0.10.9', labels: { app: 'client' } });

const tel = (name: string, spec: unknown, namespace = 'istio-system') => res('Telemetry', name, spec, namespace);

interface Views { out: EnvoyResource; in: EnvoyResource; tcp: EnvoyResource[] }

function views(telemetries: ConfigResource[], p: ProxyIdentity = PRODUCTPAGE, mesh: MeshConfig = MESH): Views {
  const ls = buildListeners(makePc([...CONFIG, ...telemetries], [], mesh), p);
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  return {
    out: byName(ls, '0.0.0.0_9080').filter_chains[0].filters[0].typed_config,
    in: byName(ls, `${p.address}_9080`).filter_chains[0].filters[0].typed_config,
    tcp: byName(ls, '0.0.0.0_27017').filter_chains[0].filters,
  };
}

const statsOf = (hcm: EnvoyResource) => {
  const f = hcm.http_filters.find((x: EnvoyResource) => x.name === 'istio.stats');
  return f ? structToJson(f.typed_config.value) : undefined;
};
const logPaths = (hcm: EnvoyResource) => (hcm.access_log ?? []).map((l: EnvoyResource) => l.typed_config.path);

test('access logging: root enables the envoy provider, a namespace disables it, a workload selector re-enables it', () => {
  const root = tel('mesh-default', { accessLogging: [{ providers: [{ name: 'envoy' }] }] });
  const nsOff = tel('ns-off', { accessLogging: [{ disabled: true }] }, 'default');
  const reviewsOn = tel('reviews-on', { selector: { matchLabels: { app: 'reviews' } }, accessLogging: [{ providers: [{ name: 'envoy' }] }] }, 'default');
  const all = [root, nsOff, reviewsOn];
  assert.deepEqual(logPaths(views([root]).out), ['/dev/stdout']);
  assert.deepEqual(logPaths(views(all).out), []);
  assert.deepEqual(logPaths(views(all).in), []);
  assert.equal(views(all).tcp[1].typed_config.access_log, undefined);
  assert.deepEqual(logPaths(views(all, REVIEWS).out), ['/dev/stdout']);
  assert.deepEqual(logPaths(views(all, OTHER_NS).in), ['/dev/stdout']);
});

test('access logging match.mode SERVER logs on inbound listeners only; a Telemetry overrides accessLogFile', () => {
  const server = tel('server-only', { accessLogging: [{ providers: [{ name: 'envoy' }], match: { mode: 'SERVER' } }] });
  const v = views([server]);
  assert.deepEqual(logPaths(v.in), ['/dev/stdout']);
  assert.deepEqual(logPaths(v.out), []);
  const legacy = applyMeshConfig({ accessLogFile: '/tmp/mesh.log' }, MESH);
  assert.deepEqual(logPaths(views([], PRODUCTPAGE, legacy).out), ['/tmp/mesh.log']);
  assert.deepEqual(logPaths(views([tel('off', { accessLogging: [{ disabled: true, providers: [{ name: 'envoy' }] }] })], PRODUCTPAGE, legacy).out), []);
});

test('defaultProviders.accessLogging turns logs on mesh-wide; a custom envoyFileAccessLog provider sets path and format', () => {
  const mesh = applyMeshConfig({
    extensionProviders: [{ name: 'json-file', envoyFileAccessLog: { path: '/tmp/access.json', logFormat: { labels: { code: '%RESPONSE_CODE%' } } } }],
    defaultProviders: { accessLogging: ['json-file'] },
  }, MESH);
  const hcm = views([], PRODUCTPAGE, mesh).out;
  assert.equal(hcm.access_log[0].typed_config.path, '/tmp/access.json');
  assert.deepEqual(structToJson(hcm.access_log[0].typed_config.log_format.json_format), { code: '%RESPONSE_CODE%' });
  const off = tel('reviews-off', { selector: { matchLabels: { app: 'reviews' } }, accessLogging: [{ disabled: true }] }, 'default');
  assert.equal(views([off], REVIEWS, mesh).out.access_log, undefined);
  assert.equal(views([off], PRODUCTPAGE, mesh).out.access_log.length, 1);
});

test('tracing: the most specific sampling wins with the inherited provider; disableSpanReporting per mode', () => {
  const root = tel('mesh-default', { tracing: [{ providers: [{ name: 'zipkin' }], randomSamplingPercentage: 10 }] });
  const reviews = tel('reviews-all', { selector: { matchLabels: { app: 'reviews' } }, tracing: [{ randomSamplingPercentage: 100 }] }, 'default');
  assert.deepEqual(views([root, reviews]).out.tracing.random_sampling, { value: 10 });
  const r = views([root, reviews], REVIEWS);
  assert.deepEqual(r.out.tracing.random_sampling, { value: 100 });
  assert.equal(r.out.tracing.provider.typed_config.collector_cluster, 'outbound|9411||zipkin.istio-system.svc.cluster.local');
  const noClient = tel('ns', { tracing: [{ match: { mode: 'CLIENT' }, disableSpanReporting: true }] }, 'default');
  const v = views([root, noClient]);
  assert.equal(v.out.tracing, undefined);
  assert.deepEqual(v.in.tracing.random_sampling, { value: 10 });
});

test('tracing with an unknown provider, or a Telemetry without a provider and no default, traces nothing', () => {
  assert.equal(views([tel('t', { tracing: [{ providers: [{ name: 'jaeger' }] }] })]).out.tracing, undefined);
  // a Telemetry tracing section replaces the legacy defaultConfig.tracing path altogether
  assert.equal(views([tel('t', { tracing: [{ randomSamplingPercentage: 50 }] })]).out.tracing, undefined);
  assert.notEqual(views([]).out.tracing, undefined);
});

test('metric tag overrides: UPSERT → dimensions, REMOVE → tags_to_remove, per metric; disabled → drop', () => {
  const t = tel('mesh-default', {
    metrics: [{
      providers: [{ name: 'prometheus' }],
      overrides: [
        { match: { metric: 'REQUEST_COUNT' }, tagOverrides: { request_host: { value: 'request.host' }, request_protocol: { operation: 'REMOVE' } } },
        { match: { metric: 'REQUEST_DURATION' }, disabled: true },
      ],
    }],
  });
  const v = views([t]);
  const want = [
    { name: 'request_duration_milliseconds', drop: true },
    { name: 'requests_total', dimensions: { request_host: 'request.host' }, tags_to_remove: ['request_protocol'] },
  ];
  assert.deepEqual(statsOf(v.out), { metrics: want });
  assert.deepEqual(statsOf(v.in), { disable_host_header_fallback: true, metrics: want });
  assert.deepEqual(structToJson(v.tcp[0].typed_config.value), { metrics: want });
});

test('ALL_METRICS overrides collapse into one nameless entry; match.mode CLIENT reaches outbound only; later levels win per tag', () => {
  const root = tel('mesh-default', { metrics: [{ overrides: [{ match: { metric: 'ALL_METRICS', mode: 'CLIENT' }, tagOverrides: { cluster: { value: '"east"' } } }] }] });
  const v = views([root]);
  assert.deepEqual(statsOf(v.out), { metrics: [{ dimensions: { cluster: '"east"' } }] });
  assert.deepEqual(statsOf(v.in), { disable_host_header_fallback: true });
  const ns = tel('ns', { metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT' }, tagOverrides: { cluster: { value: '"west"' } } }] }] }, 'default');
  const both = statsOf(views([root, ns]).out)!.metrics as { name: string; dimensions: Record<string, string> }[];
  assert.equal(both.length, 10);
  assert.deepEqual(both.find((m) => m.name === 'requests_total')!.dimensions, { cluster: '"west"' });
  assert.deepEqual(both.find((m) => m.name === 'tcp_sent_bytes_total')!.dimensions, { cluster: '"east"' });
  assert.deepEqual(statsOf(views([root, ns]).in), { disable_host_header_fallback: true, metrics: [{ name: 'requests_total', dimensions: { cluster: '"west"' } }] });
});

test('metrics off: ALL_METRICS disabled drops istio.stats (HTTP and TCP); a namespace re-enables; a non-prometheus provider list drops it', () => {
  const off = tel('mesh-default', { metrics: [{ overrides: [{ match: { metric: 'ALL_METRICS' }, disabled: true }] }] });
  const v = views([off]);
  assert.equal(statsOf(v.out), undefined);
  assert.equal(statsOf(v.in), undefined);
  assert.deepEqual(v.tcp.map((f) => f.name), ['envoy.filters.network.tcp_proxy']);
  const on = tel('ns', { metrics: [{ overrides: [{ disabled: false }] }] }, 'default');
  assert.notEqual(statsOf(views([off, on]).out), undefined);
  assert.equal(statsOf(views([off, on], OTHER_NS).out), undefined);
  const other = tel('other-provider', { metrics: [{ providers: [{ name: 'stackdriver' }] }] });
  assert.equal(statsOf(views([other]).out), undefined);
  // no prometheus in defaultProviders and no Telemetry: no stats filter
  assert.equal(statsOf(views([], PRODUCTPAGE, applyMeshConfig({ defaultProviders: { metrics: [] } })).out), undefined);
});

test('workload selection: the first selector match in the namespace, and targetRef to a Gateway API gateway', () => {
  const first = tel('a-reviews', { selector: { matchLabels: { app: 'reviews' } }, accessLogging: [{ providers: [{ name: 'envoy' }] }] }, 'default');
  const otherNs = tel('b-reviews', { selector: { matchLabels: { app: 'reviews' } }, accessLogging: [{ disabled: true, providers: [{ name: 'envoy' }] }] }, 'other');
  assert.deepEqual(logPaths(views([first, otherNs], REVIEWS).out), ['/dev/stdout']);
  assert.deepEqual(logPaths(views([first, otherNs]).out), []);
  const gwConfig = [
    res('Gateway', 'gw', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }, 'edge'),
    tel('gw-logs', { targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public' }, accessLogging: [{ providers: [{ name: 'envoy' }] }] }, 'edge'),
  ];
  const gwProxy = (name: string) => proxy({ type: 'router', name, namespace: 'edge', podPorts: [], labels: { istio: 'ingressgateway', 'gateway.networking.k8s.io/gateway-name': name } });
  const hcmOf = (p: ProxyIdentity) => buildListeners(makePc([...CONFIG, ...gwConfig], [], MESH), p)[0].filter_chains[0].filters[0].typed_config;
  assert.deepEqual(logPaths(hcmOf(gwProxy('public'))), ['/dev/stdout']);
  assert.deepEqual(logPaths(hcmOf(gwProxy('internal'))), []);
});
