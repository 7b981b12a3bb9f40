/**
 * Envoy's CEL access-log filter (Istio's Telemetry filter.expression): expressions over Envoy's
 * attribute names evaluated against finished StreamInfos; a missing attribute or header is CEL's
 * "no such key" and the filter does not match (Envoy: evaluation errors do not log); an expression
 * that does not compile rejects the config naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyConfigError } from '../../../src/proxy/core/errors.js';
import { compileAccessLogFilter } from '../../../src/proxy/telemetry/access-log-filter.js';
import { celActivation, responseFlagBits } from '../../../src/proxy/telemetry/access-log-cel.js';
import type { StreamInfo } from '../../../src/proxy/core/stream-info.js';
import { decodeResource, encodeResource } from '../../../src/xds/codec.js';
import { CEL_EXPRESSION_FILTER_TYPE, LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import { hcm, routerFilter } from '../helpers/resources.js';
import { fileAccessLog } from './telemetry-mesh.js';
import { httpInfo } from './telemetry-fixtures.js';

function info(over: Partial<StreamInfo> = {}): StreamInfo {
  return httpInfo({ direction: 'inbound', ...over });
}

function cel(expression: string): (i: StreamInfo) => boolean {
  return compileAccessLogFilter(
    { extension_filter: { name: 'envoy.access_loggers.extension_filters.cel', typed_config: { '@type': CEL_EXPRESSION_FILTER_TYPE, expression } } },
    'access_log[0].filter',
  );
}

test('response.code >= 400 logs failures only', () => {
  const f = cel('response.code >= 400');
  assert.equal(f(info({ responseCode: 200 })), false);
  assert.equal(f(info({ responseCode: 404 })), true);
  assert.equal(f(info({ responseCode: 503 })), true);
  // no response code (a connection reset before any response): no such key, no log
  assert.equal(f(info({ responseCode: undefined })), false);
});

test('headers: a missing header is an error, and an error on one side of || is absorbed as CEL says', () => {
  const f = cel("request.headers['x-debug'] == 'on' || response.code >= 500");
  assert.equal(f(info({ responseCode: 200, requestHeaders: { 'x-debug': 'on' } })), true);
  assert.equal(f(info({ responseCode: 200, requestHeaders: { 'x-debug': 'off' } })), false);
  assert.equal(f(info({ responseCode: 200, requestHeaders: {} })), false); // error || false = error: no log
  assert.equal(f(info({ responseCode: 503, requestHeaders: {} })), true); // error || true = true
  const only = cel("request.headers['x-debug'] == 'on'");
  assert.equal(only(info({ requestHeaders: {} })), false);
  // repeated header values are joined with ',' (Envoy's header map view)
  assert.equal(cel("request.headers['x-tag'] == 'a,b'")(info({ requestHeaders: { 'x-tag': ['a', 'b'] } })), true);
  assert.equal(cel("'x-debug' in request.headers")(info({ requestHeaders: { 'x-debug': '1' } })), true);
  assert.equal(cel("has(request.headers.x)")(info({ requestHeaders: {} })), false);
});

test('connection.mtls: true on an inbound request over ISTIO_MUTUAL, false over plaintext and on the outbound side', () => {
  const f = cel("connection.mtls && request.url_path.startsWith('/reviews')");
  assert.equal(f(info({ connectionSecurityPolicy: 'mutual_tls' })), true);
  assert.equal(f(info({ connectionSecurityPolicy: 'none' })), false);
  assert.equal(f(info({ connectionSecurityPolicy: 'mutual_tls', path: '/ratings/1?x=1' })), false);
  assert.equal(cel('!connection.mtls')(httpInfo({ direction: 'outbound' })), true);
  // inbound without a known policy: the attribute is missing, so neither it nor its negation logs
  assert.equal(cel('connection.mtls')(info()), false);
  assert.equal(cel('!connection.mtls')(info()), false);
});

test('request, response, addresses, upstream and xds attributes map from StreamInfo', () => {
  const i = info({
    path: '/reviews/0?page=2', method: 'POST', responseCode: 201, grpcStatus: 14, bytesReceived: 12, bytesSent: 358,
    responseFlags: new Set(['UF', 'URX']), responseCodeDetails: 'via_upstream', attemptCount: 2, durationMs: 1500,
    requestedServerName: 'outbound_.9080_._.reviews.default.svc.cluster.local',
    requestHeaders: { 'user-agent': 'curl/8.0', 'x-request-id': 'abc', referer: 'http://r/' },
    responseHeaders: { 'content-type': 'application/json' },
  });
  const yes = [
    "request.path == '/reviews/0?page=2' && request.url_path == '/reviews/0' && request.query == 'page=2'",
    "request.method == 'POST' && request.host == 'reviews:9080' && request.protocol == 'HTTP/1.1' && request.scheme == 'http'",
    "request.useragent == 'curl/8.0' && request.id == 'abc' && request.referer == 'http://r/'",
    'request.size == 12 && response.size == 358',
    "request.time > timestamp('2024-01-01T00:00:00Z') && request.time < timestamp('2025-01-01T00:00:00Z')",
    "request.duration > duration('1s') && request.duration < duration('2s')",
    "response.code == 201 && response.code_details == 'via_upstream' && response.grpc_status == 14",
    "response.headers['content-type'].startsWith('application/json')",
    'response.flags == 0x8020', // UF | URX, Envoy's bits
    "source.address == '127.0.1.1:40312' && source.port == 40312 && destination.port == 9080",
    "upstream.address == '127.0.1.3:9080' && upstream.port == 9080 && upstream.request_attempt_count == 2u",
    "xds.cluster_name.startsWith('outbound|9080||') && xds.route_name == 'default'",
    "connection.requested_server_name.endsWith('.svc.cluster.local')",
    "request.path.matches('^/reviews/[0-9]+')",
  ];
  for (const e of yes) assert.equal(cel(e)(i), true, e);
  // a missing attribute: no log, and no log for its negation either
  assert.equal(cel("upstream.transport_failure_reason == ''")(i), false);
  assert.equal(cel("upstream.transport_failure_reason != ''")(i), false);
  assert.equal(responseFlagBits(new Set(['NR', 'DC'])), 0x100 | 0x4000);
});

test('the attributes are built on use: an expression over response.code does not copy the request headers', () => {
  let reads = 0;
  const headers = new Proxy({ a: '1' }, { ownKeys: (t) => { reads++; return Reflect.ownKeys(t); } });
  const i = info({ requestHeaders: headers, responseCode: 500 });
  assert.equal(cel('response.code >= 400')(i), true);
  assert.equal(reads, 0);
  assert.equal(cel("request.headers['a'] == '1'")(i), true);
  assert.equal(reads, 1);
  assert.equal(typeof celActivation(i).xds, 'object');
});

test('a non-bool value does not log; an expression that does not compile rejects the config naming the field', () => {
  // dyn at compile time, an int at run time: Envoy logs only on a bool true
  assert.equal(cel('response.code')(info({ responseCode: 500 })), false);
  assert.throws(() => cel('response.code >='), (e: Error) => e instanceof ProxyConfigError
    && /access_log\[0\]\.filter\.extension_filter\.typed_config\.expression: CEL syntax error: Unexpected token: EOF/.test(e.message));
  assert.throws(() => cel('nope.code == 1'), /expression: CEL type error: Unknown variable: nope/);
  assert.throws(() => cel("request.path + 'x'"), /expression: CEL expression has type string, a filter needs bool/);
  assert.throws(() => compileAccessLogFilter({ extension_filter: { typed_config: { '@type': CEL_EXPRESSION_FILTER_TYPE } } }, 'f'), /f\.extension_filter\.typed_config\.expression: required/);
});

test('inside and_filter with a status-code filter (Istio puts CEL next to its NR filter on listener logs)', () => {
  const f = compileAccessLogFilter({
    and_filter: { filters: [
      { response_flag_filter: { flags: ['NR'] } },
      { extension_filter: { name: 'envoy.access_loggers.extension_filters.cel', typed_config: { '@type': CEL_EXPRESSION_FILTER_TYPE, expression: "request.headers['x-log'] == '1'" } } },
    ] },
  }, 'f');
  assert.equal(f(info({ responseFlags: new Set(['NR']), requestHeaders: { 'x-log': '1' } })), true);
  assert.equal(f(info({ responseFlags: new Set(['NR']), requestHeaders: {} })), false);
  assert.equal(f(info({ responseFlags: new Set(), requestHeaders: { 'x-log': '1' } })), false);
});

test('over the wire: the ExpressionFilter Any survives protobuf encoding (the descriptor knows its type)', () => {
  const l = {
    name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
    filter_chains: [{ filters: [hcm('r', [routerFilter], {
      access_log: [{ ...fileAccessLog('/e.log', { text: '%RESPONSE_CODE%\n' }), filter: { extension_filter: { name: 'envoy.access_loggers.extension_filters.cel', typed_config: { '@type': CEL_EXPRESSION_FILTER_TYPE, expression: 'response.code >= 400' } } } }],
    })] }],
  };
  const decoded = decodeResource(LISTENER_TYPE, encodeResource(LISTENER_TYPE, l));
  const entry = decoded.filter_chains[0].filters[0].typed_config.access_log[0];
  assert.deepEqual(entry.filter.extension_filter.typed_config, { '@type': CEL_EXPRESSION_FILTER_TYPE, expression: 'response.code >= 400' });
  const f = compileAccessLogFilter(entry.filter, 'f');
  assert.equal(f(info({ responseCode: 502 })), true);
  assert.equal(f(info({ responseCode: 204 })), false);
});
