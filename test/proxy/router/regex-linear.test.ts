/**
 * safe_regex through a real proxy: RE2 syntax and linear-time matching (issue 23 item 3). A
 * pattern that is catastrophic for a backtracking engine (`^/api/(a+)+$` against 30 characters
 * took 3.9 s with JS RegExp) answers at once, and a client beside it is not stalled; patterns
 * valid only in JavaScript are NACKed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, virtualOutbound, vhost } from '../helpers/resources.js';
import { startHarness, viaProxy, waitFor, type Harness } from '../helpers/harness.js';
import { ROUTE_TYPE } from '../helpers/static-xds.js';
import { startEcho, type EchoServer } from '../helpers/upstreams.js';

const A = 'outbound|9080|a|svc.default.svc.cluster.local';
const B = 'outbound|9080|b|svc.default.svc.cluster.local';
let a: EchoServer;
let b: EchoServer;
let h: Harness;

function routes(extra: EnvoyResource[] = []): EnvoyResource[] {
  return [
    routeConfig('9080', [
      vhost('svc', ['svc:9080'], [
        ...extra,
        route({ safe_regex: { regex: '^/api/(a+)+$' } }, A, {}, { name: 'evil-path' }),
        route({ prefix: '/h', headers: [{ name: 'x-h', safe_regex_match: { regex: '(x+x+)+y' } }] }, A, {}, { name: 'evil-header' }),
        route({ prefix: '/q', query_parameters: [{ name: 'v', string_match: { safe_regex: { regex: '(b|bb)+c' } } }] }, A, {}, { name: 'evil-query' }),
        route({ prefix: '/rw/' }, A, { regex_rewrite: { pattern: { regex: '^/rw/((a|aa)+)$' }, substitution: '/done/\\1' } }, { name: 'evil-rewrite' }),
        // Envoy: case_sensitive does not apply to safe_regex
        route({ safe_regex: { regex: '/lower' }, case_sensitive: { value: false } }, A, {}, { name: 'regex-case' }),
        route({ prefix: '/gr/' }, A, { regex_rewrite: { pattern: { regex: 'o' }, substitution: '0' } }, { name: 'global-rewrite' }),
        route({ prefix: '/' }, B, {}, { name: 'default' }),
      ]),
    ]),
  ];
}

before(async () => {
  a = await startEcho('a');
  b = await startEcho('b');
  h = await startHarness({
    clusters: [edsCluster(A), edsCluster(B), passthroughCluster()],
    endpoints: [assignment(A, [['127.0.0.1', a.port]]), assignment(B, [['127.0.0.1', b.port]])],
    listeners: [virtualOutbound(0), outboundHttpListener(9080)],
    routes: routes(),
  });
});

after(async () => {
  await h.close();
  await a.close();
  await b.close();
});

/** Sends the hostile request and a normal one from another client at the same time; both must be quick. */
async function hostileBesideNormal(hostile: () => Promise<{ status: number; body: string }>): Promise<{ status: number; body: string }> {
  const t0 = performance.now();
  const normal = viaProxy(h.outbound, 'http://svc:9080/normal').then((r) => ({ r, ms: performance.now() - t0 }));
  const evil = hostile().then((r) => ({ r, ms: performance.now() - t0 }));
  const [n, e] = await Promise.all([normal, evil]);
  assert.equal(n.r.status, 200);
  assert.ok(n.ms < 500, `the other client waited ${n.ms.toFixed(0)} ms`);
  assert.ok(e.ms < 500, `the hostile request took ${e.ms.toFixed(0)} ms`);
  return e.r;
}

test('a catastrophic-backtracking route regex answers fast and does not stall another client', async () => {
  // 32 characters: about 9 s for a backtracking engine on this machine (each 'a' doubles it)
  const path = `/api/${'a'.repeat(26)}b`;
  const r = await hostileBesideNormal(() => viaProxy(h.outbound, `http://svc:9080${path}`));
  assert.equal(JSON.parse(r.body).name, 'b', 'no match: the default route');
  assert.equal(JSON.parse((await viaProxy(h.outbound, `http://svc:9080/api/${'a'.repeat(24)}`)).body).name, 'a');
});

test('header, query and regex_rewrite patterns are linear too', async () => {
  const hr = await hostileBesideNormal(() => viaProxy(h.outbound, 'http://svc:9080/h', { headers: { 'x-h': 'x'.repeat(25) } }));
  assert.equal(JSON.parse(hr.body).name, 'b');
  const qr = await hostileBesideNormal(() => viaProxy(h.outbound, `http://svc:9080/q?v=${'b'.repeat(35)}`));
  assert.equal(JSON.parse(qr.body).name, 'b');
  const rw = await hostileBesideNormal(() => viaProxy(h.outbound, `http://svc:9080/rw/${'a'.repeat(35)}b`));
  assert.equal(JSON.parse(rw.body).url, `/rw/${'a'.repeat(35)}b`, 'no match: path unchanged');
  const ok = await viaProxy(h.outbound, 'http://svc:9080/rw/aaa?k=1');
  assert.equal(JSON.parse(ok.body).url, '/done/aaa?k=1');
});

test('RE2 semantics: full match, RE2-only syntax, case_sensitive ignored, global rewrite', async () => {
  // RE2-only syntax: (?i) flag, Unicode class, POSIX class, \z
  const acks = h.xds.acks.length;
  h.xds.set(ROUTE_TYPE, routes([route({ safe_regex: { regex: '(?i)/re2/\\pL+/[[:digit:]]+\\z' } }, A, {}, { name: 're2-syntax' })]));
  await waitFor(() => h.xds.acks.length > acks || h.xds.nacks.length > 0, 3000, 'RDS with RE2 syntax applied');
  assert.deepEqual(h.xds.nacks, []);
  assert.equal(JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/RE2/Omega/42')).body).name, 'a');
  assert.equal(JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/re2/abc/42x')).body).name, 'b');
  assert.equal(JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/lower')).body).name, 'a');
  assert.equal(JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/LOWER')).body).name, 'b');
  // a full match: /lower/x is not /lower
  assert.equal(JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/lower/x')).body).name, 'b');
  assert.equal(JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/gr/foo/boo')).body).url, '/gr/f00/b00');
});

test('NACK: patterns valid in JavaScript but not RE2, too large, or a substitution naming a missing group', async () => {
  const cases: Array<[EnvoyResource, RegExp]> = [
    [route({ safe_regex: { regex: '/(?=admin).*' } }, A), /route match safe_regex: invalid regex "\/\(\?=admin\)\.\*": invalid or unsupported Perl syntax/],
    [route({ prefix: '/', headers: [{ name: 'x', safe_regex_match: { regex: '(a)\\1' } }] }, A), /invalid escape sequence/],
    [route({ safe_regex: { regex: '[a-z]{1000}'.repeat(40) } }, A), /program size \d+ exceeds the maximum of 32768/],
    [route({ prefix: '/' }, A, { regex_rewrite: { pattern: { regex: '^/(a)$' }, substitution: '/\\2' } }), /regex_rewrite: substitution "\/\\\\2" refers to group \\2, the regex has 1/],
  ];
  for (const [bad, why] of cases) {
    const before = h.xds.nacks.length;
    h.xds.set(ROUTE_TYPE, routes([bad]));
    await waitFor(() => h.xds.nacks.length > before, 3000, `NACK for ${JSON.stringify(bad)}`);
    assert.match(h.xds.nacks[h.xds.nacks.length - 1].error!, why);
    // the last good routes keep serving
    assert.equal(JSON.parse((await viaProxy(h.outbound, 'http://svc:9080/api/aaa')).body).name, 'a');
  }
  h.xds.set(ROUTE_TYPE, routes());
});
