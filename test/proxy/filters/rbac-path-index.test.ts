/**
 * RBAC's path index (rbac-path-index.ts) never changes a decision: on random configs (url_path
 * exact/prefix/regex/suffix/ignore_case, `:path` and method headers, and/or/not nesting, ungated
 * policies) and random requests (paths with queries, empty segments, no leading slash, no request
 * at all as in network RBAC), the indexed evaluation gives the same verdict and the same matched
 * policy as trying every policy in order. And it does prune: Istio's path shapes leave one
 * candidate out of many.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ConnectionContext } from '../../../src/proxy/core/connection-context.js';
import { compileRbac, evaluateRbac, evaluateRbacPlain, type RbacInput } from '../../../src/proxy/filters/rbac/rbac-engine.js';

const CONN: ConnectionContext = {
  listenerName: 'l', direction: 'inbound', remoteAddress: '10.0.0.1', remotePort: 40000, localAddress: '10.0.0.2', localPort: 8080,
  destination: undefined, draining: false, remote: '10.0.0.1:40000', local: '10.0.0.2:8080', routed: undefined, tls: undefined,
};

const SEGMENTS = ['a', 'b', 'api', 'v1', 'v2', '', 'x.y', 'A'];
const seg = fc.constantFrom(...SEGMENTS);
const pathArb = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.array(seg, { maxLength: 4 }), fc.boolean(), fc.constantFrom('', '?q=1', '?p=/a/b', '?')).map(([s, slash, q]) => '/' + s.join('/') + (slash && s.length ? '/' : '') + q) },
  { weight: 1, arbitrary: fc.constantFrom('*', 'a/b', '', 'api') },
);
const literalArb = fc.tuple(fc.array(seg, { maxLength: 3 }), fc.constantFrom('', '/', '/a', 'p')).map(([s, tail]) => '/' + s.join('/') + tail);
const re = (l: string) => l.replace(/\./g, '\\.');

const leaf: fc.Arbitrary<Record<string, any>> = fc.oneof(
  literalArb.map((l) => ({ url_path: { path: { exact: l } } })),
  literalArb.map((l) => ({ url_path: { path: { prefix: l } } })),
  literalArb.map((l) => ({ url_path: { path: { prefix: l, ignore_case: true } } })),
  fc.tuple(literalArb, fc.constantFrom('', '[^/]+', '[^/]+/a', '.*', 'b*')).map(([l, t]) => ({ url_path: { path: { safe_regex: { regex: re(l) + t } } } })),
  fc.constantFrom('a', '/', 'b/').map((s) => ({ url_path: { path: { suffix: s } } })),
  literalArb.map((l) => ({ header: { name: ':path', string_match: { prefix: l } } })),
  fc.constantFrom('GET', 'POST').map((m) => ({ header: { name: ':method', string_match: { exact: m } } })),
  fc.constant({ any: true }),
);
const { perm } = fc.letrec<{ perm: Record<string, any> }>((tie) => ({
  perm: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('perm').map((p) => ({ not_rule: p })),
    fc.array(tie('perm'), { minLength: 1, maxLength: 3 }).map((rules) => ({ and_rules: { rules } })),
    fc.array(tie('perm'), { minLength: 1, maxLength: 3 }).map((rules) => ({ or_rules: { rules } })),
  ),
}));
const principal = fc.constantFrom<Record<string, any>>({ any: true }, { header: { name: 'x-t', string_match: { exact: 'a' } } }, { not_id: { header: { name: 'x-t', string_match: { exact: 'a' } } } });
const policyArb = fc.record({ permissions: fc.array(perm, { minLength: 1, maxLength: 2 }), principals: fc.array(principal, { minLength: 1, maxLength: 2 }) });
const configArb = fc.record({
  action: fc.constantFrom('ALLOW', 'DENY', 'LOG'),
  policies: fc.array(policyArb, { minLength: 1, maxLength: 10 }).map((ps) => Object.fromEntries(ps.map((p, i) => [`p${String(i).padStart(2, '0')}`, p]))),
});
const requestArb = fc.record({ path: pathArb, method: fc.constantFrom('GET', 'POST'), xt: fc.constantFrom('a', 'b', undefined) });

test('path index: the same verdict and matched policy as every policy in order', () => {
  let indexed = 0;
  fc.assert(
    fc.property(configArb, fc.array(requestArb, { minLength: 1, maxLength: 8 }), (cfg, reqs) => {
      const e = compileRbac(cfg, 'test');
      if (e.index !== undefined) indexed++;
      const inputs: RbacInput[] = reqs.map((r) => ({ conn: CONN, headers: r.xt === undefined ? {} : { 'x-t': r.xt }, method: r.method, path: r.path, authority: 'h' }));
      inputs.push({ conn: CONN });
      for (const input of inputs) {
        const plain = evaluateRbacPlain(e, { ...input });
        const got = evaluateRbac(e, { ...input });
        assert.deepEqual(got, plain, `${JSON.stringify(cfg)} on ${JSON.stringify(input.path)} ${input.method}`);
      }
    }),
    { numRuns: 1500, seed: 18_06 },
  );
  assert.ok(indexed > 300, `only ${indexed} of the random configs got an index`);
});

test('path index: Istio path shapes leave only the policies the path can match', () => {
  const policies: Record<string, any> = {};
  for (let i = 0; i < 40; i++) {
    policies[`team-${String(i).padStart(2, '0')}`] = {
      permissions: [{ and_rules: { rules: [
        { or_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'GET' } } }, { header: { name: ':method', string_match: { exact: 'HEAD' } } }] } },
        { or_rules: { rules: [{ url_path: { path: { prefix: `/api/v${i + 2}/` } } }, { url_path: { path: { safe_regex: { regex: `/team-${i}/[^/]+/items` } } } }, { url_path: { path: { exact: `/svc-${i}` } } }] } },
      ] } }],
      principals: [{ any: true }],
    };
  }
  policies['zz-mine'] = { permissions: [{ url_path: { path: { prefix: '/api/v1/' } } }], principals: [{ any: true }] };
  policies['open'] = { permissions: [{ header: { name: ':method', string_match: { exact: 'OPTIONS' } } }], principals: [{ any: true }] };
  const e = compileRbac({ action: 'ALLOW', policies }, 'test');
  assert.ok(e.index);
  const names = (p: string | undefined) => e.index!.candidates(p).map((x) => x.name);
  assert.deepEqual(names('/api/v1/items/42'), ['open', 'zz-mine']);
  assert.deepEqual(names('/api/v7/x'), ['open', 'team-05']);
  assert.deepEqual(names('/team-3/abc/items'), ['open', 'team-03']);
  assert.deepEqual(names('/svc-12'), ['open', 'team-12']);
  assert.deepEqual(names('/svc-12/more'), ['open', 'team-12']);
  assert.deepEqual(names('/other'), ['open']);
  assert.deepEqual(names(undefined), ['open']);
  const input = (path: string): RbacInput => ({ conn: CONN, headers: {}, method: 'GET', path, authority: 'h' });
  assert.deepEqual(evaluateRbac(e, input('/api/v1/items/42?x=1')), { allowed: true, matched: 'zz-mine' });
  assert.deepEqual(evaluateRbac(e, input('/team-3/abc/items')), { allowed: true, matched: 'team-03' });
  assert.deepEqual(evaluateRbac(e, input('/team-3/abc/items/no')), { allowed: false, matched: undefined });
});
