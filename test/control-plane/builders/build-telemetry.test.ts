/**
 * Telemetry in LDS/CDS, field by field (mesh config in, resources out): the istio.stats filters,
 * access_log from meshConfig.accessLogFile/Encoding/Format, tracing from the legacy zipkin
 * address or extension providers, and the collector clusters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClusters, buildListeners } from '../../../src/control-plane/builders/index.js';
import { applyMeshConfig, type MeshConfig } from '../../../src/config/mesh-config.js';
import {
  ISTIO_DEFAULT_JSON_FORMAT as PROXY_JSON_FORMAT, ISTIO_DEFAULT_FORMAT as PROXY_TEXT_FORMAT,
} from '../../../src/proxy/telemetry/access-log-format.js';
import {
  ISTIO_DEFAULT_JSON_FORMAT, ISTIO_DEFAULT_TEXT_FORMAT,
} from '../../../src/control-plane/builders/build-telemetry-policy.js';
import { jsonToStruct, structToJson } from '../../../src/xds/struct.js';
import { CLUSTER_TYPE, LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import type { ConfigResource } from '../../../src/config/types.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { assertRoundTrip, BOOKINFO_SERVICES, byName, kubeService, makePc, proxy, res } from './fixtures.js';

const TYPED_STRUCT = 'type.googleapis.com/udpa.type.v1.TypedStruct';
const STATS = 'type.googleapis.com/stats.PluginConfig';
const FILE_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const ZIPKIN_SVC = kubeService('zipkin', [{ name: 'http-query', port: 9411 }], { app: 'zipkin' }, 'istio-system');
const CONFIG = [...BOOKINFO_SERVICES, kubeService('mongo', [{ name: 'mongo', port: 27017 }])];

function listeners(mesh?: MeshConfig, config: ConfigResource[] = CONFIG, p = proxy()): EnvoyResource[] {
  const ls = buildListeners(makePc(config, [], mesh), p);
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  return ls;
}

const outboundHcm = (ls: EnvoyResource[]) => byName(ls, '0.0.0.0_9080').filter_chains[0].filters[0].typed_config;
const inboundHcm = (ls: EnvoyResource[]) => byName(ls, '127.0.10.1_9080').filter_chains[0].filters[0].typed_config;
const tcpChain = (ls: EnvoyResource[]) => byName(ls, '0.0.0.0_27017').filter_chains[0].filters;
const passthrough = (ls: EnvoyResource[]) => byName(ls, 'virtualOutbound').filter_chains[0].filters;

test('defaults: istio.stats before the router and before tcp_proxy, no access log, no tracing', () => {
  const ls = listeners();
  const out = outboundHcm(ls);
  assert.deepEqual(out.http_filters.at(-2), { name: 'istio.stats', typed_config: { '@type': TYPED_STRUCT, type_url: STATS, value: {} } });
  assert.equal(out.http_filters.at(-1).name, 'envoy.filters.http.router');
  assert.equal(out.access_log, undefined);
  assert.equal(out.tracing, undefined);
  // inbound never takes the destination service from Host (Istio's disable_host_header_fallback)
  const inStats = inboundHcm(ls).http_filters[0];
  assert.equal(inStats.name, 'istio.stats');
  assert.deepEqual(structToJson(inStats.typed_config.value), { disable_host_header_fallback: true });
  for (const filters of [tcpChain(ls), passthrough(ls)]) {
    assert.deepEqual(filters.map((f: EnvoyResource) => f.name), ['istio.stats', 'envoy.filters.network.tcp_proxy']);
    assert.equal(filters[1].typed_config.access_log, undefined);
  }
});

test("the default formats are Istio's and the proxy's (no drift between the planes)", () => {
  assert.equal(ISTIO_DEFAULT_TEXT_FORMAT, PROXY_TEXT_FORMAT);
  assert.deepEqual({ ...ISTIO_DEFAULT_JSON_FORMAT }, { ...PROXY_JSON_FORMAT });
});

test('accessLogFile: a file logger with Istio\'s text format on HCMs and TCP proxies, inbound and outbound', () => {
  const ls = listeners(applyMeshConfig({ accessLogFile: '/dev/stdout' }));
  const want = [{
    name: 'envoy.access_loggers.file',
    typed_config: { '@type': FILE_LOG, path: '/dev/stdout', log_format: { text_format_source: { inline_string: ISTIO_DEFAULT_TEXT_FORMAT } } },
  }];
  assert.deepEqual(outboundHcm(ls).access_log, want);
  assert.deepEqual(inboundHcm(ls).access_log, want);
  assert.deepEqual(tcpChain(ls)[1].typed_config.access_log, want);
  assert.deepEqual(passthrough(ls)[1].typed_config.access_log, want);
});

test('accessLogFormat (text) and accessLogEncoding JSON with default and custom keys', () => {
  const text = outboundHcm(listeners(applyMeshConfig({ accessLogFile: '/var/log/a.log', accessLogFormat: '%RESPONSE_CODE% %UPSTREAM_CLUSTER%\n' })));
  assert.deepEqual(text.access_log[0].typed_config, {
    '@type': FILE_LOG, path: '/var/log/a.log', log_format: { text_format_source: { inline_string: '%RESPONSE_CODE% %UPSTREAM_CLUSTER%\n' } },
  });
  const json = outboundHcm(listeners(applyMeshConfig({ accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON' })));
  assert.deepEqual(json.access_log[0].typed_config.log_format, { json_format: jsonToStruct({ ...ISTIO_DEFAULT_JSON_FORMAT }) });
  const custom = outboundHcm(listeners(applyMeshConfig({
    accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON', accessLogFormat: '{"code": "%RESPONSE_CODE%", "up": "%UPSTREAM_HOST%"}',
  })));
  assert.deepEqual(structToJson(custom.access_log[0].typed_config.log_format.json_format), { code: '%RESPONSE_CODE%', up: '%UPSTREAM_HOST%' });
});

test('legacy tracing: Istio\'s default zipkin address only when a zipkin service exists; sampling from defaultConfig', () => {
  assert.equal(outboundHcm(listeners()).tracing, undefined);
  const ls = listeners(undefined, [...CONFIG, ZIPKIN_SVC]);
  const want = {
    random_sampling: { value: 1 },
    provider: {
      name: 'envoy.tracers.zipkin',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig',
        collector_cluster: 'outbound|9411||zipkin.istio-system.svc.cluster.local',
        collector_endpoint: '/api/v2/spans',
        collector_endpoint_version: 'HTTP_JSON',
        trace_id_128bit: true,
        shared_span_context: { value: false },
      },
    },
  };
  assert.deepEqual(outboundHcm(ls).tracing, want);
  assert.deepEqual(inboundHcm(ls).tracing, want);
  const sampled = listeners(applyMeshConfig({ defaultConfig: { tracing: { sampling: 50, maxPathTagLength: 99 } } }), [...CONFIG, ZIPKIN_SVC]);
  assert.deepEqual(outboundHcm(sampled).tracing.random_sampling, { value: 50 });
  assert.deepEqual(outboundHcm(sampled).tracing.max_path_tag_length, { value: 99 });
  assert.equal(outboundHcm(listeners(applyMeshConfig({ enableTracing: false }), [...CONFIG, ZIPKIN_SVC])).tracing, undefined);
});

test('legacy tracing to an explicit address outside the registry: STATIC (IP) or STRICT_DNS cluster in CDS', () => {
  const ipMesh = applyMeshConfig({ defaultConfig: { tracing: { zipkin: { address: '127.0.0.9:9411' } } } });
  assert.equal(outboundHcm(listeners(ipMesh)).tracing.provider.typed_config.collector_cluster, 'outbound|9411||127.0.0.9');
  const clusters = buildClusters(makePc(CONFIG, [], ipMesh), proxy());
  for (const c of clusters) assertRoundTrip(CLUSTER_TYPE, c);
  assert.deepEqual(byName(clusters, 'outbound|9411||127.0.0.9'), {
    name: 'outbound|9411||127.0.0.9',
    type: 'STATIC',
    connect_timeout: { seconds: 10 },
    lb_policy: 'ROUND_ROBIN',
    load_assignment: {
      cluster_name: 'outbound|9411||127.0.0.9',
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.9', port_value: 9411 } } } }] }],
    },
  });
  const dnsMesh = applyMeshConfig({ defaultConfig: { tracing: { zipkin: { address: 'collector.example.com:9411' } } } });
  const dns = byName(buildClusters(makePc(CONFIG, [], dnsMesh), proxy()), 'outbound|9411||collector.example.com');
  assert.equal(dns.type, 'STRICT_DNS');
  assert.equal(dns.dns_lookup_family, 'V4_ONLY');
});

const PROVIDERS: MeshConfig = {
  extensionProviders: [
    { name: 'zipkin', zipkin: { service: 'zipkin.istio-system.svc.cluster.local', port: 9411, maxTagLength: 256 } },
    { name: 'otel', opentelemetry: { service: 'otel-collector.observability.svc.cluster.local', port: 4318, http: { path: '/v1/traces', timeout: '2.5s' } } },
    { name: 'legacy64', zipkin: { service: '10.1.2.3', port: 9411, path: '/zipkin/spans', enable64bitTraceId: true } },
  ],
};

function tracingWith(provider: string, sampling?: number, config: ConfigResource[] = CONFIG) {
  const tel = res('Telemetry', 'mesh-default', {
    tracing: [{ providers: [{ name: provider }], ...(sampling !== undefined ? { randomSamplingPercentage: sampling } : {}) }],
  }, 'istio-system');
  const pc = makePc([...config, tel], [], applyMeshConfig(PROVIDERS));
  const ls = buildListeners(pc, proxy());
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  return { hcm: outboundHcm(ls), inbound: inboundHcm(ls), clusters: buildClusters(pc, proxy()) };
}

test('Telemetry tracing with a zipkin extension provider: sampling, tag length, registry cluster reused', () => {
  const { hcm, inbound, clusters } = tracingWith('zipkin', 25, [...CONFIG, ZIPKIN_SVC]);
  assert.deepEqual(hcm.tracing.random_sampling, { value: 25 });
  assert.deepEqual(hcm.tracing.max_path_tag_length, { value: 256 });
  assert.equal(hcm.tracing.provider.typed_config.collector_cluster, 'outbound|9411||zipkin.istio-system.svc.cluster.local');
  assert.deepEqual(inbound.tracing, hcm.tracing);
  // the registry already has the cluster (EDS); no second one
  assert.equal(clusters.filter((c) => c.name === 'outbound|9411||zipkin.istio-system.svc.cluster.local').length, 1);
  // without randomSamplingPercentage: defaultConfig.tracing.sampling, else 1
  assert.deepEqual(tracingWith('zipkin', undefined, [...CONFIG, ZIPKIN_SVC]).hcm.tracing.random_sampling, { value: 1 });
  const legacy64 = tracingWith('legacy64').hcm.tracing.provider.typed_config;
  assert.equal(legacy64.collector_endpoint, '/zipkin/spans');
  assert.equal(legacy64.trace_id_128bit, false);
});

test('Telemetry tracing with an OpenTelemetry (OTLP/HTTP) provider: http_service uri, cluster and timeout', () => {
  const { hcm, clusters } = tracingWith('otel', 100);
  assert.deepEqual(hcm.tracing, {
    random_sampling: { value: 100 },
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
        http_service: {
          http_uri: {
            uri: 'http://otel-collector.observability.svc.cluster.local:4318/v1/traces',
            cluster: 'outbound|4318||otel-collector.observability.svc.cluster.local',
            timeout: { seconds: 2, nanos: 500000000 },
          },
        },
      },
    },
  });
  assert.equal(byName(clusters, 'outbound|4318||otel-collector.observability.svc.cluster.local').type, 'STRICT_DNS');
});

test('gateway: stats (no Host fallback), access log and tracing on the gateway HCM', () => {
  const config = [
    ...CONFIG, ZIPKIN_SVC,
    res('Gateway', 'gw', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }),
  ];
  const gw = proxy({ type: 'router', name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, podPorts: [] });
  const [l] = listeners(applyMeshConfig({ accessLogFile: '/dev/stdout' }), config, gw);
  const hcm = l.filter_chains[0].filters[0].typed_config;
  assert.deepEqual(hcm.http_filters.map((f: EnvoyResource) => f.name), ['envoy.filters.http.fault', 'envoy.filters.http.cors', 'istio.stats', 'envoy.filters.http.router']);
  assert.deepEqual(structToJson(hcm.http_filters[2].typed_config.value), { disable_host_header_fallback: true });
  assert.equal(hcm.access_log[0].typed_config.path, '/dev/stdout');
  assert.equal(hcm.tracing.provider.typed_config.collector_cluster, 'outbound|9411||zipkin.istio-system.svc.cluster.local');
});

test('Telemetry customTags become HCM tracing custom_tags (literal, environment, request header)', () => {
  const tel = res('Telemetry', 'tags', {
    tracing: [{
      providers: [{ name: 'zipkin' }],
      customTags: {
        team: { literal: { value: 'bookinfo' } },
        pod: { environment: { name: 'POD_NAME', defaultValue: 'unknown' } },
        user: { header: { name: 'end-user' } },
      },
    }],
  }, 'istio-system');
  const ls = listeners(applyMeshConfig(PROVIDERS), [...CONFIG, ZIPKIN_SVC, tel]);
  assert.deepEqual(outboundHcm(ls).tracing.custom_tags, [
    { tag: 'team', literal: { value: 'bookinfo' } },
    { tag: 'pod', environment: { name: 'POD_NAME', default_value: 'unknown' } },
    { tag: 'user', request_header: { name: 'end-user' } },
  ]);
});
