/** Route matching, weighted clusters, redirects, rewrites, header ops, direct responses. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EnvoyResource } from '../../src/xds/codec.js';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, virtualOutbound, vhost } from './helpers/resources.js';
import { startHarness, viaProxy, type Harness } from './helpers/harness.js';
import { startEcho, type EchoServer } from './helpers/upstreams.js';

const A = 'outbound|9080|a|svc.default.svc.cluster.local';
const B = 'outbound|9080|b|svc.default.svc.cluster.local';
let a: EchoServer;
let b: EchoServer;
let h: Harness;

const hdr = (k: string, v: string, action = 'OVERWRITE_IF_EXISTS_OR_ADD'): EnvoyResource => ({ header: { key: k, value: v }, append_action: action });

before(async () => {
  a = await startEcho('a');
  b = await startEcho('b');
  const routes: EnvoyResource[] = [
    route({ path: '/exact' }, A, {}, { name: 'exact' }),
    route({ prefix: '/CaSe', case_sensitive: { value: false } }, B, {}, { name: 'case' }),
    route({ safe_regex: { regex: '/re/[0-9]+' } }, B, {}, { name: 'regex' }),
    route({ prefix: '/h', headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] }, B, {}, { name: 'hdr-exact' }),
    route({ prefix: '/h', headers: [{ name: 'x-p', string_match: { prefix: 'pre' } }] }, B, {}, { name: 'hdr-prefix' }),
    route({ prefix: '/h', headers: [{ name: 'x-s', string_match: { suffix: 'fix' } }] }, B, {}, { name: 'hdr-suffix' }),
    route({ prefix: '/h', headers: [{ name: 'x-r', safe_regex_match: { regex: 'v[0-9]' } }] }, B, {}, { name: 'hdr-regex' }),
    route({ prefix: '/h', headers: [{ name: 'x-present', present_match: true }] }, B, {}, { name: 'hdr-present' }),
    route({ prefix: '/h', headers: [{ name: 'x-not', string_match: { exact: 'no' }, invert_match: true }, { name: 'x-inv', present_match: true }] }, B, {}, { name: 'hdr-invert' }),
    route({ prefix: '/h' }, A, {}, { name: 'hdr-default' }),
    route({ prefix: '/q', query_parameters: [{ name: 'v', string_match: { exact: '2' } }] }, B, {}, { name: 'query' }),
    route({ prefix: '/split' }, '', { cluster: undefined, weighted_clusters: { clusters: [
      { name: A, weight: { value: 75 }, request_headers_to_add: [hdr('x-target', 'a')], response_headers_to_add: [hdr('x-wc', 'a')] },
      { name: B, weight: { value: 25 }, request_headers_to_add: [hdr('x-target', 'b')] },
    ] } }, { name: 'split' }),
    { name: 'redirect', match: { prefix: '/old' }, redirect: { path_redirect: '/new', host_redirect: 'example.com', response_code: 'FOUND' } },
    { name: 'redirect-port', match: { prefix: '/port' }, redirect: { port_redirect: 8443, scheme_redirect: 'https' } },
    route({ prefix: '/api/v1/' }, A, { prefix_rewrite: '/v2/' }, { name: 'prefix-rewrite' }),
    route({ prefix: '/rx/' }, A, { regex_rewrite: { pattern: { regex: '^/rx/([a-z]+)/(\\d+)$' }, substitution: '/\\2/\\1' } }, { name: 'regex-rewrite' }),
    route({ prefix: '/rwhost' }, A, { host_rewrite_literal: 'rewritten.example' }, { name: 'host-rewrite' }),
    route({ prefix: '/ops' }, A, {}, {
      name: 'ops',
      request_headers_to_add: [hdr('x-route', 'r'), hdr('x-append', 'two', 'APPEND_IF_EXISTS_OR_ADD')],
      request_headers_to_remove: ['x-drop'],
      response_headers_to_add: [hdr('x-route-resp', 'r')],
      response_headers_to_remove: ['x-served-by'],
    }),
    { name: 'direct', match: { prefix: '/direct' }, direct_response: { status: 418, body: { inline_string: 'teapot' } } },
    route({ prefix: '/' }, A, {}, { name: 'default' }),
  ];
  h = await startHarness({
    clusters: [edsCluster(A), edsCluster(B), passthroughCluster()],
    endpoints: [assignment(A, [['127.0.0.1', a.port]]), assignment(B, [['127.0.0.1', b.port]])],
    listeners: [virtualOutbound(0), outboundHttpListener(9080)],
    routes: [
      routeConfig('9080', [
        vhost('svc', ['svc', 'svc:9080', 'svc.default', 'svc.default:9080'], routes, {
          request_headers_to_add: [hdr('x-vhost', 'v')],
          response_headers_to_add: [hdr('x-vhost-resp', 'v')],
        }),
        vhost('suffix', ['*.wild.test', '*.wild.test:9080'], [route({ prefix: '/' }, B)]),
        vhost('prefix', ['pre.*'], [route({ prefix: '/' }, B)]),
      ], { response_headers_to_add: [hdr('x-rc-resp', 'rc')] }),
    ],
  });
});

after(async () => {
  await h.close();
  await a.close();
  await b.close();
});

async function served(path: string, headers: Record<string, string> = {}, host = 'svc:9080'): Promise<string> {
  const r = await viaProxy(h.outbound, `http://${host}${path}`, { headers });
  assert.equal(r.status, 200, `${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body).name;
}

test('path matchers: exact, case-insensitive prefix, safe_regex', async () => {
  assert.equal(await served('/exact'), 'a');
  assert.equal(await served('/exact/more'), 'a');
  assert.equal(await served('/case/x'), 'b');
  assert.equal(await served('/re/42'), 'b');
  assert.equal(await served('/re/x'), 'a');
});

test('header matchers: exact, prefix, suffix, regex, present, invert', async () => {
  assert.equal(await served('/h', { 'end-user': 'jason' }), 'b');
  assert.equal(await served('/h', { 'end-user': 'bob' }), 'a');
  assert.equal(await served('/h', { 'x-p': 'prefix' }), 'b');
  assert.equal(await served('/h', { 'x-s': 'suffix' }), 'b');
  assert.equal(await served('/h', { 'x-r': 'v3' }), 'b');
  assert.equal(await served('/h', { 'x-r': 'w' }), 'a');
  assert.equal(await served('/h', { 'x-present': '' }), 'b');
  assert.equal(await served('/h', { 'x-inv': '1', 'x-not': 'yes' }), 'b');
  assert.equal(await served('/h', { 'x-inv': '1', 'x-not': 'no' }), 'a');
});

test('query parameter matcher', async () => {
  assert.equal(await served('/q?v=2'), 'b');
  assert.equal(await served('/q?v=1'), 'a');
});

test('virtual host domains: short name, name.ns, *.suffix, prefix*, unknown -> 404 NR', async () => {
  assert.equal(await served('/', {}, 'svc.default:9080'), 'a');
  assert.equal(await served('/', {}, 'x.wild.test:9080'), 'b');
  assert.equal(await served('/', {}, 'pre.anything:9080'), 'b');
  const r = await viaProxy(h.outbound, 'http://nobody:9080/');
  assert.equal(r.status, 404);
  assert.equal(r.body, '');
});

test('weighted clusters split roughly by weight, with per-cluster header ops', async () => {
  const counts: Record<string, number> = { a: 0, b: 0 };
  for (let i = 0; i < 200; i++) {
    const r = await viaProxy(h.outbound, 'http://svc:9080/split');
    const body = JSON.parse(r.body);
    counts[body.name]++;
    assert.equal(body.headers['x-target'], body.name);
    assert.equal(r.headers['x-wc'], body.name === 'a' ? 'a' : undefined);
  }
  assert.ok(counts.a > 110 && counts.a < 190, JSON.stringify(counts));
  assert.ok(counts.b > 10, JSON.stringify(counts));
});

test('redirects: path+host with 302, port+scheme with 301', async () => {
  const r = await viaProxy(h.outbound, 'http://svc:9080/old?x=1');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'http://example.com/new?x=1');
  const r2 = await viaProxy(h.outbound, 'http://svc:9080/port/a');
  assert.equal(r2.status, 301);
  assert.equal(r2.headers.location, 'https://svc:8443/port/a');
});

test('rewrites: prefix, regex, host', async () => {
  const r = JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/api/v1/products?id=1')).body);
  assert.equal(r.url, '/v2/products?id=1');
  const r2 = JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/rx/abc/42')).body);
  assert.equal(r2.url, '/42/abc');
  const r3 = JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/rwhost')).body);
  assert.equal(r3.headers.host, 'rewritten.example');
});

test('header add/set/remove at route, virtual host and route config level', async () => {
  const r = await viaProxy(h.outbound, 'http://svc:9080/ops', { headers: { 'x-drop': '1', 'x-append': 'one', 'x-route': 'client' } });
  const body = JSON.parse(r.body);
  assert.equal(body.headers['x-route'], 'r');
  assert.equal(body.headers['x-append'], 'one, two');
  assert.equal(body.headers['x-drop'], undefined);
  assert.equal(body.headers['x-vhost'], 'v');
  assert.equal(r.headers['x-route-resp'], 'r');
  assert.equal(r.headers['x-vhost-resp'], 'v');
  assert.equal(r.headers['x-rc-resp'], 'rc');
  assert.equal(r.headers['x-served-by'], undefined);
  assert.match(String(r.headers['x-envoy-upstream-service-time']), /^\d+$/);
  assert.equal(body.headers['x-envoy-attempt-count'], '1');
  assert.equal(body.headers['x-forwarded-proto'], 'http');
});

test('direct_response answers locally', async () => {
  const r = await viaProxy(h.outbound, 'http://svc:9080/direct');
  assert.equal(r.status, 418);
  assert.equal(r.body, 'teapot');
});

test('x-request-id is kept when the client sends one', async () => {
  const body = JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/', { headers: { 'x-request-id': 'abc' } })).body);
  assert.equal(body.headers['x-request-id'], 'abc');
});
