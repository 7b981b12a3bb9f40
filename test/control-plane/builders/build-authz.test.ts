/**
 * AuthorizationPolicy → RBAC filters (Istio's authz builder semantics): which policies apply to
 * a proxy, filter order DENY → AUDIT(LOG) → ALLOW, allow-nothing and allow-all, policy names,
 * dry run as shadow rules, field mapping, and the TCP rule (HTTP-only fields drop an ALLOW rule
 * but widen a DENY rule). Every listener round-trips through the protobuf encoding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildListeners } from '../../../src/control-plane/builders/index.js';
import type { ConfigResource } from '../../../src/config/types.js';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import type { ProxyIdentity } from '../../../src/xds/node-metadata.js';
import { LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import { compileRbac, evaluateRbac, type RbacInput } from '../../../src/proxy/filters/rbac/rbac-engine.js';
import { assertRoundTrip, byName, kubeService, makePc, proxy, res } from './fixtures.js';

const SVC = [kubeService('productpage', [{ name: 'http', port: 9080 }]), kubeService('mongo', [{ name: 'tcp-mongo', port: 27017 }], { app: 'productpage' })];
const PP = proxy({ podPorts: [{ name: 'http', containerPort: 9080, protocol: 'TCP' }, { name: 'tcp-mongo', containerPort: 27017, protocol: 'TCP' }] });

const ap = (name: string, spec: unknown, namespace = 'default', annotations?: Record<string, string>): ConfigResource => {
  const r = res('AuthorizationPolicy', name, spec, namespace);
  if (annotations) r.metadata.annotations = annotations;
  return r;
};

interface View { http: EnvoyResource[]; tcp: EnvoyResource[] }

function view(policies: ConfigResource[], p: ProxyIdentity = PP): View {
  const ls = buildListeners(makePc([...SVC, ...policies]), p);
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  const http = byName(ls, `${p.address}_9080`).filter_chains[0].filters[0].typed_config.http_filters as EnvoyResource[];
  const tcp = byName(ls, `${p.address}_27017`).filter_chains[0].filters as EnvoyResource[];
  return {
    http: http.filter((f) => f.name === 'envoy.filters.http.rbac').map((f) => f.typed_config),
    tcp: tcp.filter((f) => f.name === 'envoy.filters.network.rbac').map((f) => f.typed_config),
  };
}

const conn = { listenerName: 'l', direction: 'inbound' as const, remoteAddress: '10.0.0.5', remotePort: 1, localAddress: '127.0.10.1', localPort: 9080, destination: undefined, draining: false, remote: '', local: '', routed: undefined, tls: undefined };
const req = (o: Partial<RbacInput> = {}): RbacInput => ({ conn, headers: {}, method: 'GET', path: '/', authority: 'productpage:9080', ...o });

/** runs the built HTTP filters in order, as the proxy would: the first denial wins */
function decide(filters: EnvoyResource[], input: RbacInput): string {
  for (const f of filters) {
    if (!f.rules) continue;
    const r = evaluateRbac(compileRbac(f.rules, 'test'), input);
    if (!r.allowed) return `denied ${r.matched ?? 'none'}`;
  }
  return 'allowed';
}

test('no policy: no RBAC filter; spec {} (allow-nothing) denies everything on HTTP and TCP', () => {
  assert.deepEqual(view([]), { http: [], tcp: [] });
  const v = view([ap('allow-nothing', {})]);
  assert.equal(v.http.length, 1);
  assert.deepEqual(v.http[0].rules, {});
  assert.equal(decide(v.http, req()), 'denied none');
  assert.deepEqual(v.tcp[0].rules, {});
  assert.equal(v.tcp[0].stat_prefix, 'tcp.');
});

test('rules: [{}] allows everything; DENY with no rules denies nothing', () => {
  const v = view([ap('allow-all', { rules: [{}] }), ap('deny-none', { action: 'DENY' })]);
  assert.equal(v.http.length, 1);
  assert.equal(decide(v.http, req({ path: '/anything', method: 'DELETE' })), 'allowed');
});

test('which policies apply: root namespace mesh-wide, own namespace, matching selector; not other namespaces or selectors', () => {
  const policies = [
    ap('mesh', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/mesh'] } }] }] }, 'istio-system'),
    ap('ns', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/ns'] } }] }] }),
    ap('mine', { selector: { matchLabels: { app: 'productpage' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/mine'] } }] }] }),
    ap('theirs', { selector: { matchLabels: { app: 'reviews' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/theirs'] } }] }] }),
    ap('other-ns', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/other'] } }] }] }, 'other'),
  ];
  const v = view(policies);
  assert.deepEqual(Object.keys(v.http[0].rules.policies), [
    'ns[default]-policy[mine]-rule[0]', 'ns[default]-policy[ns]-rule[0]', 'ns[istio-system]-policy[mesh]-rule[0]',
  ]);
  for (const p of ['/mesh', '/ns', '/mine']) assert.match(decide(v.http, req({ path: p })), /^denied ns\[/);
  for (const p of ['/theirs', '/other']) assert.equal(decide(v.http, req({ path: p })), 'allowed');
});

test('filter order DENY, AUDIT (LOG), ALLOW; DENY wins over ALLOW', () => {
  const v = view([
    ap('allow', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }),
    ap('audit', { action: 'AUDIT', rules: [{ to: [{ operation: { paths: ['/a'] } }] }] }),
    ap('deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] }),
  ]);
  assert.deepEqual(v.http.map((f) => f.rules.action ?? 'ALLOW'), ['DENY', 'LOG', 'ALLOW']);
  assert.equal(decide(v.http, req({ path: '/a' })), 'allowed');
  assert.equal(decide(v.http, req({ path: '/admin/x' })), 'denied ns[default]-policy[deny]-rule[0]');
  assert.equal(decide(v.http, req({ path: '/a', method: 'POST' })), 'denied none');
});

test('field table: sources, operations and when conditions with their not* forms', () => {
  const allow = (rule: unknown) => view([ap('p', { rules: [rule] })]).http;
  const peer = (uri: string) => ({ ...conn, tls: { sni: 'outbound_.9080_._.productpage.default.svc.cluster.local', alpn: 'istio', peerPrincipal: uri, peerUris: [uri], peerCertHash: 'h', peerSubject: '', peerDns: [], peerCertPem: undefined, peerChainPem: undefined, localPrincipal: undefined, version: 'TLSv1.3' } });
  const sleep = peer('spiffe://cluster.local/ns/default/sa/sleep');
  const other = peer('spiffe://cluster.local/ns/other/sa/client');
  const cases: Array<[string, unknown, RbacInput, string]> = [
    ['principals exact', { from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }] }, req({ conn: sleep }), 'allowed'],
    ['principals other', { from: [{ source: { principals: ['cluster.local/ns/default/sa/sleep'] } }] }, req({ conn: other }), 'denied none'],
    ['principals need mTLS', { from: [{ source: { principals: ['*'] } }] }, req(), 'denied none'],
    ['principals suffix', { from: [{ source: { principals: ['*/sa/client'] } }] }, req({ conn: other }), 'allowed'],
    ['notPrincipals', { from: [{ source: { notPrincipals: ['cluster.local/ns/default/sa/sleep'] } }] }, req({ conn: sleep }), 'denied none'],
    ['namespaces', { from: [{ source: { namespaces: ['other'] } }] }, req({ conn: other }), 'allowed'],
    ['notNamespaces', { from: [{ source: { notNamespaces: ['other'] } }] }, req({ conn: other }), 'denied none'],
    ['serviceAccounts', { from: [{ source: { serviceAccounts: ['sleep'] } }] }, req({ conn: sleep }), 'allowed'],
    ['serviceAccounts ns/sa', { from: [{ source: { serviceAccounts: ['other/client'] } }] }, req({ conn: sleep }), 'denied none'],
    ['ipBlocks', { from: [{ source: { ipBlocks: ['10.0.0.0/24'] } }] }, req(), 'allowed'],
    ['notIpBlocks', { from: [{ source: { notIpBlocks: ['10.0.0.5'] } }] }, req(), 'denied none'],
    ['requestPrincipals without a token', { from: [{ source: { requestPrincipals: ['*'] } }] }, req(), 'denied none'],
    ['requestPrincipals', { from: [{ source: { requestPrincipals: ['https://issuer/alice'] } }] },
      req({ metadata: (ns) => (ns === 'istio_authn' ? { 'request.auth.principal': 'https://issuer/alice' } : undefined) }), 'allowed'],
    ['hosts case-insensitive, with port', { to: [{ operation: { hosts: ['ProductPage'] } }] }, req({ authority: 'productpage:9080' }), 'allowed'],
    ['notHosts', { to: [{ operation: { notHosts: ['productpage'] } }] }, req({ authority: 'productpage' }), 'denied none'],
    ['ports', { to: [{ operation: { ports: ['9080'] } }] }, req(), 'allowed'],
    ['notPorts', { to: [{ operation: { notPorts: ['9080'] } }] }, req(), 'denied none'],
    ['methods', { to: [{ operation: { methods: ['GET', 'HEAD'] } }] }, req({ method: 'HEAD' }), 'allowed'],
    ['notMethods', { to: [{ operation: { notMethods: ['GET'] } }] }, req(), 'denied none'],
    ['paths prefix ignores the query', { to: [{ operation: { paths: ['/api/*'] } }] }, req({ path: '/api/x?q=1' }), 'allowed'],
    ['paths suffix', { to: [{ operation: { paths: ['*.png'] } }] }, req({ path: '/img/a.png' }), 'allowed'],
    ['paths {**}', { to: [{ operation: { paths: ['/v1/{**}'] } }] }, req({ path: '/v1/a/b/c' }), 'allowed'],
    ['notPaths', { to: [{ operation: { notPaths: ['/secret'] } }] }, req({ path: '/secret' }), 'denied none'],
    ['gRPC path', { to: [{ operation: { paths: ['/pkg.Svc/Get'], methods: ['POST'] } }] }, req({ path: '/pkg.Svc/Get', method: 'POST' }), 'allowed'],
    ['when request.headers', { when: [{ key: 'request.headers[version]', values: ['v1'] }] }, req({ headers: { version: 'v1' } }), 'allowed'],
    ['when request.headers notValues', { when: [{ key: 'request.headers[version]', notValues: ['v1'] }] }, req({ headers: { version: 'v1' } }), 'denied none'],
    ['when source.ip', { when: [{ key: 'source.ip', values: ['10.0.0.0/8'] }] }, req(), 'allowed'],
    ['when source.namespace', { when: [{ key: 'source.namespace', values: ['default'] }] }, req({ conn: sleep }), 'allowed'],
    ['when source.principal', { when: [{ key: 'source.principal', values: ['cluster.local/ns/other/sa/client'] }] }, req({ conn: sleep }), 'denied none'],
    ['when destination.port', { when: [{ key: 'destination.port', values: ['9080'] }] }, req(), 'allowed'],
    ['when destination.ip', { when: [{ key: 'destination.ip', values: ['127.0.10.1'] }] }, req(), 'allowed'],
    ['when connection.sni', { when: [{ key: 'connection.sni', values: ['*.svc.cluster.local'] }] }, req({ conn: sleep }), 'allowed'],
    ['when request.auth.claims', { when: [{ key: 'request.auth.claims[groups]', values: ['admin'] }] },
      req({ metadata: () => ({ 'request.auth.claims': { groups: ['dev', 'admin'] } }) }), 'allowed'],
    ['from ORed, to ANDed with when', { from: [{ source: { ipBlocks: ['1.1.1.1'] } }, { source: { ipBlocks: ['10.0.0.5'] } }], to: [{ operation: { methods: ['GET'] } }], when: [{ key: 'request.headers[x]', values: ['y'] }] },
      req({ headers: { x: 'n' } }), 'denied none'],
  ];
  for (const [name, rule, input, want] of cases) assert.equal(decide(allow(rule), input), want, name);
});

test('TCP: an ALLOW rule with HTTP-only fields is dropped; a DENY rule loses them and matches more', () => {
  const v = view([
    ap('allow-get', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }, { to: [{ operation: { ports: ['27017'] } }], when: [{ key: 'request.headers[x]', values: ['y'] }] }] }),
    ap('deny-post', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] }),
  ]);
  const [deny, allow] = v.tcp;
  assert.deepEqual(allow.rules, {}, 'both ALLOW rules name HTTP-only fields: nothing is allowed on TCP');
  assert.deepEqual(deny.rules.policies['ns[default]-policy[deny-post]-rule[0]'], { permissions: [{ any: true }], principals: [{ any: true }] },
    'the methods-only DENY rule denies every TCP connection');
  assert.equal(v.http.length, 2);
});

test('dry run: shadow rules with Istio stat prefixes, nothing enforced', () => {
  const v = view([
    ap('dry-deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/x'] } }] }] }, 'default', { 'istio.io/dry-run': 'true' }),
    ap('dry-allow', {}, 'default', { 'istio.io/dry-run': 'true' }),
  ]);
  assert.equal(v.http.length, 2);
  assert.equal(v.http[0].rules, undefined);
  assert.equal(v.http[0].shadow_rules_stat_prefix, 'istio_dry_run_deny_');
  assert.ok(v.http[0].shadow_rules.policies['ns[default]-policy[dry-deny]-rule[0]']);
  assert.equal(v.http[1].rules, undefined);
  assert.deepEqual(v.http[1].shadow_rules, {});
  assert.equal(v.http[1].shadow_rules_stat_prefix, 'istio_dry_run_allow_');
  assert.equal(decide(v.http, req({ path: '/x' })), 'allowed');
});

test('gateways: a policy selecting the gateway workload lands before its router', () => {
  const gwProxy = proxy({ type: 'router', name: 'ingress', namespace: 'istio-system', address: '127.0.10.50', labels: { istio: 'ingressgateway' } });
  const gw = { ...res('Gateway', 'gw', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }, 'istio-system') };
  const pol = ap('gw-deny', { selector: { matchLabels: { istio: 'ingressgateway' } }, action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['192.0.2.0/24'] } }] }] }, 'istio-system');
  const ls = buildListeners(makePc([...SVC, gw, pol]), gwProxy);
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  const names = byName(ls, '0.0.0.0_8080').filter_chains[0].filters[0].typed_config.http_filters.map((f: EnvoyResource) => f.name);
  assert.equal(names[0], 'envoy.filters.http.rbac');
  assert.equal(names.at(-1), 'envoy.filters.http.router');
});

test('RequestAuthentication: jwt_authn (a provider per rule, any of them or no token) and istio_authn before the RBAC filters', () => {
  const jwks = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k' }] });
  const ra = res('RequestAuthentication', 'jwt', {
    selector: { matchLabels: { app: 'productpage' } },
    jwtRules: [
      { issuer: 'https://a.example', audiences: ['web'], jwks, fromHeaders: [{ name: 'x-jwt', prefix: 'Bearer ' }], outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }] },
      { issuer: 'https://b.example', jwksUri: 'https://keys.example:8443/jwks.json', timeout: '2s', forwardOriginalToken: true, outputPayloadToHeader: 'x-payload' },
    ],
  });
  const ls = buildListeners(makePc([...SVC, ra, ap('require', { rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] })]), PP);
  for (const l of ls) assertRoundTrip(LISTENER_TYPE, l);
  const filters = byName(ls, `${PP.address}_9080`).filter_chains[0].filters[0].typed_config.http_filters as EnvoyResource[];
  assert.deepEqual(filters.map((f) => f.name), ['envoy.filters.http.jwt_authn', 'istio_authn', 'envoy.filters.http.rbac', 'istio.stats', 'envoy.filters.http.router']);
  const jwt = filters[0].typed_config;
  assert.deepEqual(Object.keys(jwt.providers), ['origins-0', 'origins-1']);
  assert.deepEqual(jwt.providers['origins-0'], {
    issuer: 'https://a.example', audiences: ['web'], local_jwks: { inline_string: jwks },
    from_headers: [{ name: 'x-jwt', value_prefix: 'Bearer ' }], claim_to_headers: [{ header_name: 'x-sub', claim_name: 'sub' }], payload_in_metadata: 'https://a.example',
  });
  assert.deepEqual(jwt.providers['origins-1'].remote_jwks, {
    http_uri: { uri: 'https://keys.example:8443/jwks.json', cluster: 'outbound|8443||keys.example', timeout: { seconds: 2 } }, cache_duration: { seconds: 300 },
  });
  assert.equal(jwt.providers['origins-1'].forward, true);
  assert.deepEqual(jwt.rules, [{ match: { prefix: '/' }, requires: { requires_any: { requirements: [{ provider_name: 'origins-0' }, { provider_name: 'origins-1' }, { allow_missing: {} }] } } }]);
  assert.equal(jwt.bypass_cors_preflight, true);
  // another workload: no JWT filter
  const other = buildListeners(makePc([...SVC, ra]), proxy({ name: 'reviews', address: '127.0.10.3', labels: { app: 'reviews' } }));
  assert.ok(other.every((l) => !JSON.stringify(l).includes('jwt_authn')));
});
