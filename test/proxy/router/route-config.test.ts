/** RouteConfig compiled once: domain precedence, match order, retry policy parsing, validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteConfig } from '../../../src/proxy/router/route-config.js';
import { compileRetryPolicy, retriableResponse, RETRY_5XX, RETRY_CONNECT_FAILURE } from '../../../src/proxy/router/retry-policy.js';
import { parsePerRouteFilterConfig } from '../../../src/proxy/filters/registry.js';
import { ProxyConfigError } from '../../../src/proxy/core/errors.js';
import { FAULT_TYPE } from '../../../src/xds/type-urls.js';

const slot = (name: string) => ({ name, cluster: undefined });
const rc = (vhs: Array<[string, string[]]>) =>
  new RouteConfig({ name: 'r', virtual_hosts: vhs.map(([name, domains]) => ({ name, domains, routes: [{ match: { prefix: '/' }, route: { cluster: name } }] })) }, slot, parsePerRouteFilterConfig);

test('domain precedence: exact, then longest *.suffix, then longest prefix*, then *', () => {
  const r = rc([['star', ['*']], ['suf', ['*.example.com']], ['longsuf', ['*.api.example.com']], ['pre', ['foo.*']], ['exact', ['foo.example.com', 'FOO.example.com:80']]]);
  assert.equal(r.findVirtualHost('foo.example.com')?.name, 'exact');
  assert.equal(r.findVirtualHost('foo.example.com:80')?.name, 'exact');
  assert.equal(r.findVirtualHost('x.api.example.com')?.name, 'longsuf');
  assert.equal(r.findVirtualHost('x.example.com')?.name, 'suf');
  assert.equal(r.findVirtualHost('foo.bar')?.name, 'pre');
  assert.equal(r.findVirtualHost('other')?.name, 'star');
  assert.equal(r.findVirtualHost('X.EXAMPLE.COM')?.name, 'suf');
});

test('first matching route wins; typed_per_filter_config parsed once', () => {
  const r = new RouteConfig({
    name: 'r',
    virtual_hosts: [{
      name: 'v', domains: ['*'], routes: [
        { name: 'a', match: { prefix: '/a' }, route: { cluster: 'A' }, typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': FAULT_TYPE, abort: { http_status: 503, percentage: { numerator: 100 } } } } },
        { name: 'b', match: { prefix: '/' }, route: { cluster: 'B' } },
      ],
    }],
  }, slot, parsePerRouteFilterConfig);
  const a = r.route('x', { path: '/a/1', query: '', headers: {} })!;
  assert.equal(a.name, 'a');
  assert.equal((a.perFilter.get('envoy.filters.http.fault') as { abortStatus: number }).abortStatus, 503);
  assert.equal(r.route('x', { path: '/b', query: '', headers: {} })!.name, 'b');
});

test('invalid route configs throw ProxyConfigError (NACK)', () => {
  assert.throws(() => rc([['a', ['*']], ['b', ['*']]]), ProxyConfigError);
  assert.throws(() => new RouteConfig({ name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: { value: 0 } }] } } }] }] }, slot, parsePerRouteFilterConfig), /total weight 0/);
  assert.throws(() => new RouteConfig({ name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'a' }, typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': FAULT_TYPE, abort: { http_status: 999 } } } }] }] }, slot, parsePerRouteFilterConfig), ProxyConfigError);
});

test('header values that could split an HTTP/1.1 message are rejected when config arrives (NACK)', () => {
  const withRoute = (r: Record<string, unknown>) =>
    new RouteConfig({ name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'a' }, ...r }] }] }, slot, parsePerRouteFilterConfig);
  assert.throws(() => withRoute({ request_headers_to_add: [{ header: { key: 'x-a', value: 'ok\r\nx-evil: 1' } }] }), /headers_to_add: header x-a: value contains a control character/);
  assert.throws(() => withRoute({ response_headers_to_add: [{ header: { key: 'bad name', value: 'v' } }] }), /invalid header name "bad name"/);
  assert.throws(() => withRoute({ route: { cluster: 'a', host_rewrite_literal: 'h\n' } }), /host_rewrite_literal/);
  assert.throws(() => withRoute({ route: { cluster: 'a', prefix_rewrite: '/new HTTP/1.1\r\nx-injected: yes\r\nx-rest:' } }), /route.prefix_rewrite: value contains a space or a control character/);
  assert.throws(() => withRoute({ route: { cluster: 'a', regex_rewrite: { pattern: { regex: '^/a' }, substitution: '/b\n' } } }), /regex_rewrite.substitution/);
  assert.throws(() => withRoute({ route: undefined, redirect: { host_redirect: 'up:8000/x\r\nset-cookie: injected=1' } }), /redirect.host_redirect/);
  assert.throws(() => withRoute({ route: undefined, redirect: { path_redirect: '/x y' } }), /redirect.path_redirect/);
  assert.doesNotThrow(() => withRoute({ route: { cluster: 'a', prefix_rewrite: '/v2/%C3%A9?x=1' } }));
  assert.doesNotThrow(() => withRoute({ request_headers_to_add: [{ header: { key: 'x-a', value: 'tab\tand ünïcode' } }] }));
});

test('retry policy: retry_on bits, counts, backoff, status codes and gRPC statuses', () => {
  const p = compileRetryPolicy({ retry_on: '5xx,connect-failure,retriable-status-codes,unavailable', num_retries: { value: 4 }, retriable_status_codes: [409], per_try_timeout: { seconds: 1 } })!;
  assert.equal(p.retryOn & RETRY_5XX, RETRY_5XX);
  assert.equal(p.retryOn & RETRY_CONNECT_FAILURE, RETRY_CONNECT_FAILURE);
  assert.equal(p.numRetries, 4);
  assert.equal(p.perTryTimeoutMs, 1000);
  assert.equal(p.baseMs, 25);
  assert.equal(p.maxMs, 250);
  assert.ok(retriableResponse(p, 503, undefined));
  assert.ok(retriableResponse(p, 409, undefined));
  assert.ok(!retriableResponse(p, 404, undefined));
  assert.ok(retriableResponse(p, 200, 14));
  assert.ok(!retriableResponse(p, 200, 5));
});

test('require_tls ALL (Gateway httpsRedirect): a request not over TLS gets the 301 to https, a TLS one its route; EXTERNAL_ONLY is a NACK', () => {
  const make = (requireTls: string) => new RouteConfig({
    name: 'r',
    virtual_hosts: [{ name: 'v', domains: ['*'], require_tls: requireTls, routes: [{ name: 'app', match: { prefix: '/' }, route: { cluster: 'a' } }] }],
  }, slot, parsePerRouteFilterConfig);
  const r = make('ALL');
  const plain = r.route('web.example.com', { path: '/x', query: '', headers: { 'x-forwarded-proto': 'http' } })!;
  assert.equal(plain.kind, 'redirect');
  assert.deepEqual({ scheme: plain.redirect!.scheme, status: plain.redirect!.status }, { scheme: 'https', status: 301 });
  assert.equal(r.route('web.example.com', { path: '/x', query: '', headers: { 'x-forwarded-proto': 'https' } })!.name, 'app');
  assert.equal(make('NONE').route('web.example.com', { path: '/x', query: '', headers: { 'x-forwarded-proto': 'http' } })!.name, 'app');
  assert.throws(() => make('EXTERNAL_ONLY'), /require_tls EXTERNAL_ONLY is not supported/);
});
