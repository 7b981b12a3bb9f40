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
