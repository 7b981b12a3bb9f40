import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRoutes, DEFAULT_RETRY_ON } from '../../../src/control-plane/builders/index.js';
import type { ConfigResource } from '../../../src/config/types.js';
import type { ProxyIdentity } from '../../../src/xds/node-metadata.js';
import { ROUTE_TYPE } from '../../../src/xds/type-urls.js';
import {
  assertRoundTrip, BOOKINFO_SERVICES, byName, kubeService, makePc, proxy, res, subsetsRule, vs,
} from './fixtures.js';

const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';
const C = (subset: string, host = REVIEWS, port = 9080) => `outbound|${port}|${subset}|${host}`;
const DEFAULT_RETRY = {
  retry_on: DEFAULT_RETRY_ON, num_retries: { value: 2 }, retriable_status_codes: [503], host_selection_retry_max_attempts: 5,
};

/** Routes of the reviews virtual host in route configuration "9080" for the given HTTP routes. */
function reviewsRoutes(http: unknown[], opts: { proxy?: ProxyIdentity; extra?: ConfigResource[]; vsExtra?: Record<string, unknown> } = {}): any[] {
  const config = [
    ...BOOKINFO_SERVICES, subsetsRule('reviews', ['v1', 'v2', 'v3']),
    vs('reviews', { hosts: ['reviews'], http, ...(opts.vsExtra ?? {}) }), ...(opts.extra ?? []),
  ];
  const pc = makePc(config);
  const [rc] = buildRoutes(pc, opts.proxy ?? proxy(), ['9080']);
  assertRoundTrip(ROUTE_TYPE, rc);
  return byName(rc.virtual_hosts, `${REVIEWS}:9080`).routes;
}

test('sidecar route configuration: vhost per service with Istio domains, plus allow_any', () => {
  const pc = makePc([...BOOKINFO_SERVICES, kubeService('other', [{ name: 'http', port: 9080 }], { app: 'other' }, 'shop'), kubeService('db', [{ name: 'tcp', port: 9080 }])]);
  const [rc] = buildRoutes(pc, proxy(), ['9080']);
  assertRoundTrip(ROUTE_TYPE, rc);
  assert.equal(rc.name, '9080');
  assert.deepEqual(rc.virtual_hosts.map((v: any) => v.name), [
    `details.default.svc.cluster.local:9080`, 'other.shop.svc.cluster.local:9080', 'productpage.default.svc.cluster.local:9080',
    `${RATINGS}:9080`, `${REVIEWS}:9080`, 'allow_any',
  ]);
  assert.deepEqual(byName(rc.virtual_hosts, `${REVIEWS}:9080`).domains, [
    REVIEWS, `${REVIEWS}:9080`, 'reviews.default', 'reviews.default:9080', 'reviews', 'reviews:9080',
  ]);
  // Short names only for the proxy's own namespace.
  assert.deepEqual(byName(rc.virtual_hosts, 'other.shop.svc.cluster.local:9080').domains, [
    'other.shop.svc.cluster.local', 'other.shop.svc.cluster.local:9080', 'other.shop', 'other.shop:9080',
  ]);
  assert.deepEqual(byName(rc.virtual_hosts, 'allow_any'), {
    name: 'allow_any', domains: ['*'],
    routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: 'PassthroughCluster', timeout: { seconds: 0 } } }],
  });
});

test('no VirtualService: default route with Istio default retries and timeout 0s', () => {
  const pc = makePc(BOOKINFO_SERVICES);
  const [rc] = buildRoutes(pc, proxy(), ['9080']);
  assert.deepEqual(byName(rc.virtual_hosts, `${REVIEWS}:9080`).routes, [{
    name: 'default',
    match: { prefix: '/' },
    route: { cluster: C(''), timeout: { seconds: 0 }, retry_policy: DEFAULT_RETRY },
    decorator: { operation: `${REVIEWS}:9080/*` },
  }]);
});

test('uri exact / prefix / regex matches and ignoreUriCase', () => {
  const routes = reviewsRoutes([{
    match: [{ uri: { exact: '/a' } }, { uri: { prefix: '/b' }, ignoreUriCase: true }, { uri: { regex: '/c/[0-9]+' } }],
    route: [{ destination: { host: 'reviews' } }],
  }]);
  assert.deepEqual(routes.map((r) => r.match), [
    { path: '/a' },
    { prefix: '/b', case_sensitive: { value: false } },
    { safe_regex: { google_re2: {}, regex: '/c/[0-9]+' } },
  ]);
  assert.ok(routes.every((r) => r.name === 'reviews.default' && r.route.cluster === C('')));
});

test('header matches: exact, prefix, regex, present ({}), and withoutHeaders (invert_match)', () => {
  const [r] = reviewsRoutes([{
    match: [{
      headers: { 'end-user': { exact: 'jason' }, 'x-p': { prefix: 'ab' }, 'x-r': { regex: 'v[12]' }, 'x-any': {} },
      withoutHeaders: { 'x-no': { exact: '1' }, 'x-absent': {} },
    }],
    route: [{ destination: { host: 'reviews', subset: 'v2' } }],
  }]);
  assert.deepEqual(r.match, {
    prefix: '/',
    headers: [
      { name: 'end-user', string_match: { exact: 'jason' } },
      { name: 'x-p', string_match: { prefix: 'ab' } },
      { name: 'x-r', string_match: { safe_regex: { google_re2: {}, regex: 'v[12]' } } },
      { name: 'x-any', present_match: true },
      { name: 'x-no', string_match: { exact: '1' }, invert_match: true },
      { name: 'x-absent', present_match: true, invert_match: true },
    ],
  });
  assert.equal(r.route.cluster, C('v2'));
});

test('queryParams, method (:method) and authority (:authority) matches', () => {
  const [r] = reviewsRoutes([{
    match: [{ queryParams: { id: { exact: '7' }, q: { regex: 'a.*' }, flag: {} }, method: { exact: 'POST' }, authority: { prefix: 'reviews' } }],
    route: [{ destination: { host: 'reviews' } }],
  }]);
  assert.deepEqual(r.match.headers, [
    { name: ':method', string_match: { exact: 'POST' } },
    { name: ':authority', string_match: { prefix: 'reviews' } },
  ]);
  assert.deepEqual(r.match.query_parameters, [
    { name: 'id', string_match: { exact: '7' } },
    { name: 'q', string_match: { safe_regex: { google_re2: {}, regex: 'a.*' } } },
    { name: 'flag', present_match: true },
  ]);
});

test('port match: only applies when the route configuration port equals it', () => {
  const routes = reviewsRoutes([
    { match: [{ port: 9999, uri: { prefix: '/other' } }, { port: 9080, uri: { prefix: '/mine' } }], route: [{ destination: { host: 'reviews' } }] },
    { match: [{ port: 9999 }], route: [{ destination: { host: 'reviews', subset: 'v3' } }] },
  ]);
  assert.deepEqual(routes.map((r) => r.match), [{ prefix: '/mine' }]);
});

test('sourceLabels: only routes whose sourceLabels match the proxy labels are included', () => {
  const http = [
    { match: [{ sourceLabels: { app: 'reviews', version: 'v2' } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
    { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
  ];
  const fromProductpage = reviewsRoutes(http);
  assert.deepEqual(fromProductpage.map((r) => r.route.cluster), [C('v1')]);
  const fromReviewsV2 = reviewsRoutes(http, { proxy: proxy({ name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' } }) });
  assert.deepEqual(fromReviewsV2.map((r) => r.route.cluster), [C('v2'), C('v1')]);
});

test('gateways: sidecars only use VirtualServices without gateways or with mesh; match-level gateways too', () => {
  const gwOnly = reviewsRoutes([{ route: [{ destination: { host: 'reviews', subset: 'v3' } }] }], { vsExtra: { gateways: ['bookinfo-gateway'] } });
  assert.equal(gwOnly[0].name, 'default');
  const withMesh = reviewsRoutes([{ route: [{ destination: { host: 'reviews', subset: 'v3' } }] }], { vsExtra: { gateways: ['bookinfo-gateway', 'mesh'] } });
  assert.equal(withMesh[0].route.cluster, C('v3'));
  const matchLevel = reviewsRoutes([
    { match: [{ gateways: ['bookinfo-gateway'], uri: { prefix: '/gw' } }], route: [{ destination: { host: 'reviews', subset: 'v3' } }] },
    { match: [{ gateways: ['mesh'], uri: { prefix: '/mesh' } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
  ], { vsExtra: { gateways: ['bookinfo-gateway', 'mesh'] } });
  assert.deepEqual(matchLevel.map((r) => r.match.prefix), ['/mesh']);
});

test('multiple match entries → one Envoy route each; route names from the http route name', () => {
  const routes = reviewsRoutes([{ name: 'split', match: [{ uri: { prefix: '/x' } }, { uri: { prefix: '/y' } }], route: [{ destination: { host: 'reviews' } }] }]);
  assert.deepEqual(routes.map((r) => [r.name, r.match.prefix]), [['split', '/x'], ['split', '/y']]);
});

test('weighted destinations with subsets → weighted_clusters (seed 50/50 v1/v3)', () => {
  const [r] = reviewsRoutes([{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 50 }, { destination: { host: 'reviews', subset: 'v3' }, weight: 50 }] }]);
  assert.deepEqual(r.route.weighted_clusters, { clusters: [{ name: C('v1'), weight: { value: 50 } }, { name: C('v3'), weight: { value: 50 } }] });
  assert.equal(r.route.cluster, undefined);
});

test('destination port: explicit port, else the service single port', () => {
  const routes = reviewsRoutes([{ route: [{ destination: { host: 'ratings', port: { number: 9080 } } }] }, { route: [{ destination: { host: 'details' } }] }]);
  assert.equal(routes[0].route.cluster, C('', RATINGS));
  assert.equal(routes[1].route.cluster, C('', 'details.default.svc.cluster.local'));
  const multi = makePc([kubeService('multi', [{ name: 'http', port: 80 }, { name: 'http-alt', port: 8080 }]), vs('m', { hosts: ['multi'], http: [{ route: [{ destination: { host: 'multi' } }] }] })]);
  const [rc] = buildRoutes(multi, proxy(), ['8080']);
  assert.equal(byName(rc.virtual_hosts, 'multi.default.svc.cluster.local:8080').routes[0].route.cluster, 'outbound|8080||multi.default.svc.cluster.local');
});

test('redirect: path, host, port, scheme and every response code', () => {
  const codes: [number | undefined, string][] = [[undefined, 'MOVED_PERMANENTLY'], [301, 'MOVED_PERMANENTLY'], [302, 'FOUND'], [303, 'SEE_OTHER'], [307, 'TEMPORARY_REDIRECT'], [308, 'PERMANENT_REDIRECT']];
  for (const [code, want] of codes) {
    const [r] = reviewsRoutes([{ redirect: { uri: '/new', authority: 'new.example.com', port: 8443, scheme: 'https', ...(code ? { redirectCode: code } : {}) } }]);
    assert.deepEqual(r.redirect, { path_redirect: '/new', host_redirect: 'new.example.com', port_redirect: 8443, scheme_redirect: 'https', response_code: want });
    assert.equal(r.route, undefined);
  }
});

test('rewrite: prefix_rewrite for prefix matches, regex_rewrite for exact and regex, host_rewrite_literal for authority', () => {
  const routes = reviewsRoutes([
    { match: [{ uri: { prefix: '/v1' } }], rewrite: { uri: '/v2', authority: 'internal' }, route: [{ destination: { host: 'reviews' } }] },
    { match: [{ uri: { exact: '/a.b' } }], rewrite: { uri: '/c' }, route: [{ destination: { host: 'reviews' } }] },
    { match: [{ uri: { regex: '/r/[0-9]+' } }], rewrite: { uri: '/num' }, route: [{ destination: { host: 'reviews' } }] },
    { rewrite: { uriRegexRewrite: { match: '^/old/(.*)$', rewrite: '/new/\\1' } }, route: [{ destination: { host: 'reviews' } }] },
  ]);
  assert.equal(routes[0].route.prefix_rewrite, '/v2');
  assert.equal(routes[0].route.host_rewrite_literal, 'internal');
  assert.deepEqual(routes[1].route.regex_rewrite, { pattern: { google_re2: {}, regex: '^/a\\.b$' }, substitution: '/c' });
  assert.deepEqual(routes[2].route.regex_rewrite, { pattern: { google_re2: {}, regex: '/r/[0-9]+' }, substitution: '/num' });
  assert.deepEqual(routes[3].route.regex_rewrite, { pattern: { google_re2: {}, regex: '^/old/(.*)$' }, substitution: '/new/\\1' });
});

test('headers: set/add/remove for request and response, at route level and per weighted destination', () => {
  const [r] = reviewsRoutes([{
    headers: { request: { set: { 'x-s': '1' }, add: { 'x-a': '2' }, remove: ['x-r'] }, response: { set: { 'x-rs': '3' }, add: { 'x-ra': '4' }, remove: ['server'] } },
    route: [
      { destination: { host: 'reviews', subset: 'v1' }, weight: 90, headers: { request: { set: { 'x-dest': 'v1' } }, response: { remove: ['x-internal'] } } },
      { destination: { host: 'reviews', subset: 'v2' }, weight: 10 },
    ],
  }]);
  assert.deepEqual(r.request_headers_to_add, [
    { header: { key: 'x-s', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    { header: { key: 'x-a', value: '2' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
  ]);
  assert.deepEqual(r.request_headers_to_remove, ['x-r']);
  assert.deepEqual(r.response_headers_to_add, [
    { header: { key: 'x-rs', value: '3' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    { header: { key: 'x-ra', value: '4' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
  ]);
  assert.deepEqual(r.response_headers_to_remove, ['server']);
  assert.deepEqual(r.route.weighted_clusters.clusters[0], {
    name: C('v1'), weight: { value: 90 },
    request_headers_to_add: [{ header: { key: 'x-dest', value: 'v1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    response_headers_to_remove: ['x-internal'],
  });
  // A single destination's headers go on the route itself.
  const [single] = reviewsRoutes([{ route: [{ destination: { host: 'reviews' }, headers: { request: { add: { 'x-one': '1' } } } }] }]);
  assert.deepEqual(single.request_headers_to_add, [{ header: { key: 'x-one', value: '1' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' }]);
});

test('timeout: route.timeout from the VirtualService, 0s (disabled) by default', () => {
  const [a, b] = reviewsRoutes([
    { match: [{ uri: { prefix: '/slow' } }], timeout: '0.5s', route: [{ destination: { host: 'reviews' } }] },
    { route: [{ destination: { host: 'reviews' } }] },
  ]);
  assert.deepEqual(a.route.timeout, { seconds: 0, nanos: 500_000_000 });
  assert.deepEqual(b.route.timeout, { seconds: 0 });
});

test('retries: attempts/perTryTimeout/retryOn as given; default retry_on when only attempts; attempts 0 disables; default policy without retries', () => {
  const routes = reviewsRoutes([
    { match: [{ uri: { prefix: '/a' } }], retries: { attempts: 3, perTryTimeout: '2s', retryOn: 'gateway-error,connect-failure' }, route: [{ destination: { host: 'reviews' } }] },
    { match: [{ uri: { prefix: '/b' } }], retries: { attempts: 5 }, route: [{ destination: { host: 'reviews' } }] },
    { match: [{ uri: { prefix: '/c' } }], retries: { attempts: 0 }, route: [{ destination: { host: 'reviews' } }] },
    { match: [{ uri: { prefix: '/d' } }], retries: { attempts: 1, retryOn: '5xx,429' }, route: [{ destination: { host: 'reviews' } }] },
    { route: [{ destination: { host: 'reviews' } }] },
  ]);
  assert.deepEqual(routes[0].route.retry_policy, {
    retry_on: 'gateway-error,connect-failure', num_retries: { value: 3 }, per_try_timeout: { seconds: 2 }, host_selection_retry_max_attempts: 5,
  });
  assert.deepEqual(routes[1].route.retry_policy, { ...DEFAULT_RETRY, num_retries: { value: 5 } });
  assert.equal(routes[2].route.retry_policy, undefined);
  assert.deepEqual(routes[3].route.retry_policy.retry_on, '5xx,retriable-status-codes');
  assert.deepEqual(routes[3].route.retry_policy.retriable_status_codes, [429]);
  assert.deepEqual(routes[4].route.retry_policy, DEFAULT_RETRY);
});

test('fault: delay with the seed deprecated percent, delay/abort with percentage, gRPC abort', () => {
  const routes = reviewsRoutes([
    { match: [{ headers: { 'end-user': { exact: 'jason' } } }], fault: { delay: { percent: 100, fixedDelay: '7s' } }, route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
    { match: [{ uri: { prefix: '/p' } }], fault: { delay: { percentage: { value: 12.5 }, fixedDelay: '100ms' }, abort: { httpStatus: 500, percentage: { value: 100 } } }, route: [{ destination: { host: 'reviews' } }] },
    { match: [{ uri: { prefix: '/g' } }], fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 50 } } }, route: [{ destination: { host: 'reviews' } }] },
  ]);
  const FT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
  assert.deepEqual(routes[0].typed_per_filter_config, {
    'envoy.filters.http.fault': { '@type': FT, delay: { fixed_delay: { seconds: 7 }, percentage: { numerator: 100, denominator: 'HUNDRED' } } },
  });
  assert.deepEqual(routes[1].typed_per_filter_config['envoy.filters.http.fault'], {
    '@type': FT,
    delay: { fixed_delay: { seconds: 0, nanos: 100_000_000 }, percentage: { numerator: 125000, denominator: 'MILLION' } },
    abort: { http_status: 500, percentage: { numerator: 1000000, denominator: 'MILLION' } },
  });
  assert.deepEqual(routes[2].typed_per_filter_config['envoy.filters.http.fault'].abort, {
    grpc_status: 14, percentage: { numerator: 500000, denominator: 'MILLION' },
  });
});

test('mirror + mirrorPercentage → request_mirror_policies with runtime_fraction', () => {
  const routes = reviewsRoutes([
    { match: [{ uri: { prefix: '/a' } }], mirror: { host: 'reviews', subset: 'v2' }, mirrorPercentage: { value: 25 }, route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
    { match: [{ uri: { prefix: '/b' } }], mirror: { host: 'ratings' }, route: [{ destination: { host: 'reviews' } }] },
    { match: [{ uri: { prefix: '/c' } }], mirror: { host: 'ratings' }, mirrorPercent: 10, route: [{ destination: { host: 'reviews' } }] },
  ]);
  assert.deepEqual(routes[0].route.request_mirror_policies, [{ cluster: C('v2'), runtime_fraction: { default_value: { numerator: 250000, denominator: 'MILLION' } } }]);
  assert.deepEqual(routes[1].route.request_mirror_policies, [{ cluster: C('', RATINGS), runtime_fraction: { default_value: { numerator: 100, denominator: 'HUNDRED' } } }]);
  assert.deepEqual(routes[2].route.request_mirror_policies[0].runtime_fraction, { default_value: { numerator: 10, denominator: 'HUNDRED' } });
});

test('corsPolicy → typed_per_filter_config envoy.filters.http.cors CorsPolicy', () => {
  const [r] = reviewsRoutes([{
    corsPolicy: {
      allowOrigins: [{ exact: 'https://a.example' }, { prefix: 'https://b.' }, { regex: '.*\\.c\\.example' }],
      allowMethods: ['GET', 'POST'], allowHeaders: ['x-a', 'x-b'], exposeHeaders: ['x-e'], maxAge: '24h', allowCredentials: true,
    },
    route: [{ destination: { host: 'reviews' } }],
  }]);
  assert.deepEqual(r.typed_per_filter_config['envoy.filters.http.cors'], {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
    filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
    allow_origin_string_match: [{ exact: 'https://a.example' }, { prefix: 'https://b.' }, { safe_regex: { google_re2: {}, regex: '.*\\.c\\.example' } }],
    allow_methods: 'GET,POST', allow_headers: 'x-a,x-b', expose_headers: 'x-e', max_age: '86400', allow_credentials: { value: true },
  });
});

test('directResponse → direct_response with inline body', () => {
  const [r] = reviewsRoutes([{ directResponse: { status: 418, body: { string: 'teapot' } } }]);
  assert.deepEqual(r.direct_response, { status: 418, body: { inline_string: 'teapot' } });
  assert.equal(r.route, undefined);
});

test('consistentHash from the DestinationRule → route hash_policy (header, cookie with ttl, source ip, query parameter)', () => {
  const cases: [unknown, unknown][] = [
    [{ httpHeaderName: 'x-user' }, [{ header: { header_name: 'x-user' } }]],
    [{ httpCookie: { name: 'sess', ttl: '10s', path: '/' } }, [{ cookie: { name: 'sess', ttl: { seconds: 10 }, path: '/' } }]],
    [{ useSourceIp: true }, [{ connection_properties: { source_ip: true } }]],
    [{ httpQueryParameterName: 'u' }, [{ query_parameter: { name: 'u' } }]],
  ];
  for (const [consistentHash, want] of cases) {
    const pc = makePc([...BOOKINFO_SERVICES, res('DestinationRule', 'ratings', { host: 'ratings', trafficPolicy: { loadBalancer: { consistentHash } } })]);
    const [rc] = buildRoutes(pc, proxy(), ['9080']);
    assertRoundTrip(ROUTE_TYPE, rc);
    assert.deepEqual(byName(rc.virtual_hosts, `${RATINGS}:9080`).routes[0].route.hash_policy, want);
    const routes = reviewsRoutes([{ route: [{ destination: { host: 'ratings' } }] }], {
      extra: [res('DestinationRule', 'ratings', { host: 'ratings', trafficPolicy: { loadBalancer: { consistentHash } } })],
    });
    assert.deepEqual(routes[0].route.hash_policy, want);
  }
});

test('MESH_EXTERNAL ServiceEntry hosts get virtual hosts with the VirtualService timeout and retries', () => {
  const pc = makePc([
    res('ServiceEntry', 'httpbin-ext', { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' }),
    vs('httpbin-ext', { hosts: ['httpbin.org'], http: [{ timeout: '3s', retries: { attempts: 2 }, route: [{ destination: { host: 'httpbin.org' }, weight: 100 }] }] }),
  ]);
  const [rc] = buildRoutes(pc, proxy(), ['80']);
  assertRoundTrip(ROUTE_TYPE, rc);
  const vh = byName(rc.virtual_hosts, 'httpbin.org:80');
  assert.deepEqual(vh.domains, ['httpbin.org', 'httpbin.org:80']);
  assert.equal(vh.routes[0].route.cluster, 'outbound|80||httpbin.org');
  assert.deepEqual(vh.routes[0].route.timeout, { seconds: 3 });
  assert.deepEqual(vh.routes[0].route.retry_policy.num_retries, { value: 2 });
});

test('Sidecar outboundTrafficPolicy REGISTRY_ONLY replaces allow_any with a 502 block_all', () => {
  const pc = makePc([...BOOKINFO_SERVICES, res('Sidecar', 'default', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } })]);
  const [rc] = buildRoutes(pc, proxy(), ['9080']);
  assert.deepEqual(rc.virtual_hosts.at(-1).routes[0].direct_response, { status: 502 });
  assert.ok(!rc.virtual_hosts.some((v: any) => v.name === 'allow_any'));
});

test('gateway route configuration http.<port>: VirtualServices bound to the gateway, hosts matching the servers', () => {
  const config = [
    ...BOOKINFO_SERVICES,
    res('Gateway', 'bookinfo-gateway', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }),
    res('Gateway', 'other-gateway', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['only.example.com'] }] }),
    vs('bookinfo', {
      hosts: ['*'], gateways: ['bookinfo-gateway'],
      http: [{
        match: [{ uri: { exact: '/productpage' } }, { uri: { exact: '/login' } }, { uri: { exact: '/logout' } }, { uri: { prefix: '/api/v1/products' } }],
        route: [{ destination: { host: 'productpage', port: { number: 9080 } } }],
      }],
    }),
    vs('ns-qualified', { hosts: ['only.example.com', 'nomatch.example.com'], gateways: ['default/other-gateway'], http: [{ route: [{ destination: { host: 'details' } }] }] }),
    vs('mesh-only', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] }),
  ];
  const pc = makePc(config);
  const gw = proxy({ type: 'router', name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, podPorts: [] });
  const [rc80, rc8080] = buildRoutes(pc, gw, ['http.80', 'http.8080']);
  assertRoundTrip(ROUTE_TYPE, rc80);
  assertRoundTrip(ROUTE_TYPE, rc8080);
  assert.equal(rc80.name, 'http.80');
  assert.deepEqual(rc80.virtual_hosts.map((v: any) => [v.name, v.domains]), [['*:80', ['*']]]);
  const routes = rc80.virtual_hosts[0].routes;
  assert.deepEqual(routes.map((r: any) => r.match), [{ path: '/productpage' }, { path: '/login' }, { path: '/logout' }, { prefix: '/api/v1/products' }]);
  assert.ok(routes.every((r: any) => r.route.cluster === 'outbound|9080||productpage.default.svc.cluster.local'));
  assert.deepEqual(rc8080.virtual_hosts.map((v: any) => [v.name, v.domains]), [['only.example.com:8080', ['only.example.com', 'only.example.com:8080']]]);
  assert.equal(rc8080.virtual_hosts[0].routes[0].route.cluster, 'outbound|9080||details.default.svc.cluster.local');
  // A proxy the gateway does not select gets nothing.
  const [none] = buildRoutes(pc, proxy({ type: 'router', labels: { istio: 'egressgateway' } }), ['http.80']);
  assert.deepEqual(none.virtual_hosts, []);
});

test('proxyless <fqdn>:<port> and <name>.<ns>:<port>: one virtual host with domains [that name], max_stream_duration, no CORS', () => {
  const pc = makePc([
    ...BOOKINFO_SERVICES, subsetsRule('reviews', ['v1', 'v2']),
    vs('reviews', { hosts: ['reviews'], http: [{ timeout: '2s', corsPolicy: { allowOrigins: [{ exact: 'x' }] }, fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } }, route: [{ destination: { host: 'reviews', subset: 'v2' } }] }] }),
  ]);
  const client = proxy({ name: 'grpc-client', podPorts: [], address: '' });
  const out = buildRoutes(pc, client, [`${REVIEWS}:9080`, 'ratings.default:9080', 'unknown.default:9080', 'reviews.default.svc.cluster.local:1']);
  assert.deepEqual(out.map((r) => r.name), [`${REVIEWS}:9080`, 'ratings.default:9080']);
  for (const rc of out) assertRoundTrip(ROUTE_TYPE, rc);
  const [rv, rt] = out;
  assert.deepEqual(rv.virtual_hosts.map((v: any) => [v.name, v.domains]), [[`${REVIEWS}:9080`, [`${REVIEWS}:9080`]]]);
  const r = rv.virtual_hosts[0].routes[0];
  assert.equal(r.route.cluster, C('v2'));
  assert.deepEqual(r.route.max_stream_duration, { max_stream_duration: { seconds: 2 } });
  assert.deepEqual(Object.keys(r.typed_per_filter_config), ['envoy.filters.http.fault']);
  assert.deepEqual(rt.virtual_hosts[0].domains, ['ratings.default:9080']);
  assert.equal(rt.virtual_hosts[0].routes[0].route.cluster, C('', RATINGS));
});

test('VirtualService hosts that match no service get a virtual host on port 80 only (as Istio)', () => {
  const pc = makePc([
    ...BOOKINFO_SERVICES,
    kubeService('web', [{ name: 'http', port: 80 }]),
    vs('alias', { hosts: ['shop.example.com'], http: [{ route: [{ destination: { host: 'reviews', port: { number: 9080 } } }] }] }),
  ]);
  const [rc80, rc9080] = buildRoutes(pc, proxy(), ['80', '9080']);
  assertRoundTrip(ROUTE_TYPE, rc80);
  const vh = byName(rc80.virtual_hosts, 'shop.example.com:80');
  assert.deepEqual(vh.domains, ['shop.example.com', 'shop.example.com:80']);
  assert.equal(vh.routes[0].route.cluster, C(''));
  assert.ok(!rc9080.virtual_hosts.some((v: any) => v.name.startsWith('shop.example.com')));
});
