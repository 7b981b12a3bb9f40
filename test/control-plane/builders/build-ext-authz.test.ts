/**
 * AuthorizationPolicy CUSTOM → Istio's filters: a shadow RBAC filter naming the CUSTOM rules
 * `istio-ext-authz-ns[..]-policy[..]-rule[i]` (stat prefix istio_ext_authz_), then the provider's
 * ext_authz filter enabled by that shadow result, before the DENY and ALLOW filters (evaluation
 * order CUSTOM → DENY → ALLOW). Provider fields map to Envoy's (HTTP and gRPC); an unknown provider
 * or two providers on one workload deny everything (Istio). Every listener round-trips through
 * the protobuf encoding, and the proxy parses the generated ext_authz config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildListeners } from '../../../src/control-plane/builders/index.js';
import { BAD_CUSTOM_POLICY } from '../../../src/control-plane/builders/build-authz.js';
import type { MeshConfig } from '../../../src/config/mesh-config.js';
import { defaultMeshConfig } from '../../../src/config/mesh-config.js';
import type { ConfigResource } from '../../../src/config/types.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { decodeResource, encodeResource } from '../../../src/xds/codec.js';
import { EXT_AUTHZ_TYPE, LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import { parseExtAuthzConfig } from '../../../src/proxy/filters/ext-authz/ext-authz-config.js';
import { assertRoundTrip, byName, kubeService, makePc, proxy, res } from './fixtures.js';

const SVC = [
  kubeService('productpage', [{ name: 'http', port: 9080 }]),
  kubeService('mongo', [{ name: 'tcp-mongo', port: 27017 }], { app: 'productpage' }),
  kubeService('ext-authz', [{ name: 'http', port: 8000 }, { name: 'grpc', port: 9000 }], { app: 'ext-authz' }, 'foo'),
];
const PP = proxy({ podPorts: [{ name: 'http', containerPort: 9080, protocol: 'TCP' }, { name: 'tcp-mongo', containerPort: 27017, protocol: 'TCP' }] });

const MESH: MeshConfig = {
  ...defaultMeshConfig(),
  extensionProviders: [
    ...(defaultMeshConfig().extensionProviders ?? []),
    {
      name: 'ext-authz-http',
      envoyExtAuthzHttp: {
        service: 'ext-authz.foo.svc.cluster.local', port: '8000', timeout: '0.5s', pathPrefix: '/check', failOpen: true, statusOnError: '503',
        includeRequestHeadersInCheck: ['x-ext-authz'], includeAdditionalHeadersInCheck: { 'x-b': 'b', 'x-a': 'a' },
        headersToUpstreamOnAllow: ['x-ext-authz-check-result', 'x-prefix-*'], headersToDownstreamOnDeny: ['*-suffix'],
        headersToDownstreamOnAllow: ['set-cookie'], includeRequestBodyInCheck: { maxRequestBytes: 1024, allowPartialMessage: true },
      },
    },
    { name: 'ext-authz-grpc', envoyExtAuthzGrpc: { service: 'foo/ext-authz', port: 9000 } },
    { name: 'missing-svc', envoyExtAuthzGrpc: { service: 'foo/nope', port: 9000 } },
  ],
};

const custom = (name: string, provider: string, rules: unknown[] = [{ to: [{ operation: { paths: ['/headers'] } }] }]): ConfigResource =>
  res('AuthorizationPolicy', name, { action: 'CUSTOM', provider: { name: provider }, rules });

function chains(policies: ConfigResource[]): { http: EnvoyResource[]; tcp: EnvoyResource[] } {
  const ls = buildListeners(makePc([...SVC, ...policies], [], MESH), PP);
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  return {
    http: byName(ls, `${PP.address}_9080`).filter_chains[0].filters[0].typed_config.http_filters as EnvoyResource[],
    tcp: byName(ls, `${PP.address}_27017`).filter_chains[0].filters as EnvoyResource[],
  };
}

test('HTTP provider: shadow RBAC of the CUSTOM rules, then ext_authz with every provider field, then DENY; the proxy parses it', () => {
  const { http, tcp } = chains([custom('ext', 'ext-authz-http'), res('AuthorizationPolicy', 'deny', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] })]);
  assert.deepEqual(http.map((f) => f.name), ['envoy.filters.http.rbac', 'envoy.filters.http.ext_authz', 'envoy.filters.http.rbac', 'istio.stats', 'envoy.filters.http.router']);
  const shadow = http[0].typed_config;
  assert.equal(shadow.shadow_rules_stat_prefix, 'istio_ext_authz_');
  assert.equal(shadow.rules, undefined, 'the CUSTOM RBAC filter only marks');
  assert.deepEqual(Object.keys(shadow.shadow_rules.policies), ['istio-ext-authz-ns[default]-policy[ext]-rule[0]']);
  assert.equal(shadow.shadow_rules.action, 'DENY');
  const cfg = http[1].typed_config;
  assert.equal(cfg['@type'], EXT_AUTHZ_TYPE);
  assert.deepEqual(cfg.filter_enabled_metadata, {
    filter: 'envoy.filters.http.rbac', path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }], value: { string_match: { prefix: 'istio-ext-authz' } },
  });
  assert.equal(cfg.failure_mode_allow, true);
  assert.deepEqual(cfg.status_on_error, { code: 'ServiceUnavailable' });
  assert.deepEqual(cfg.with_request_body, { max_request_bytes: 1024, allow_partial_message: true });
  assert.deepEqual(cfg.http_service, {
    server_uri: { uri: 'http://ext-authz.foo.svc.cluster.local', cluster: 'outbound|8000||ext-authz.foo.svc.cluster.local', timeout: { seconds: 0, nanos: 500_000_000 } },
    path_prefix: '/check',
    authorization_request: { allowed_headers: { patterns: [{ exact: 'x-ext-authz', ignore_case: true }] }, headers_to_add: [{ key: 'x-a', value: 'a' }, { key: 'x-b', value: 'b' }] },
    authorization_response: {
      allowed_upstream_headers: { patterns: [{ exact: 'x-ext-authz-check-result', ignore_case: true }, { prefix: 'x-prefix-', ignore_case: true }] },
      allowed_client_headers: { patterns: [{ suffix: '-suffix', ignore_case: true }] },
      allowed_client_headers_on_success: { patterns: [{ exact: 'set-cookie', ignore_case: true }] },
    },
  });
  // what the proxy receives (decoded from the wire) parses
  const wire = decodeResource(EXT_AUTHZ_TYPE, encodeResource(EXT_AUTHZ_TYPE, cfg));
  const parsed = parseExtAuthzConfig(wire, 'envoy.filters.http.ext_authz');
  assert.equal(parsed.statusOnError, 503);
  assert.equal(parsed.target.timeoutMs, 500);
  assert.ok(!tcp.some((f) => JSON.stringify(f).includes('istio-ext-authz')), 'an HTTP provider does nothing on TCP chains (Istio)');
});

test('gRPC provider: envoy_grpc with the outbound cluster and a `|`-free authority, Istio\'s 600 s timeout; TCP chains refuse what the rules cover', () => {
  const { http, tcp } = chains([custom('ext', 'ext-authz-grpc')]);
  assert.deepEqual(http.map((f) => f.name).slice(0, 2), ['envoy.filters.http.rbac', 'envoy.filters.http.ext_authz']);
  assert.deepEqual(http[1].typed_config.grpc_service, {
    envoy_grpc: { cluster_name: 'outbound|9000||ext-authz.foo.svc.cluster.local', authority: 'outbound_.9000_._.ext-authz.foo.svc.cluster.local' },
    timeout: { seconds: 600 },
  });
  assert.equal(http[1].typed_config.failure_mode_allow, undefined);
  const net = tcp.find((f) => f.name === 'envoy.filters.network.rbac');
  assert.ok(net, 'no network ext_authz in the proxy: the covered TCP connections are refused');
  assert.equal(net.typed_config.rules.action, 'DENY');
  assert.deepEqual(Object.keys(net.typed_config.rules.policies), ['istio-ext-authz-ns[default]-policy[ext]-rule[0]']);
});

test('an unknown provider, a provider whose service is not in the mesh, or two providers on one workload: deny everything (Istio)', () => {
  for (const policies of [[custom('ext', 'nope')], [custom('ext', 'missing-svc')], [custom('a', 'ext-authz-http'), custom('b', 'ext-authz-grpc')]]) {
    const { http, tcp } = chains(policies);
    assert.ok(!http.some((f) => f.name === 'envoy.filters.http.ext_authz'));
    for (const f of [http.find((x) => x.name === 'envoy.filters.http.rbac'), tcp.find((x) => x.name === 'envoy.filters.network.rbac')]) {
      assert.deepEqual(Object.keys(f!.typed_config.rules.policies), [BAD_CUSTOM_POLICY]);
      assert.equal(f!.typed_config.rules.action, 'DENY');
    }
  }
});

test('a CUSTOM policy of another workload changes nothing here', () => {
  const other = res('AuthorizationPolicy', 'other', { selector: { matchLabels: { app: 'reviews' } }, action: 'CUSTOM', provider: { name: 'ext-authz-http' }, rules: [{}] });
  const { http } = chains([other]);
  assert.ok(!http.some((f) => f.name === 'envoy.filters.http.ext_authz' || f.name === 'envoy.filters.http.rbac'));
});
