/**
 * Path normalization, case by case: Istio's PathNormalization integration table (the path the
 * backend sees per MeshConfig mode, every %01..%ff escape) and the canonicalization rules of
 * Envoy's normalize_path (RFC 3986 dot segments with the Chromium URL library's escaping).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalizePath, normalizeRequestPath, PathVerdict, type NormalizedPath, type PathNormalization } from '../../../src/proxy/http/path-normalize.js';

const MODES: Record<string, PathNormalization | undefined> = {
  NONE: undefined,
  BASE: { normalize: true, mergeSlashes: false, escapedSlashes: 'KEEP_UNCHANGED' },
  MERGE_SLASHES: { normalize: true, mergeSlashes: true, escapedSlashes: 'KEEP_UNCHANGED' },
  DECODE_AND_MERGE_SLASHES: { normalize: true, mergeSlashes: true, escapedSlashes: 'UNESCAPE_AND_FORWARD' },
};

function norm(path: string, cfg: PathNormalization | undefined): string {
  const out: NormalizedPath = { path: '', verdict: PathVerdict.Continue };
  normalizeRequestPath(path, cfg, out);
  return out.verdict === PathVerdict.Reject ? '400' : out.verdict === PathVerdict.Redirect ? `307 ${out.path}` : out.path;
}

// [input, NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES]
const ISTIO_TABLE: Array<[string, string, string, string, string]> = [
  ['/', '/', '/', '/', '/'],
  ['/app#foo', '/app', '/app', '/app', '/app'],
  ['/app/', '/app/', '/app/', '/app/', '/app/'],
  ['/app/../admin', '/app/../admin', '/admin', '/admin', '/admin'],
  ['/app', '/app', '/app', '/app', '/app'],
  ['/app//', '/app//', '/app//', '/app/', '/app/'],
  ['/app/%2f', '/app/%2f', '/app/%2f', '/app/%2f', '/app/'],
  ['/app%2f/', '/app%2f/', '/app%2f/', '/app%2f/', '/app/'],
  ['/xyz%30..//abc', '/xyz%30..//abc', '/xyz0..//abc', '/xyz0../abc', '/xyz0../abc'],
  ['/app/%2E./admin', '/app/%2E./admin', '/admin', '/admin', '/admin'],
  ['/app\\admin', '/app\\admin', '/app/admin', '/app/admin', '/app/admin'],
  ['/app/\\/\\/\\admin', '/app/\\/\\/\\admin', '/app//////admin', '/app/admin', '/app/admin'],
  ['/%2Fapp%5cadmin%5Cabc', '/%2Fapp%5cadmin%5Cabc', '/%2Fapp%5cadmin%5Cabc', '/%2Fapp%5cadmin%5Cabc', '/app/admin/abc'],
  ['/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\\abc', '/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\\abc', '/%5Capp%2f%5c%2F..%2fadmin%5c/abc', '/%5Capp%2f%5c%2F..%2fadmin%5c/abc', '/app/admin/abc'],
  ['/app//../admin', '/app//../admin', '/app/admin', '/app/admin', '/app/admin'],
  ['/app//../../admin', '/app//../../admin', '/admin', '/admin', '/admin'],
];

test("Istio's normalization table, per MeshConfig pathNormalization mode", () => {
  const names = Object.keys(MODES);
  for (const [input, ...want] of ISTIO_TABLE) {
    names.forEach((m, i) => assert.equal(norm(input, MODES[m]), want[i], `${m}: ${input}`));
  }
});

test("Istio's DECODE_AND_MERGE_SLASHES cases: overlong UTF-8 and look-alikes are not decoded, NUL is rejected", () => {
  const d = MODES.DECODE_AND_MERGE_SLASHES;
  assert.equal(norm('/%c0%2e%c0%2e/admin', d), '/%c0.%c0./admin');
  assert.equal(norm('/%c0%2fadmin', d), '/%c0/admin');
  for (const same of ['/0x2e0x2e/admin', '/0x2e0x2e0x2fadmin', '/0x2f0x2fadmin', '/0x5c0x5cadmin', '/%25c0%25ae%25c1%259cadmin',
    '/%252e%252e/admin', '/%252e%252e%252fadmin', '/%c1%9cadmin', '/%c0%ae%c0%ae/admin', '/%c0%afadmin', '/.../admin', '/..../admin',
    '/..;/admin', '/;/admin', '/admin;a=b', '/admin;a=b/xyz', '/admin,a=b/xyz', '/Admin', '/ADMIN']) {
    assert.equal(norm(same, d), same, same);
  }
  assert.equal(norm('/admin%00', d), '400');
});

test("Istio's percent-encoded table: %01..%ff, only unreserved characters and slashes are decoded", () => {
  const unreserved = (i: number): boolean => (i >= 0x30 && i <= 0x39) || (i >= 0x41 && i <= 0x5a) || (i >= 0x61 && i <= 0x7a) || [0x2d, 0x2e, 0x5f, 0x7e].includes(i);
  for (let i = 1; i <= 0xff; i++) {
    const input = `/admin%${i.toString(16).padStart(2, '0')}`;
    let want = input;
    if (unreserved(i)) want = `/admin${String.fromCharCode(i)}`;
    if (i === 0x2f || i === 0x5c) want = '/admin/';
    assert.equal(norm(input, MODES.DECODE_AND_MERGE_SLASHES), want, input);
  }
});

test('normalize_path: RFC 3986 dot segments, never above the root, query untouched', () => {
  const cases: Array<[string, string]> = [
    ['/a/b/c/./../../g', '/a/g'],
    ['/../', '/'],
    ['/..', '/'],
    ['/.', '/'],
    ['/./', '/'],
    ['/a/..', '/'],
    ['/a/.', '/a/'],
    ['/a/../../../b', '/b'],
    ['/%2e%2e/', '/'],
    ['/%2E%2e/x', '/x'],
    ['/.%2e/x', '/x'],
    ['/abc%2e%2e/', '/abc../'],
    ['/a/.b/..c/x', '/a/.b/..c/x'],
    ['/public/../secret.txt', '/secret.txt'],
    ['/public/%2e%2e/secret.txt', '/secret.txt'],
    ['/public/..\\secret.txt', '/secret.txt'],
    ['/public/..%2fsecret.txt', '/public/..%2fsecret.txt'],
    ['/a/b?x=/../y&z=%2e%2e', '/a/b?x=/../y&z=%2e%2e'],
    ['/a/../b?q', '/b?q'],
    // characters a path may not carry are escaped (upper-case hex); kept escapes keep their case
    ['/a b"<>^`{|}', '/a%20b%22%3C%3E%5E%60%7B%7C%7D'],
    ['/\u00e9', '/%E9'],
    ['/x%7a%7A%5a%2d%5f%7e', '/xzzZ-_~'],
    ['/x%2a%3f%23%25', '/x%2a%3f%23%25'],
    // a '%' that starts no escape stays; decoding must not create a new escape (%%30%30 -> %00)
    ['/100%', '/100%'],
    ['/%zz', '/%zz'],
    ['/%%300', '/%2500'],
    ['/%%30%30', '/%2500'],
  ];
  for (const [input, want] of cases) assert.equal(norm(input, MODES.BASE), want, input);
  assert.equal(canonicalizePath('/\u0000'), undefined);
  assert.equal(canonicalizePath('/a%00b'), undefined);
});

test('escaped slashes: KEEP_UNCHANGED, REJECT_REQUEST, UNESCAPE_AND_REDIRECT, UNESCAPE_AND_FORWARD', () => {
  const base = { normalize: true, mergeSlashes: false };
  assert.equal(norm('/a%2Fb', { ...base, escapedSlashes: 'KEEP_UNCHANGED' }), '/a%2Fb');
  assert.equal(norm('/a%2Fb', { ...base, escapedSlashes: 'REJECT_REQUEST' }), '400');
  assert.equal(norm('/a%5cb', { ...base, escapedSlashes: 'REJECT_REQUEST' }), '400');
  assert.equal(norm('/a/b', { ...base, escapedSlashes: 'REJECT_REQUEST' }), '/a/b');
  assert.equal(norm('/a%2Fb?x=%2F', { ...base, escapedSlashes: 'REJECT_REQUEST' }), '400');
  assert.equal(norm('/a/b?x=%2F', { ...base, escapedSlashes: 'REJECT_REQUEST' }), '/a/b?x=%2F', 'the query is not the path');
  assert.equal(norm('/a%2f..%2fb', { ...base, escapedSlashes: 'UNESCAPE_AND_REDIRECT' }), '307 /b');
  assert.equal(norm('/a%2fb', { ...base, escapedSlashes: 'UNESCAPE_AND_FORWARD' }), '/a/b');
  // unescaping first, then normalization: an escaped slash cannot hide a dot segment
  assert.equal(norm('/public%2f..%2fsecret', { ...base, escapedSlashes: 'UNESCAPE_AND_FORWARD' }), '/secret');
  // merge_slashes alone
  assert.equal(norm('//a///b//?q=//', { normalize: false, mergeSlashes: true, escapedSlashes: 'KEEP_UNCHANGED' }), '/a/b/?q=//');
});

test('a typical path comes back as the same string; "*" and authority-form are left alone', () => {
  const p = '/productpage/reviews/v1/0?user=jason';
  const out: NormalizedPath = { path: '', verdict: PathVerdict.Continue };
  normalizeRequestPath(p, MODES.DECODE_AND_MERGE_SLASHES, out);
  assert.equal(out.path, p);
  assert.equal(norm('*', MODES.BASE), '*');
  assert.equal(norm('/index.html', MODES.BASE), '/index.html');
});
