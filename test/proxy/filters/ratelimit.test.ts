/**
 * envoy.filters.http.ratelimit on a real proxy against a real gRPC rate limit service (a small
 * RateLimitService in this test that records what it is asked and answers as scripted by the
 * request's x-answer header): the descriptors each route action produces (request_headers with
 * :path and skip_if_absent, remote_address, generic_key, header_value_match, destination_cluster,
 * source_cluster), the route's own limits overriding the virtual host's unless
 * include_vh_rate_limits, stages; OVER_LIMIT as 429 x-envoy-ratelimited with flag RL and the
 * service's body and headers; a service that is down or too slow under failure_mode_deny (500,
 * RLSE) or not (through, counted); NACKs for what the proxy does not implement.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { StreamInfo } from '../../../src/proxy/core/stream-info.js';
import { closeGrpcSideCallChannels } from '../../../src/proxy/grpc-client/grpc-unary-client.js';
import { lookupType } from '../../../src/xds/proto-root.js';
import { RATELIMIT_TYPE } from '../../../src/xds/type-urls.js';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, routerFilter, vhost, virtualOutbound } from '../helpers/resources.js';
import { setAll, startHarness, viaProxy, waitFor, type Harness } from '../helpers/harness.js';
import { startEcho, type EchoServer } from '../helpers/upstreams.js';

const C = 'outbound|9080||web.default.svc.cluster.local';
const RLS = 'outbound|8081||ratelimit.default.svc.cluster.local';
const DOWN = 'outbound|1||down.default.svc.cluster.local';

let echo: EchoServer;
let rls: grpc.Server;
let rlsPort = 0;
let downPort = 0;
let h: Harness;
const infos: StreamInfo[] = [];
const asked: Array<{ domain: string; descriptors: Array<Array<[string, string]>> }> = [];

/** Answers by the first descriptor entry `answer`: over, slow, bad; OK otherwise (with headers for the client and upstream). */
async function startRls(): Promise<void> {
  const req = lookupType('envoy.service.ratelimit.v3.RateLimitRequest');
  const res = lookupType('envoy.service.ratelimit.v3.RateLimitResponse');
  rls = new grpc.Server();
  rls.addService({
    ShouldRateLimit: {
      path: '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit', requestStream: false, responseStream: false,
      requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
    },
  }, {
    ShouldRateLimit: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const r = req.toObject(req.decode(call.request)) as { domain: string; descriptors?: Array<{ entries?: Array<{ key: string; value: string }> }> };
      const descriptors = (r.descriptors ?? []).map((d) => (d.entries ?? []).map((e): [string, string] => [e.key, e.value]));
      asked.push({ domain: r.domain, descriptors });
      const answer = descriptors.flat().find(([k]) => k === 'answer')?.[1] ?? 'ok';
      const send = (o: object): void => cb(null, Buffer.from(res.encode(res.fromObject(o)).finish()));
      if (answer === 'slow') return void setTimeout(() => send({ overall_code: 'OK' }), 1500);
      if (answer === 'bad') return cb(null, Buffer.from([0xff, 0xff, 0xff]));
      if (answer === 'over') {
        return send({ overall_code: 'OVER_LIMIT', raw_body: Buffer.from('slow down'), response_headers_to_add: [{ key: 'x-rls', value: 'over' }] });
      }
      send({ overall_code: answer === 'unknown' ? 'UNKNOWN' : 'OK', response_headers_to_add: [{ key: 'x-rls', value: 'ok' }], request_headers_to_add: [{ key: 'x-rls-upstream', value: 'yes' }] });
    },
  });
  rlsPort = await new Promise<number>((resolve, reject) => rls.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
}

const rlFilter = (cfg: Record<string, unknown> = {}) => ({
  name: 'envoy.filters.http.ratelimit',
  typed_config: {
    '@type': RATELIMIT_TYPE,
    domain: 'test',
    timeout: { nanos: 300_000_000 },
    rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: RLS, authority: 'ratelimit' } }, transport_api_version: 'V3' },
    ...cfg,
  },
});

const answerAction = { request_headers: { header_name: 'x-answer', descriptor_key: 'answer', skip_if_absent: true } };
const VHOST_LIMITS = [
  { actions: [{ request_headers: { header_name: ':path', descriptor_key: 'PATH' } }, answerAction] },
  { actions: [{ remote_address: {} }, { generic_key: { descriptor_value: 'per-client' } }] },
  { actions: [{ header_value_match: { descriptor_value: 'beta', headers: [{ name: 'x-beta', present_match: true }] } }] },
  { actions: [{ header_value_match: { descriptor_key: 'not_get', descriptor_value: 'yes', expect_match: { value: false }, headers: [{ name: ':method', string_match: { exact: 'GET' } }] } }] },
  { stage: { value: 1 }, actions: [{ generic_key: { descriptor_value: 'stage-one' } }] },
  { actions: [{ request_headers: { header_name: 'x-required', descriptor_key: 'required' } }] },
];
const routes = [
  // the route's own limits replace the virtual host's
  route({ prefix: '/own' }, C, { rate_limits: [{ actions: [{ destination_cluster: {} }, { source_cluster: {} }, answerAction] }] }),
  route({ prefix: '/both' }, C, { rate_limits: [{ actions: [{ generic_key: { descriptor_key: 'route', descriptor_value: 'both' } }] }], include_vh_rate_limits: { value: true } }),
  route({ prefix: '/' }, C),
];

const PORTS: Record<number, Record<string, unknown>> = {
  9080: {},
  9081: { failure_mode_deny: true },
  9082: { failure_mode_deny: true, rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: DOWN } }, transport_api_version: 'V3' } },
  9083: { rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: DOWN } }, transport_api_version: 'V3' }, stat_prefix: 'open' },
  9084: { stage: 1 },
  9085: { rate_limited_as_resource_exhausted: true, disable_x_envoy_ratelimited_header: true, rate_limited_status: { code: 'ServiceUnavailable' }, response_headers_to_add: [{ header: { key: 'x-limited-by', value: 'clew' } }] },
};

function resources(extra: Record<number, Record<string, unknown>> = {}) {
  const ports = { ...PORTS, ...extra };
  return {
    clusters: [edsCluster(C), edsCluster(RLS, { http2_protocol_options: {} }), edsCluster(DOWN), passthroughCluster()],
    endpoints: [assignment(C, [['127.0.0.1', echo.port]]), assignment(RLS, [['127.0.0.1', rlsPort]]), assignment(DOWN, [['127.0.0.1', downPort]])],
    listeners: [virtualOutbound(0), ...Object.entries(ports).map(([p, cfg]) => outboundHttpListener(Number(p), [rlFilter(cfg), routerFilter]))],
    routes: Object.keys(ports).map((p) => routeConfig(p, [vhost('web', ['*'], routes, { rate_limits: VHOST_LIMITS })])),
  };
}

before(async () => {
  echo = await startEcho('web');
  await startRls();
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  downPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  h = await startHarness(resources(), { observer: { onRequestComplete: (i) => infos.push(i) } });
});

after(async () => {
  await h.close();
  closeGrpcSideCallChannels();
  rls.forceShutdown();
  await echo.close();
});

async function infoFor(path: string): Promise<StreamInfo> {
  await waitFor(() => infos.some((i) => i.path === path), 3000, `the access record of ${path}`);
  return infos.find((i) => i.path === path)!;
}

function lastAsked(): Array<Array<[string, string]>> {
  return asked.at(-1)!.descriptors;
}

const stat = async (name: string): Promise<number> => {
  const text = (await h.admin('/stats')).body;
  const line = text.split('\n').find((l: string) => l.startsWith(`${name}: `));
  return line ? Number(line.slice(name.length + 2)) : 0;
};

test('virtual host actions: :path, remote_address + generic_key, header_value_match (present / expect_match false on :method); a missing header drops its descriptor; OK passes with the service\'s headers', async () => {
  const res = await viaProxy(h.outbound, 'http://web:9080/page?q=1', { method: 'POST', headers: { 'x-beta': '1' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-rls'], 'ok', 'response_headers_to_add reach the client');
  assert.equal((JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-rls-upstream'], 'yes', 'request_headers_to_add reach the upstream');
  assert.equal(asked.at(-1)!.domain, 'test');
  assert.deepEqual(lastAsked(), [
    [['PATH', '/page?q=1']],
    [['remote_address', '127.0.0.1'], ['generic_key', 'per-client']],
    [['header_match', 'beta']],
    [['not_get', 'yes']],
  ]);
  await viaProxy(h.outbound, 'http://web:9080/get', { headers: { 'x-required': 'r' } });
  assert.deepEqual(lastAsked(), [[['PATH', '/get']], [['remote_address', '127.0.0.1'], ['generic_key', 'per-client']], [['required', 'r']]]);
});

test('route limits replace the virtual host\'s (destination_cluster, source_cluster); include_vh_rate_limits adds them; another stage sees only its own', async () => {
  await viaProxy(h.outbound, 'http://web:9080/own');
  const own = lastAsked();
  assert.equal(own.length, 1);
  assert.deepEqual(own[0][0], ['destination_cluster', C]);
  assert.equal(own[0][1][0], 'source_cluster');
  await viaProxy(h.outbound, 'http://web:9080/both');
  assert.deepEqual(lastAsked()[0], [['route', 'both']]);
  assert.deepEqual(lastAsked()[1], [['PATH', '/both']]);
  await viaProxy(h.outbound, 'http://web:9084/x');
  assert.deepEqual(lastAsked(), [[['generic_key', 'stage-one']]]);
});

test('OVER_LIMIT: 429 with x-envoy-ratelimited, the service\'s body and headers, flag RL; UNKNOWN lets the request through (Envoy)', async () => {
  const before = echo.requests.length;
  const res = await viaProxy(h.outbound, 'http://web:9080/limited', { headers: { 'x-answer': 'over' } });
  assert.equal(res.status, 429);
  assert.equal(res.headers['x-envoy-ratelimited'], 'true');
  assert.equal(res.headers['x-rls'], 'over');
  assert.equal(res.body, 'slow down');
  assert.equal(echo.requests.length, before, 'a limited request never reaches the upstream');
  const info = await infoFor('/limited');
  assert.ok(info.responseFlags.has('RL'));
  assert.equal(info.responseCodeDetails, 'request_rate_limited');
  assert.ok((await stat(`cluster.${C}.ratelimit.over_limit`)) >= 1);
  assert.equal((await viaProxy(h.outbound, 'http://web:9080/unknown', { headers: { 'x-answer': 'unknown' } })).status, 200);
  // rate_limited_status, no x-envoy-ratelimited, response_headers_to_add
  const custom = await viaProxy(h.outbound, 'http://web:9085/limited2', { headers: { 'x-answer': 'over' } });
  assert.equal(custom.status, 503);
  assert.equal(custom.headers['x-envoy-ratelimited'], undefined);
  assert.equal(custom.headers['x-limited-by'], 'clew');
});

test('errors: service down or too slow or a bad answer — failure_mode_deny answers 500 (RLSE), otherwise the request passes (failure_mode_allowed)', async () => {
  const down = await viaProxy(h.outbound, 'http://web:9082/down');
  assert.equal(down.status, 500);
  const info = await infoFor('/down');
  assert.ok(info.responseFlags.has('RLSE'));
  assert.equal(info.responseCodeDetails, 'rate_limiter_error');
  const open = await viaProxy(h.outbound, 'http://web:9083/open');
  assert.equal(open.status, 200);
  assert.ok((await stat(`cluster.${C}.ratelimit.open.failure_mode_allowed`)) >= 1);
  assert.ok((await stat(`cluster.${C}.ratelimit.open.error`)) >= 1);
  const t0 = Date.now();
  const slow = await viaProxy(h.outbound, 'http://web:9081/slow', { headers: { 'x-answer': 'slow' } });
  assert.equal(slow.status, 500, 'past the 300 ms timeout');
  assert.ok(Date.now() - t0 < 1400, `took ${Date.now() - t0} ms`);
  assert.equal((await viaProxy(h.outbound, 'http://web:9081/bad', { headers: { 'x-answer': 'bad' } })).status, 500);
  assert.equal((await viaProxy(h.outbound, 'http://web:9080/bad-open', { headers: { 'x-answer': 'bad' } })).status, 200);
});

test('NACKs: google_grpc, x-ratelimit headers, an unknown action, limit overrides, no domain; the last good config stays', async () => {
  const bad: Array<[Record<number, Record<string, unknown>>, RegExp]> = [
    [{ 9086: { rate_limit_service: { grpc_service: { google_grpc: { target_uri: 'x', stat_prefix: 'x' } }, transport_api_version: 'V3' } } }, /grpc_service.google_grpc is not implemented/],
    [{ 9086: { enable_x_ratelimit_headers: 'DRAFT_VERSION_03' } }, /enable_x_ratelimit_headers/],
    [{ 9086: { domain: '' } }, /domain is required/],
  ];
  for (const [extra, re] of bad) {
    const n = h.xds.nacks.length;
    setAll(h.xds, resources(extra));
    await waitFor(() => h.xds.nacks.length > n, 3000, `a NACK for ${JSON.stringify(extra)}`);
    assert.match(h.xds.nacks.at(-1)!.error!, re);
  }
  const badRoutes: Array<[Record<string, unknown>, RegExp]> = [
    [{ actions: [{ masked_remote_address: { v4_prefix_mask_len: { value: 24 } } }] }, /masked_remote_address is not implemented/],
    [{ actions: [{ generic_key: { descriptor_value: 'x' } }], limit: { dynamic_metadata: { metadata_key: { key: 'k', path: [{ key: 'p' }] } } } }, /limit is not implemented/],
  ];
  for (const [rl, re] of badRoutes) {
    const n = h.xds.nacks.length;
    const r = resources();
    r.routes = r.routes.map((rc) => ({ ...rc, virtual_hosts: (rc.virtual_hosts as Array<Record<string, unknown>>).map((v) => ({ ...v, rate_limits: [rl] })) }));
    setAll(h.xds, r);
    await waitFor(() => h.xds.nacks.length > n, 3000, `a NACK for ${JSON.stringify(rl)}`);
    assert.match(h.xds.nacks.at(-1)!.error!, re);
  }
  setAll(h.xds, resources());
  assert.equal((await viaProxy(h.outbound, 'http://web:9080/still')).status, 200);
});
