import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileTextFormat,
  compileJsonFormat,
  AccessLogFormatError,
  ENVOY_DEFAULT_FORMAT,
  ISTIO_DEFAULT_FORMAT,
} from '../../../src/proxy/telemetry/access-log-format.js';
import { compileTimeFormat } from '../../../src/proxy/telemetry/access-log-time.js';
import { httpInfo } from './telemetry-fixtures.js';

const info = () => {
  const i = httpInfo({
    direction: 'outbound',
    requestHeaders: {
      'user-agent': 'curl/8.0',
      'x-request-id': '9f69865b-eed1-409b-8c12-12436234a191',
      'x-forwarded-for': '10.0.0.1',
      'x-envoy-original-path': '/orig',
      cookie: ['a=1', 'b=2'],
    },
    responseHeaders: { 'x-envoy-upstream-service-time': '11', 'content-type': 'application/json' },
    responseTrailers: { 'grpc-message': 'all good' },
    responseCodeDetails: 'via_upstream',
    upstreamLocalAddress: '127.0.1.1:51000',
    requestedServerName: 'outbound_.9080_._.reviews.default.svc.cluster.local',
    attemptCount: 2,
    grpcStatus: 14,
  });
  i.responseFlags.add('UO');
  i.responseFlags.add('URX');
  return i;
};

test('Envoy default format line', () => {
  const f = compileTextFormat(ENVOY_DEFAULT_FORMAT);
  const i = info();
  delete i.requestHeaders!['x-envoy-original-path'];
  assert.equal(
    f(i),
    '[2024-06-02T13:24:57.930Z] "GET /reviews/0 HTTP/1.1" 200 UO,URX 0 358 12 11 "10.0.0.1" "curl/8.0" ' +
      '"9f69865b-eed1-409b-8c12-12436234a191" "reviews:9080" "127.0.1.3:9080"\n',
  );
});

test('Istio default format line, unknown values are -', () => {
  const f = compileTextFormat(ISTIO_DEFAULT_FORMAT);
  const i = info();
  i.responseHeaders = {};
  assert.equal(
    f(i),
    '[2024-06-02T13:24:57.930Z] "GET /orig HTTP/1.1" 200 UO,URX via_upstream - "-" 0 358 12 - "10.0.0.1" "curl/8.0" ' +
      '"9f69865b-eed1-409b-8c12-12436234a191" "reviews:9080" "127.0.1.3:9080" outbound|9080||reviews.default.svc.cluster.local ' +
      '127.0.1.1:51000 127.0.1.1:9080 127.0.1.1:40312 outbound_.9080_._.reviews.default.svc.cluster.local default\n',
  );
});

test('each command operator', () => {
  const i = info();
  const cases: Array<[string, string]> = [
    ['%START_TIME%', '2024-06-02T13:24:57.930Z'],
    ['%START_TIME(%Y/%m/%dT%H:%M:%S%z %s)%', '2024/06/02T13:24:57+0000 1717334697'],
    ['%START_TIME(%s.%3f)%', '1717334697.930'],
    ['%START_TIME(%s.%6f|%9f)%', '1717334697.930000|930000000'],
    ['%REQ(:METHOD)%', 'GET'],
    ['%REQ(:PATH)%', '/reviews/0'],
    ['%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%', '/orig'],
    ['%REQ(X-MISSING?USER-AGENT)%', 'curl/8.0'],
    ['%REQ(USER-AGENT):4%', 'curl'],
    ['%REQ(X-MISSING)%', '-'],
    ['%REQ(COOKIE)%', 'a=1,b=2'],
    ['%REQ(:AUTHORITY)%', 'reviews:9080'],
    ['%RESP(CONTENT-TYPE)%', 'application/json'],
    ['%RESP(X-NOPE?X-ENVOY-UPSTREAM-SERVICE-TIME)%', '11'],
    ['%TRAILER(GRPC-MESSAGE)%', 'all good'],
    ['%TRAILER(GRPC-MESSAGE):3%', 'all'],
    ['%PROTOCOL%', 'HTTP/1.1'],
    ['%RESPONSE_CODE%', '200'],
    ['%RESPONSE_FLAGS%', 'UO,URX'],
    ['%RESPONSE_CODE_DETAILS%', 'via_upstream'],
    ['%BYTES_RECEIVED%', '0'],
    ['%BYTES_SENT%', '358'],
    ['%DURATION%', '12'],
    ['%UPSTREAM_HOST%', '127.0.1.3:9080'],
    ['%UPSTREAM_CLUSTER%', 'outbound|9080||reviews.default.svc.cluster.local'],
    ['%DOWNSTREAM_REMOTE_ADDRESS%', '127.0.1.1:40312'],
    ['%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', '127.0.1.1'],
    ['%DOWNSTREAM_LOCAL_ADDRESS%', '127.0.1.1:9080'],
    ['%UPSTREAM_LOCAL_ADDRESS%', '127.0.1.1:51000'],
    ['%ROUTE_NAME%', 'default'],
    ['%REQUESTED_SERVER_NAME%', 'outbound_.9080_._.reviews.default.svc.cluster.local'],
    ['%UPSTREAM_TRANSPORT_FAILURE_REASON%', '-'],
    ['%CONNECTION_TERMINATION_DETAILS%', '-'],
    ['%UPSTREAM_REQUEST_ATTEMPT_COUNT%', '2'],
    ['%GRPC_STATUS%', 'Unavailable'],
    ['%GRPC_STATUS_NUMBER%', '14'],
    ['100%% literal? no: %PROTOCOL%!', ''],
  ];
  for (const [fmt, want] of cases) {
    if (fmt.startsWith('100%%')) {
      assert.throws(() => compileTextFormat(fmt), AccessLogFormatError);
      continue;
    }
    assert.equal(compileTextFormat(fmt)(i), want, fmt);
  }
  i.upstreamTransportFailureReason = 'TLS error: 268435581';
  assert.equal(compileTextFormat('%UPSTREAM_TRANSPORT_FAILURE_REASON%')(i), 'TLS error: 268435581');
  process.env.CLEW_TEST_ENV = 'xyz';
  assert.equal(compileTextFormat('%ENVIRONMENT(CLEW_TEST_ENV):2%')(i), 'xy');
});

test('TCP stream: protocol is -, response code 0', () => {
  const i = httpInfo({ direction: 'outbound', protocol: 'TCP', responseCode: undefined, method: undefined, path: undefined });
  assert.equal(compileTextFormat('%PROTOCOL% %RESPONSE_CODE% %REQ(:METHOD)%')(i), '- 0 -');
});

test('unknown or malformed commands are rejected at compile time', () => {
  for (const bad of ['%NOPE%', '%REQ%', '%PROTOCOL(x)%', 'tail %', '%REQ(X-A%', '%DURATION']) {
    assert.throws(() => compileTextFormat(bad), (e: unknown) => e instanceof AccessLogFormatError && e.code === 'ACCESS_LOG_FORMAT', bad);
  }
});

test('JSON: Istio default keys, numbers stay numbers, missing values null, nested objects', () => {
  const f = compileJsonFormat();
  const line = f(info());
  assert.ok(line.endsWith('}\n'));
  const o = JSON.parse(line);
  assert.deepEqual(Object.keys(o), [
    'start_time', 'route_name', 'method', 'path', 'protocol', 'response_code', 'response_flags', 'response_code_details',
    'connection_termination_details', 'bytes_received', 'bytes_sent', 'duration', 'upstream_service_time', 'x_forwarded_for',
    'user_agent', 'request_id', 'authority', 'upstream_host', 'upstream_cluster', 'upstream_local_address',
    'downstream_local_address', 'downstream_remote_address', 'requested_server_name', 'upstream_transport_failure_reason',
  ]);
  assert.equal(o.response_code, 200);
  assert.equal(o.bytes_sent, 358);
  assert.equal(o.duration, 12);
  assert.equal(o.path, '/orig');
  assert.equal(o.connection_termination_details, null);
  assert.equal(o.upstream_service_time, '11');
  const custom = compileJsonFormat({ msg: 'code=%RESPONSE_CODE% ua=%REQ(X-NONE)%', nested: { m: '%REQ(:METHOD)%' }, lit: 'plain' });
  assert.deepEqual(JSON.parse(custom(info())), { msg: 'code=200 ua=-', nested: { m: 'GET' }, lit: 'plain' });
});

test('time format cache returns fresh values for new instants', () => {
  const f = compileTimeFormat(undefined);
  assert.equal(f(0), '1970-01-01T00:00:00.000Z');
  assert.equal(f(1), '1970-01-01T00:00:00.001Z');
  assert.equal(compileTimeFormat('%F %T %j %%')(Date.UTC(2024, 1, 1, 1, 2, 3)), '2024-02-01 01:02:03 032 %');
});
