/** jwt_authn config parsing: what the proxy does not implement, and keys that do not parse, are NACKs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJwtAuthn } from '../../../src/proxy/filters/jwt-authn/jwt-authn-filter.js';
import { authnAttributes } from '../../../src/proxy/filters/jwt-authn/istio-authn-filter.js';
import { SharedResources } from '../../../src/proxy/filter-api/shared-resources.js';

const ctx = () => ({ resolveCluster: () => { throw new Error('no clusters'); }, shared: new SharedResources() });
const jwks = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k' }] });
const provider = (extra: Record<string, unknown> = {}) => ({ issuer: 'https://a.example', local_jwks: { inline_string: jwks }, ...extra });
const rules = [{ match: { prefix: '/' }, requires: { requires_any: { requirements: [{ provider_name: 'p' }, { allow_missing: {} }] } } }];

test('a config Istio produces parses', () => {
  const c = parseJwtAuthn({ providers: { p: provider({ payload_in_metadata: 'https://a.example' }) }, rules, bypass_cors_preflight: true }, 'jwt', ctx());
  assert.equal(c.rules.length, 1);
  assert.equal(c.rules[0].req.allowMissing, true);
});

test('NACKs: unknown fields and requirement kinds, keys that do not parse, unknown providers, matches other than prefix', () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ providers: { p: provider({ jwt_cache_config: {} }) }, rules }, /jwt_cache_config is not implemented/],
    [{ providers: { p: provider({ local_jwks: { inline_string: '{"keys": 5' } }) }, rules }, /does not parse/],
    [{ providers: { p: provider({ local_jwks: { filename: '/etc/jwks' } }) }, rules }, /local_jwks\.filename is not implemented/],
    [{ providers: { p: { issuer: 'x' } }, rules }, /local_jwks or remote_jwks is required/],
    [{ providers: { p: provider() }, rules: [{ match: { prefix: '/' }, requires: { requires_all: { requirements: [{ provider_name: 'p' }, { provider_name: 'p' }] } } }] }, /requires_all is not implemented/],
    [{ providers: { p: provider() }, rules: [{ match: { prefix: '/' }, requires: { provider_name: 'q' } }] }, /no provider "q"/],
    [{ providers: { p: provider() }, rules: [{ match: { path: '/x' }, requires: { provider_name: 'p' } }] }, /match\.path is not implemented/],
    [{ providers: { p: provider() }, rules, filter_state_rules: { name: 'x' } }, /filter_state_rules is not implemented/],
    [{ providers: { p: provider({ remote_jwks: { http_uri: { uri: 'file:///etc/passwd', cluster: 'c' } }, local_jwks: undefined }) }, rules }, /only http and https/],
  ];
  for (const [cfg, msg] of bad) assert.throws(() => parseJwtAuthn(cfg, 'jwt', ctx()), msg, JSON.stringify(cfg));
});

test('istio_authn attributes: principal iss/sub, audiences and presenter as lists, claims as string lists (nested kept)', () => {
  const a = authnAttributes({ iss: 'https://a.example', sub: 'alice', aud: 'web', azp: 'cli', groups: ['dev', 'admin'], level: 3, org: { team: 'x' } });
  assert.equal(a['request.auth.principal'], 'https://a.example/alice');
  assert.deepEqual(a['request.auth.audiences'], ['web']);
  assert.deepEqual(a['request.auth.presenter'], ['cli']);
  const claims = a['request.auth.claims'] as Record<string, unknown>;
  assert.deepEqual(claims.groups, ['dev', 'admin']);
  assert.deepEqual(claims.level, ['3']);
  assert.deepEqual(claims.org, { team: ['x'] });
});

test('verified-token cache: a token is verified once, honours exp, is bounded with an overflow counter', async () => {
  const { generateKeyPair, exportJWK, SignJWT } = await import('jose');
  const { VerifiedJwtCache } = await import('../../../src/proxy/filters/jwt-authn/jwt-cache.js');
  const { overflowCounter } = await import('../../../src/stats/stats-overflow.js');
  const { StatsStore } = await import('../../../src/stats/stats-store.js');
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const iss = 'https://cache.example';
  const stats = new StatsStore();
  const cfg = parseJwtAuthn({
    providers: { p: { issuer: iss, local_jwks: { inline_string: JSON.stringify({ keys: [jwk] }) }, payload_in_metadata: iss, forward_payload_header: 'x-payload' } },
    rules: [{ match: { prefix: '/' }, requires: { provider_name: 'p' } }],
  }, 'jwt', { ...ctx(), stats, statPrefix: 'inbound' });
  const sign = (exp: number) => new SignJWT({ groups: ['dev'], scope: 'a b' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(iss).setSubject('alice').setExpirationTime(exp).sign(privateKey);
  /** one request through the filter: 'pass' or the local reply status, and the stream's metadata */
  const run = (token: string) => new Promise<{ sync: boolean; result: string; md: Record<string, unknown> | undefined; headers: Record<string, unknown> }>((resolve) => {
    let md: Record<string, unknown> | undefined;
    const headers: Record<string, string | undefined> = { authorization: `Bearer ${token}` };
    const cb = {
      method: 'GET', path: '/x', authority: 'svc', headers,
      setDynamicMetadata: (_ns: string, v: Record<string, unknown>) => { md = { ...md, ...v }; },
      dynamicMetadata: () => md,
      continueDecoding: () => resolve({ sync: false, result: 'pass', md, headers }),
      sendLocalReply: (status: number) => resolve({ sync: false, result: String(status), md, headers }),
    };
    const st = cfg.create().decodeHeaders(cb as never, true);
    if (st === 'continue') resolve({ sync: true, result: 'pass', md, headers });
  });
  const counter = (n: string) => stats.scope('http.inbound.jwt_authn.').counter(n).value;
  const now = Math.floor(Date.now() / 1000);
  const good = await sign(now + 3600);
  const first = await run(good);
  assert.deepEqual([first.sync, first.result], [false, 'pass']);
  const second = await run(good);
  assert.deepEqual([second.sync, second.result], [true, 'pass'], 'the second use is a cache hit: no asynchronous verification');
  assert.deepEqual(second.md, first.md, 'the same metadata (space-delimited claims split) as the first verification');
  assert.deepEqual((second.md![iss] as Record<string, unknown>).scope, ['a', 'b']);
  assert.equal(second.headers['x-payload'], first.headers['x-payload']);
  assert.equal(second.headers.authorization, undefined, 'the token is removed (forward: false) on hits too');
  assert.deepEqual([counter('jwt_cache_miss'), counter('jwt_cache_hit')], [1, 1]);
  // a tampered token (same header and payload, other signature) is not a hit
  const tampered = good.slice(0, good.lastIndexOf('.') + 1) + 'A'.repeat(86);
  assert.equal((await run(tampered)).result, '401');
  // the cache is looked up by the token's tail: another token with the same tail is not a hit
  const sameTail = `${good.slice(0, 10)}x${good.slice(11)}`;
  assert.equal((await run(sameTail)).result, '401');
  assert.deepEqual([(await run(good)).sync, counter('jwt_cache_hit')], [true, 2], 'the verified entry is still there');
  // exp honoured by the cache itself: an entry is gone once its token expires
  const c = new VerifiedJwtCache(3, 60_000);
  const t0 = 1_000_000_000_000;
  c.set('a', { exp: t0 / 1000 + 10 }, {}, t0);
  assert.ok(c.get('a', t0 + 9_999));
  assert.equal(c.get('a', t0 + 10_000), undefined, 'valid while now < exp');
  c.set('b', {}, {}, t0);
  assert.equal(c.get('b', t0 + 60_000), undefined, 'no exp: at most maxAgeMs');
  c.set('gone', { exp: t0 / 1000 - 1 }, {}, t0);
  assert.equal(c.get('gone', t0), undefined, 'an expired payload is not stored');
  const overflow = overflowCounter('jwt_verified_cache');
  const before = overflow.value;
  for (const k of ['1', '2', '3', '4', '5']) c.set(k, {}, {}, t0);
  assert.equal(c.size, 3);
  assert.equal(overflow.value - before, 2);
  assert.equal(c.get('1', t0), undefined, 'the oldest went first');
  assert.ok(c.get('5', t0));
});
