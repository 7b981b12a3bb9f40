/**
 * envoy.filters.http.rbac and envoy.filters.network.rbac on a real proxy (config over ADS):
 * ALLOW / DENY / LOG decisions and their precedence across filters, every permission and
 * principal kind the builder emits, the 403 local reply (and gRPC's PERMISSION_DENIED), the
 * response code details, counters, shadow rules, and NACKs for rule kinds the proxy lacks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { StreamInfo } from '../../../src/proxy/core/stream-info.js';
import { LISTENER_TYPE, NETWORK_RBAC_TYPE, RBAC_TYPE } from '../../../src/xds/type-urls.js';
import { compilePermission, compilePrincipal, compileRbac, evaluateRbac } from '../../../src/proxy/filters/rbac/rbac-engine.js';
import type { ConnectionContext } from '../../../src/proxy/core/connection-context.js';
import {
  assignment, edsCluster, hcm, outboundHttpListener, passthroughCluster, route, routeConfig, routerFilter, socketAddress, vhost, virtualOutbound,
} from '../helpers/resources.js';
import { setAll, startHarness, viaProxy, waitFor, type Harness } from '../helpers/harness.js';
import { startEcho, type EchoServer } from '../helpers/upstreams.js';

const C = 'outbound|9080||ratings.default.svc.cluster.local';
const TCP_C = 'tcp-echo';
let echo: EchoServer;
let tcpEcho: net.Server;
let tcpPort = 0;
let h: Harness;
const infos: StreamInfo[] = [];

const rbac = (cfg: Record<string, unknown>) => ({ name: 'envoy.filters.http.rbac', typed_config: { '@type': RBAC_TYPE, ...cfg } });
const anyPrincipal = [{ any: true }];
const pathIs = (p: string) => ({ url_path: { path: { exact: p } } });

const DENY_ADMIN = rbac({
  rules: {
    action: 'DENY',
    policies: {
      'ns[default]-policy[deny-admin]-rule[0]': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: anyPrincipal },
      'ns[default]-policy[deny-delete]-rule[0]': {
        permissions: [{ and_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'DELETE' } } }, { not_rule: pathIs('/public') }] } }],
        principals: anyPrincipal,
      },
    },
  },
});
const AUDIT = rbac({ rules: { action: 'LOG', policies: { audit: { permissions: [pathIs('/audited')], principals: anyPrincipal } } } });
const ALLOW = rbac({
  rules: {
    policies: {
      'ns[default]-policy[viewer]-rule[0]': {
        permissions: [{ or_rules: { rules: [{ url_path: { path: { prefix: '/' } } }] } }],
        principals: [{ and_ids: { ids: [{ direct_remote_ip: { address_prefix: '127.0.0.0', prefix_len: { value: 8 } } }, { header: { name: 'x-user', string_match: { exact: 'alice' } } }] } }],
      },
      'ns[default]-policy[ports]-rule[0]': { permissions: [{ destination_port: 9999 }], principals: anyPrincipal },
      'ns[default]-policy[mtls]-rule[0]': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/default/sa/sleep' } } }] },
    },
  },
  shadow_rules: { action: 'DENY', policies: { 'dry-run': { permissions: [pathIs('/shadow')], principals: anyPrincipal } } },
  shadow_rules_stat_prefix: 'istio_dry_run_deny_',
});

function tcpListener(port: number, filters: Record<string, unknown>[]): Record<string, unknown> {
  return {
    name: `0.0.0.0_${port}`,
    address: socketAddress('0.0.0.0', port),
    bind_to_port: { value: false },
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ filters: [...filters, { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: TCP_C, cluster: TCP_C } }] }],
  };
}

const networkRbac = (rules: Record<string, unknown>) => ({ name: 'envoy.filters.network.rbac', typed_config: { '@type': NETWORK_RBAC_TYPE, stat_prefix: 'tcp.', rules } });

function resources() {
  return {
    clusters: [edsCluster(C), edsCluster(TCP_C), passthroughCluster()],
    endpoints: [assignment(C, [['127.0.0.1', echo.port]]), assignment(TCP_C, [['127.0.0.1', tcpPort]])],
    listeners: [
      virtualOutbound(0),
      outboundHttpListener(9080, [DENY_ADMIN, AUDIT, ALLOW, routerFilter]),
      tcpListener(9100, [networkRbac({ action: 'DENY', policies: { 'deny-port': { permissions: [{ destination_port: 9100 }], principals: anyPrincipal } } })]),
      tcpListener(9101, [networkRbac({ policies: { 'loopback': { permissions: [{ any: true }], principals: [{ direct_remote_ip: { address_prefix: '127.0.0.1', prefix_len: { value: 32 } } }] } } })]),
    ],
    routes: [routeConfig('9080', [vhost('ratings', ['ratings:9080', '*'], [route({ prefix: '/' }, C)])])],
  };
}

before(async () => {
  echo = await startEcho('ratings');
  tcpEcho = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(`echo:${d.toString()}`));
  });
  await new Promise<void>((r) => tcpEcho.listen(0, '127.0.0.1', () => r()));
  tcpPort = (tcpEcho.address() as net.AddressInfo).port;
  h = await startHarness(resources(), { observer: { onRequestComplete: (i) => infos.push(i) } });
});

after(async () => {
  await h.close();
  await echo.close();
  tcpEcho.close();
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => viaProxy(h.outbound, `http://ratings:9080${path}`, { headers, method });
const alice = { 'x-user': 'alice' };

async function infoFor(path: string): Promise<StreamInfo> {
  await waitFor(() => infos.some((i) => i.path === path));
  return infos.filter((i) => i.path === path).at(-1)!;
}

test('ALLOW: principals ANDed (source address and header), 403 "RBAC: access denied" with details none', async () => {
  const ok = await get('/ratings/1', alice);
  assert.equal(ok.status, 200);
  const r = await get('/ratings/2', { 'x-user': 'bob' });
  assert.equal(r.status, 403);
  assert.equal(r.body, 'RBAC: access denied');
  assert.equal(r.headers['content-type'], 'text/plain');
  const info = await infoFor('/ratings/2');
  assert.equal(info.responseCodeDetails, 'rbac_access_denied_matched_policy[none]');
  assert.equal(info.responseFlags.size, 0, 'Envoy has no response flag for RBAC');
});

test('DENY comes first and names its policy; and_rules with not_rule', async () => {
  const r = await get('/admin/users', alice);
  assert.equal(r.status, 403);
  assert.equal((await infoFor('/admin/users')).responseCodeDetails, 'rbac_access_denied_matched_policy[ns[default]-policy[deny-admin]-rule[0]]');
  assert.equal((await get('/items', alice, 'DELETE')).status, 403);
  assert.equal((await infoFor('/items')).responseCodeDetails, 'rbac_access_denied_matched_policy[ns[default]-policy[deny-delete]-rule[0]]');
  assert.equal((await get('/public', alice, 'DELETE')).status, 200, 'not_rule excludes /public');
});

test('LOG never denies; shadow rules count and leave the request alone', async () => {
  assert.equal((await get('/audited', alice)).status, 200);
  assert.equal((await get('/shadow', alice)).status, 200);
  // Envoy's contract with access loggers: a LOG match sets envoy.common access_log_hint
  assert.equal((await infoFor('/audited')).dynamicMetadata?.['envoy.common']?.access_log_hint, true);
  assert.equal((await infoFor('/shadow')).dynamicMetadata?.['envoy.common']?.access_log_hint, undefined, 'no LOG policy matched /shadow');
  const stats = (await h.admin('/stats')).body;
  assert.match(stats, /http\.9080\.rbac\.istio_dry_run_deny_shadow_denied: [1-9]/);
  assert.match(stats, /http\.9080\.rbac\.denied: [1-9]/);
  assert.match(stats, /http\.9080\.rbac\.allowed: [1-9]/);
});

test('gRPC callers get PERMISSION_DENIED (trailers-only)', async () => {
  const port = h.outbound;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const s = session.request({ ':method': 'POST', ':path': '/pkg.Svc/Call', ':authority': 'ratings:9080', 'content-type': 'application/grpc', te: 'trailers', 'x-user': 'eve' });
      s.on('response', (hd) => resolve(hd));
      s.on('error', reject);
      s.end(Buffer.from([0, 0, 0, 0, 0]));
    });
    assert.equal(headers[':status'], 200);
    assert.equal(headers['grpc-status'], '7');
    assert.equal(decodeURIComponent(String(headers['grpc-message'])), 'RBAC: access denied');
  } finally {
    session.close();
  }
});

function tcpRoundTrip(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(h.outbound, '127.0.0.1', () => s.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`));
    let got = '';
    let tunnelled = false;
    s.on('data', (d) => {
      got += d.toString();
      if (!tunnelled && got.includes('\r\n\r\n')) {
        tunnelled = true;
        got = '';
        s.write('ping');
      }
      if (got.includes('echo:ping')) s.destroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    setTimeout(() => s.destroy(), 3000).unref();
  });
}

test('network RBAC: DENY closes the connection without a reply; ALLOW by source address lets it through', async () => {
  assert.equal(await tcpRoundTrip(9100), '');
  assert.equal(await tcpRoundTrip(9101), 'echo:ping');
  const stats = (await h.admin('/stats')).body;
  assert.match(stats, /tcp\.rbac\.denied: [1-9]/);
  assert.match(stats, /tcp\.rbac\.allowed: [1-9]/);
});

test('rule kinds the proxy does not implement are NACKed, never skipped; the last good config stays', async () => {
  const bad = [
    rbac({ rules: { policies: { p: { permissions: [{ any: true }], principals: anyPrincipal, condition: { const_expr: { bool_value: true } } } } } }),
    rbac({ rules: { policies: { p: { permissions: [{ uri_template: { path_template: '/x/{y}' } }], principals: anyPrincipal } } } }),
    rbac({ matcher: {} }),
    rbac({ rules: { policies: { p: { permissions: [{ any: true }], principals: [{ filter_state: { key: 'k', string_match: { exact: 'v' } } }] } } } }),
  ];
  for (const [i, f] of bad.entries()) {
    const before = h.xds.nacks.length;
    const r = resources();
    r.listeners[1] = outboundHttpListener(9080, [f, routerFilter]);
    setAll(h.xds, { listeners: r.listeners });
    await waitFor(() => h.xds.nacks.length > before, 3000, `NACK for bad config ${i}`);
    assert.match(h.xds.nacks.at(-1)!.error!, /not implemented by this proxy/);
    assert.equal(h.xds.nacks.at(-1)!.typeUrl, LISTENER_TYPE);
  }
  // network RBAC too
  const before = h.xds.nacks.length;
  const r = resources();
  r.listeners[2] = tcpListener(9100, [networkRbac({ policies: { p: { permissions: [{ any: true }], principals: [{ metadata: { filter: 'x', path: [{ key: 'k' }], value: { or_match: {} } } }] } } })]);
  setAll(h.xds, { listeners: r.listeners });
  await waitFor(() => h.xds.nacks.length > before, 3000, 'NACK for the network filter');
  // the old config still denies
  assert.equal((await get('/admin/x', alice)).status, 403);
  setAll(h.xds, resources());
});

// ---------------------------------------------------------------- the engine, directly
function conn(o: Partial<ConnectionContext> = {}): ConnectionContext {
  return {
    listenerName: 'l', direction: 'inbound', remoteAddress: '10.1.2.3', remotePort: 5000, localAddress: '10.0.0.9', localPort: 8080,
    destination: undefined, draining: false, remote: '10.1.2.3:5000', local: '10.0.0.9:8080', routed: undefined, tls: undefined, ...o,
  };
}
const tls = (uri: string) => ({ sni: 'outbound_.8080_._.web', alpn: 'istio', peerPrincipal: uri, peerUris: [uri], peerCertHash: 'ab', peerSubject: '', peerDns: [], peerCertPem: undefined, peerChainPem: undefined, localPrincipal: undefined, version: 'TLSv1.3' });

test('engine: principals from the mTLS peer, CIDRs (v4, v6, mapped), ports, SNI, metadata lists', () => {
  const p = (m: Record<string, unknown>) => compilePrincipal(m, 'p');
  const q = (m: Record<string, unknown>) => compilePermission(m, 'q');
  const sa = p({ authenticated: { principal_name: { safe_regex: { regex: 'spiffe://.+/ns/default/(.+/|)sa/sleep(/.+)?' } } } });
  assert.equal(sa({ conn: conn({ tls: tls('spiffe://cluster.local/ns/default/sa/sleep') }) }), true);
  assert.equal(sa({ conn: conn({ tls: tls('spiffe://cluster.local/ns/other/sa/sleep') }) }), false);
  assert.equal(sa({ conn: conn() }), false, 'plaintext has no principal');
  const anyPeer = p({ authenticated: {} });
  assert.equal(anyPeer({ conn: conn({ tls: tls('spiffe://x/ns/a/sa/b') }) }), true);
  const v4 = p({ direct_remote_ip: { address_prefix: '10.1.0.0', prefix_len: { value: 16 } } });
  assert.equal(v4({ conn: conn() }), true);
  assert.equal(v4({ conn: conn({ remoteAddress: '::ffff:10.1.9.9' }) }), true);
  assert.equal(v4({ conn: conn({ remoteAddress: '10.2.0.1' }) }), false);
  const v6 = p({ direct_remote_ip: { address_prefix: 'fd00::', prefix_len: { value: 8 } } });
  assert.equal(v6({ conn: conn({ remoteAddress: 'fd12::1' }) }), true);
  assert.equal(v6({ conn: conn() }), false);
  assert.equal(q({ destination_port: 8080 })({ conn: conn() }), true);
  assert.equal(q({ destination_port_range: { start: 9000, end: 9100 } })({ conn: conn() }), false);
  assert.equal(q({ destination_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 24 } } })({ conn: conn() }), true);
  assert.equal(q({ requested_server_name: { suffix: '.web' } })({ conn: conn({ tls: tls('spiffe://a') }) }), true);
  const claims = p({ metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key: 'groups' }], value: { list_match: { one_of: { string_match: { exact: 'admin' } } } } } });
  const md = (v: unknown) => ({ conn: conn(), headers: {}, metadata: (ns: string) => (ns === 'istio_authn' ? { 'request.auth.claims': { groups: v } } : undefined) });
  assert.equal(claims(md(['dev', 'admin'])), true);
  assert.equal(claims(md(['dev'])), false);
  assert.equal(claims({ conn: conn() }), false, 'no request: metadata rules never match on a connection');
  const hdr = p({ header: { name: 'x-a', present_match: true } });
  assert.equal(hdr({ conn: conn() }), false, 'no request: header rules never match on a connection');
  const e = compileRbac({ action: 'DENY', policies: { b: { permissions: [{ any: true }], principals: [{ any: true }] }, a: { permissions: [{ any: true }], principals: [{ any: true }] } } }, 'r');
  assert.deepEqual(evaluateRbac(e, { conn: conn() }), { allowed: false, matched: 'a' }, 'policies in name order');
  assert.deepEqual(evaluateRbac(compileRbac({}, 'r'), { conn: conn() }), { allowed: false, matched: undefined }, 'ALLOW with no policy denies');
  assert.throws(() => compileRbac({ policies: { p: { permissions: [], principals: [{ any: true }] } } }, 'r'), /at least one permission/);
  assert.throws(() => p({ direct_remote_ip: { address_prefix: '10.0.0.300' } }), /not an IP address/);
});
