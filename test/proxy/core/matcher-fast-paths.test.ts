/**
 * The authorization hot paths' shortcuts (bench/authz-cost.ts) give the same answers as the slow
 * references they skip: the regex prefilter (re2js full match), `.+`/`.*` as plain checks, the IPv4
 * CIDR comparison (node's BlockList), exact header sets in RBAC `or_rules` (one rule per value).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { Re2 } from '../../../src/regex/regex-re2.js';
import { regexPrefilter } from '../../../src/proxy/core/regex-prefilter.js';
import { compileStringMatcher } from '../../../src/proxy/core/string-matcher.js';
import { compileCidr, ipv4Number } from '../../../src/proxy/core/cidr.js';
import { compilePermission, compilePrincipal, type RbacInput } from '../../../src/proxy/filters/rbac/rbac-engine.js';

// Istio's generated shapes, and patterns the scan must refuse or handle with care
const PATTERNS = [
  '/team-0/[^/]+/items', '/a/[^/]+', '[^/]+/x', '/api/.*', '(?i).*\\.team-0\\.internal:[0-9]+', '(?i)Kelvin.*s', 'ab*c', 'a+b', 'x?yz',
  'a|b', '(ab|cd)e', '^abc', 'abc$', 'a{2}b', '\\d+x', 'a\\.b', '[]a]b', '[^]a]+c', '(?:ab)+c', 'a(b)c', '.+', '.*', 'abc', '(?s)a.b',
];
const ALPHABET = ['a', 'b', 'c', 'x', 'y', 'z', '/', '.', ':', '0', '9', 'K', 'k', 'S', 's', 'ſ', 'K', '\n', 't', 'e', 'm', '-', 'i', 'n', 'r', 'l'];
const INTERESTING = ['/team-0/v1/items', '/team-0//items', 'host.team-0.internal:8080', 'HOST.TEAM-0.INTERNAL:1', 'kelvins', 'ſelvin s', 'abc', 'ac', 'abbbc', 'yz', 'xyz', 'a.b', ']b', 'c', 'abc\n', '', '/api/', '/api/\nx', 'a\nb', 'ab', 'abab c'];

test('regex prefilter: never rejects a value the regex fully matches (and `.+`/`.*` answer as RE2)', () => {
  for (const p of PATTERNS) {
    const re = Re2.compile(p);
    const pre = regexPrefilter(p);
    const m = compileStringMatcher({ safe_regex: { regex: p } });
    const check = (v: string) => {
      const want = re.fullMatch(v);
      if (pre !== undefined && want) assert.ok(pre(v), `prefilter of ${p} rejects ${JSON.stringify(v)}`);
      assert.equal(m(v), want, `${p} on ${JSON.stringify(v)}`);
    };
    for (const v of INTERESTING) check(v);
    fc.assert(fc.property(fc.array(fc.constantFrom(...ALPHABET), { maxLength: 24 }).map((a) => a.join('')), (v) => check(v)), { numRuns: 400 });
  }
  // the scan refuses what it does not understand, and finds the literal text of Istio's shapes
  for (const p of ['a|b', '^abc', 'abc$', 'a{2}b', '\\d+x', '(?s)a.b']) assert.equal(regexPrefilter(p), undefined, p);
  const tpl = regexPrefilter('/team-0/[^/]+/items')!;
  assert.equal(tpl('/api/v1/items/42'), false);
  assert.equal(tpl('/team-0/x/items'), true);
  const host = regexPrefilter('(?i).*\\.team-0\\.internal:[0-9]+')!;
  assert.equal(host('bench-mesh:8000'), false);
  assert.equal(host('A.TEAM-0.INTERNAL:1'), true);
});

test('IPv4 CIDR comparison answers as BlockList (mapped IPv6, leading zeros, bad input, IPv6 ranges)', () => {
  const cidrs: Array<[string, number]> = [['203.0.113.0', 24], ['10.0.0.5', 8], ['0.0.0.0', 0], ['1.2.3.4', 32], ['192.168.1.128', 25], ['::', 0], ['2001:db8::', 32]];
  const fixed = ['203.0.113.7', '203.0.114.1', '1.2.3.4', '::ffff:203.0.113.9', '01.2.3.4', '1.2.3', '1.2.3.4.5', '256.1.1.1', '', '2001:db8::1', '::1', 'abc', '1.2.3.04', '0.0.0.0', '255.255.255.255', '1..2.3', '::ffff:1.2.3.4'];
  for (const [addr, len] of cidrs) {
    const fam = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    const bl = new BlockList();
    bl.addSubnet(addr, len, fam);
    const m = compileCidr({ address_prefix: addr, prefix_len: { value: len } }, 'test');
    const want = (ip: string) => {
      const p = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
      const f = isIP(p);
      return f !== 0 && (f === 4 ? 'ipv4' : 'ipv6') === fam && bl.check(p, fam);
    };
    for (const ip of fixed) assert.equal(m(ip), want(ip), `${addr}/${len} ${ip}`);
    fc.assert(fc.property(fc.ipV4(), (ip) => m(ip) === want(ip)), { numRuns: 2000 });
    fc.assert(fc.property(fc.ipV6(), (ip) => m(ip) === want(ip)), { numRuns: 300 });
  }
  assert.equal(ipv4Number('10.0.0.1'), 0x0a000001);
  assert.equal(ipv4Number('255.255.255.255'), 0xffffffff);
  assert.equal(ipv4Number('1.2.3.04'), undefined);
});

test('RBAC or_rules of url_path rules (Istio paths) answer as the rules one by one', () => {
  const conn = { listenerName: 'l', direction: 'inbound' as const, remoteAddress: '10.0.0.5', remotePort: 1, localAddress: '127.0.10.1', localPort: 9080, destination: undefined, draining: false, remote: '', local: '', routed: undefined, tls: undefined };
  const up = (m: Record<string, unknown>) => ({ url_path: { path: m } });
  const rules = [up({ prefix: '/api/v2/' }), up({ safe_regex: { regex: '/team-0/[^/]+/items' } }), up({ exact: '/svc-0' }), up({ suffix: '.JSON', ignore_case: true })];
  const fast = compilePermission({ or_rules: { rules } }, 'p');
  const one = rules.map((x) => compilePermission(x, 'p'));
  for (const path of ['/api/v2/x', '/api/v2/x?y=1', '/team-0/a/items', '/team-0/a/items?q', '/team-0//items', '/svc-0', '/svc-0?a', '/svc-01', '/a/b.json', '/a/b.Json?x', '/', undefined]) {
    const r: RbacInput = { conn, headers: {}, method: 'GET', path, authority: 'h' };
    assert.equal(fast(r), one.some((f) => f({ ...r })), String(path));
  }
  assert.throws(() => compilePermission({ or_rules: { rules: [up({ prefix: '/a' }), up({ safe_regex: { regex: '(' } })] } }, 'p'), /invalid regex/);
});

test('RBAC or_rules of exact header matches (methods, header values) answer as the rules one by one', () => {
  const conn = { listenerName: 'l', direction: 'inbound' as const, remoteAddress: '10.0.0.5', remotePort: 1, localAddress: '127.0.10.1', localPort: 9080, destination: undefined, draining: false, remote: '', local: '', routed: undefined, tls: undefined };
  const hdr = (name: string, exact: string) => ({ header: { name, string_match: { exact } } });
  const sets = [
    { or_rules: { rules: [hdr(':method', 'GET'), hdr(':method', 'POST')] } },
    { or_rules: { rules: [hdr('x-tenant', 'a'), hdr('x-tenant', 'b,c'), hdr('X-Tenant', 'd')] } },
    { or_rules: { rules: [hdr(':authority', 'h:80'), hdr(':authority', 'g')] } },
  ];
  const reqs: RbacInput[] = [
    { conn, headers: {}, method: 'GET', path: '/', authority: 'h:80' },
    { conn, headers: { 'x-tenant': 'a' }, method: 'PUT', path: '/', authority: 'g' },
    { conn, headers: { 'x-tenant': ['b', 'c'] }, method: 'POST', path: '/', authority: 'x' },
    { conn, headers: { 'x-tenant': 'd' }, method: 'get', path: '/', authority: 'H:80' },
    { conn, headers: undefined, method: 'GET', path: '/', authority: 'g' },
  ];
  for (const s of sets) {
    const fast = compilePermission(s, 'p');
    const fastId = compilePrincipal({ or_ids: { ids: s.or_rules.rules } }, 'p');
    const one = s.or_rules.rules.map((x) => compilePermission(x, 'p'));
    for (const r of reqs) {
      const want = one.some((f) => f(r));
      assert.equal(fast(r), want, `${JSON.stringify(s)} ${JSON.stringify(r.headers)} ${r.method} ${r.authority}`);
      assert.equal(fastId(r), want);
    }
  }
});
