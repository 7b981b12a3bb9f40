/**
 * envoy.filters.http.ext_authz on a real proxy against the sample authorizer (samples/ext-authz):
 * HTTP and gRPC services allow and deny (the server's status, headers and body reach the client,
 * flag UAEX); a server that is down fails open or closed (status_on_error); one that never answers
 * hits the timeout; with_request_body buffers the body (and refuses more than max_request_bytes
 * with 413); filter_enabled_metadata skips the check; fields that would change who gets in and
 * that the proxy does not implement are NACKed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { StreamInfo } from '../../../src/proxy/core/stream-info.js';
import { closeExtAuthzChannels } from '../../../src/proxy/filters/ext-authz/ext-authz-grpc-client.js';
import { EXT_AUTHZ_TYPE, RBAC_TYPE } from '../../../src/xds/type-urls.js';
import { DENIED_BODY, startExtAuthz, type ExtAuthzServers } from '../../../samples/ext-authz/ext-authz-app.js';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, routerFilter, vhost, virtualOutbound } from '../helpers/resources.js';
import { setAll, startHarness, viaProxy, waitFor, type Harness } from '../helpers/harness.js';
import { startEcho, type EchoServer } from '../helpers/upstreams.js';

const C = 'outbound|9080||web.default.svc.cluster.local';
const AUTHZ_HTTP = 'outbound|8000||ext-authz.default.svc.cluster.local';
const AUTHZ_GRPC = 'outbound|9000||ext-authz.default.svc.cluster.local';
const DOWN = 'outbound|1||down.default.svc.cluster.local';
const SLOW = 'outbound|2||slow.default.svc.cluster.local';
const ALLOW = { 'x-ext-authz': 'allow' };

let echo: EchoServer;
let authz: ExtAuthzServers;
let slow: net.Server;
let slowPort = 0;
let downPort = 0;
let h: Harness;
const infos: StreamInfo[] = [];
const held: net.Socket[] = [];

const names = (...n: string[]) => ({ patterns: n.map((exact) => ({ exact, ignore_case: true })) });
const extAuthz = (cfg: Record<string, unknown>) => ({ name: 'envoy.filters.http.ext_authz', typed_config: { '@type': EXT_AUTHZ_TYPE, transport_api_version: 'V3', ...cfg } });
const httpService = (cluster: string, extra: Record<string, unknown> = {}) => ({
  server_uri: { uri: 'http://ext-authz', cluster, timeout: { seconds: 2 } },
  path_prefix: '/check',
  authorization_request: { allowed_headers: names('x-ext-authz') },
  authorization_response: { allowed_upstream_headers: names('x-ext-authz-check-result'), allowed_client_headers: names('x-ext-authz-check-result') },
  ...extra,
});
const grpcService = (cluster: string, timeout = { seconds: 2 }) => ({ envoy_grpc: { cluster_name: cluster, authority: 'ext-authz' }, timeout });

const PORTS: Record<number, Record<string, unknown>> = {
  9080: { http_service: httpService(AUTHZ_HTTP) },
  9081: { grpc_service: grpcService(AUTHZ_GRPC) },
  9082: { http_service: httpService(DOWN), failure_mode_allow: true, failure_mode_allow_header_add: true },
  9083: { grpc_service: grpcService(DOWN), status_on_error: { code: 'ServiceUnavailable' } },
  9084: { grpc_service: grpcService(SLOW, { nanos: 200_000_000 } as never) },
  9085: { grpc_service: grpcService(AUTHZ_GRPC), with_request_body: { max_request_bytes: 8 } },
  9087: { http_service: httpService(AUTHZ_HTTP, { authorization_response: { allowed_client_headers: names('x-ext-authz-check-received') } }) },
  // Istio's CUSTOM shape: checked only when the shadow RBAC marked the request
  9086: {
    grpc_service: grpcService(AUTHZ_GRPC),
    filter_enabled_metadata: { filter: 'envoy.filters.http.rbac', path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }], value: { string_match: { prefix: 'istio-ext-authz' } } },
  },
};

const shadowRbac = {
  name: 'envoy.filters.http.rbac',
  typed_config: {
    '@type': RBAC_TYPE,
    shadow_rules: { action: 'DENY', policies: { 'istio-ext-authz-ns[default]-policy[p]-rule[0]': { permissions: [{ url_path: { path: { prefix: '/custom' } } }], principals: [{ any: true }] } } },
    shadow_rules_stat_prefix: 'istio_ext_authz_',
  },
};

function resources(extra: Record<number, Record<string, unknown>> = {}) {
  const ports = { ...PORTS, ...extra };
  return {
    clusters: [edsCluster(C), edsCluster(AUTHZ_HTTP), edsCluster(AUTHZ_GRPC), edsCluster(DOWN), edsCluster(SLOW), passthroughCluster()],
    endpoints: [
      assignment(C, [['127.0.0.1', echo.port]]),
      assignment(AUTHZ_HTTP, [['127.0.0.1', authz.httpPort]]),
      assignment(AUTHZ_GRPC, [['127.0.0.1', authz.grpcPort]]),
      assignment(DOWN, [['127.0.0.1', downPort]]),
      assignment(SLOW, [['127.0.0.1', slowPort]]),
    ],
    listeners: [
      virtualOutbound(0),
      ...Object.entries(ports).map(([p, cfg]) => outboundHttpListener(Number(p), [...(p === '9086' ? [shadowRbac] : []), extAuthz(cfg), routerFilter])),
    ],
    routes: Object.keys(ports).map((p) => routeConfig(p, [vhost('web', ['*'], [route({ prefix: '/' }, C)])])),
  };
}

before(async () => {
  echo = await startEcho('web');
  authz = await startExtAuthz('127.0.0.1');
  slow = net.createServer((s) => {
    held.push(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
  slowPort = (slow.address() as net.AddressInfo).port;
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  downPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  h = await startHarness(resources(), { observer: { onRequestComplete: (i) => infos.push(i) } });
});

after(async () => {
  await h.close();
  closeExtAuthzChannels();
  for (const s of held) s.destroy();
  slow.close();
  await authz.close();
  await echo.close();
});

async function infoFor(path: string): Promise<StreamInfo> {
  await waitFor(() => infos.some((i) => i.path === path), 3000, `the access record of ${path}`);
  return infos.find((i) => i.path === path)!;
}

test('HTTP service: allowed with the server\'s upstream header (path_prefix, allowed headers only); denied with its status, header and body, flag UAEX', async () => {
  const before = authz.counters.checks;
  const ok = await viaProxy(h.outbound, 'http://web:9080/hello?x=1', { headers: { ...ALLOW, 'x-not-sent': 'secret' } });
  assert.equal(ok.status, 200);
  const seen = JSON.parse(ok.body) as { headers: Record<string, string> };
  assert.equal(seen.headers['x-ext-authz-check-result'], 'allowed');
  assert.equal(seen.headers['x-ext-authz-check-received'], undefined, 'only allowed_upstream_headers reach the upstream');
  assert.equal(authz.counters.checks, before + 1);
  const denied = await viaProxy(h.outbound, 'http://web:9080/private');
  assert.equal(denied.status, 403);
  assert.equal(denied.body, DENIED_BODY);
  assert.equal(denied.headers['x-ext-authz-check-result'], 'denied');
  assert.equal(denied.headers['x-ext-authz-check-received'], undefined, 'only allowed_client_headers reach the client');
  const info = await infoFor('/private');
  assert.ok(info.responseFlags.has('UAEX'));
  assert.equal(info.responseCodeDetails, 'ext_authz_denied');
  assert.equal(echo.requests.filter((r) => r.url === '/private').length, 0, 'a denied request never reaches the upstream');
});

test('HTTP service: the check request is the client\'s method and path behind path_prefix', async () => {
  // the sample answers what it was asked in x-ext-authz-check-received; let it through to the client on deny
  const res = await viaProxy(h.outbound, 'http://web:9087/a/b?q=1', { method: 'DELETE' });
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-ext-authz-check-received'], 'DELETE /check/a/b?q=1');
});

test('gRPC service: OK adds the server\'s headers upstream; PERMISSION_DENIED answers its denied_response', async () => {
  const ok = await viaProxy(h.outbound, 'http://web:9081/g', { headers: ALLOW });
  assert.equal(ok.status, 200);
  const seen = JSON.parse(ok.body) as { headers: Record<string, string> };
  assert.equal(seen.headers['x-ext-authz-check-result'], 'allowed');
  assert.equal(seen.headers['x-ext-authz-check-received'], 'GET /g');
  const denied = await viaProxy(h.outbound, 'http://web:9081/g-denied', { headers: { 'x-ext-authz': 'nope' } });
  assert.equal(denied.status, 403);
  assert.equal(denied.body, DENIED_BODY);
  assert.equal(denied.headers['x-ext-authz-check-result'], 'denied');
  assert.ok((await infoFor('/g-denied')).responseFlags.has('UAEX'));
});

test('server down: failure_mode_allow lets it through (and says so upstream); otherwise status_on_error', async () => {
  const open = await viaProxy(h.outbound, 'http://web:9082/open');
  assert.equal(open.status, 200);
  assert.equal((JSON.parse(open.body) as { headers: Record<string, string> }).headers['x-envoy-auth-failure-mode-allowed'], 'true');
  const closed = await viaProxy(h.outbound, 'http://web:9083/closed', { headers: ALLOW });
  assert.equal(closed.status, 503);
  const info = await infoFor('/closed');
  assert.ok(info.responseFlags.has('UAEX'));
  assert.equal(info.responseCodeDetails, 'ext_authz_error');
});

test('a server that never answers: the timeout (200 ms) ends the check with the default 403', async () => {
  const t0 = Date.now();
  const res = await viaProxy(h.outbound, 'http://web:9084/slow', { headers: ALLOW });
  const ms = Date.now() - t0;
  assert.equal(res.status, 403);
  assert.ok(ms >= 150 && ms < 1500, `took ${ms} ms`);
  assert.equal((await infoFor('/slow')).responseCodeDetails, 'ext_authz_error');
});

test('with_request_body: the body is held for the check and then reaches the upstream whole; more than max_request_bytes is 413', async () => {
  const ok = await viaProxy(h.outbound, 'http://web:9085/body', { method: 'POST', body: 'hello', headers: ALLOW });
  assert.equal(ok.status, 200);
  assert.equal((JSON.parse(ok.body) as { body: string }).body, 'hello');
  const big = await viaProxy(h.outbound, 'http://web:9085/big', { method: 'POST', body: 'x'.repeat(64), headers: ALLOW });
  assert.equal(big.status, 413);
});

test('filter_enabled_metadata: only requests the shadow RBAC marked are checked', async () => {
  const before = authz.counters.checks;
  assert.equal((await viaProxy(h.outbound, 'http://web:9086/public')).status, 200);
  assert.equal(authz.counters.checks, before, 'no check for a request no CUSTOM rule covers');
  assert.equal((await viaProxy(h.outbound, 'http://web:9086/custom/x')).status, 403);
  assert.equal(authz.counters.checks, before + 1);
});

test('NACKs: google_grpc, metadata context namespaces, a V2 transport, no service, a deny list for the HTTP service; the last good config stays', async () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ grpc_service: { google_grpc: { target_uri: 'x', stat_prefix: 'x' } } }, /grpc_service.google_grpc is not implemented/],
    [{ grpc_service: grpcService(AUTHZ_GRPC), metadata_context_namespaces: ['envoy.filters.http.jwt_authn'] }, /metadata_context_namespaces is not implemented/],
    [{ grpc_service: grpcService(AUTHZ_GRPC), transport_api_version: 'V2' }, /only V3/],
    [{}, /grpc_service or http_service is required/],
    [{ http_service: httpService(AUTHZ_HTTP), disallowed_headers: names('authorization') }, /disallowed_headers with http_service is not implemented/],
  ];
  for (const [cfg, re] of bad) {
    const n = h.xds.nacks.length;
    setAll(h.xds, resources({ 9088: cfg }));
    await waitFor(() => h.xds.nacks.length > n, 3000, `a NACK for ${JSON.stringify(cfg)}`);
    assert.match(h.xds.nacks.at(-1)!.error!, re);
  }
  assert.equal((await viaProxy(h.outbound, 'http://web:9080/still', { headers: ALLOW })).status, 200);
});
