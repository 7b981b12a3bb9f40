/**
 * envoyproxy/ratelimit's config format as `clew ratelimit` reads it: Istio's ConfigMap data, nested
 * descriptors, unlimited and shadow_mode, a directory as a mounted ConfigMap (dotfiles skipped),
 * the lookup (key_value before the key's default, depth must match), and errors naming the file
 * and the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRule, loadRateLimitConfig, parseDomainConfig } from '../../src/ratelimit/ratelimit-config.js';
import { RateLimitConfigError } from '../../src/ratelimit/ratelimit-errors.js';

const ISTIO = `domain: ratelimit
descriptors:
  - key: PATH
    value: "/productpage"
    rate_limit:
      unit: minute
      requests_per_unit: 1
  - key: PATH
    rate_limit:
      unit: minute
      requests_per_unit: 100
`;

const NESTED = `domain: nested
descriptors:
  - key: remote_address
    descriptors:
      - key: PATH
        value: /admin
        shadow_mode: true
        rate_limit: {unit: second, requests_per_unit: 2, name: admin}
      - key: PATH
        rate_limit: {unit: hour, requests_per_unit: 10}
  - key: generic_key
    value: free
    rate_limit: {unlimited: true}
`;

test("Istio's task config: /productpage has its own limit, other paths the key's default", () => {
  const d = parseDomainConfig(ISTIO, 'config.yaml');
  assert.equal(d.domain, 'ratelimit');
  assert.deepEqual(findRule(d, [{ key: 'PATH', value: '/productpage' }])?.requestsPerUnit, 1);
  const other = findRule(d, [{ key: 'PATH', value: '/reviews' }]);
  assert.equal(other?.requestsPerUnit, 100);
  assert.equal(other?.unit, 'minute');
  assert.equal(findRule(d, [{ key: 'METHOD', value: 'GET' }]), undefined, 'an unknown key has no limit');
  assert.equal(findRule(d, [{ key: 'PATH', value: '/productpage' }, { key: 'x', value: 'y' }]), undefined, 'deeper than the config: no limit');
});

test('nested descriptors, shadow_mode, unlimited, names; a descriptor that stops above the limited level has none', () => {
  const d = parseDomainConfig(NESTED, 'n.yaml');
  const admin = findRule(d, [{ key: 'remote_address', value: '10.0.0.1' }, { key: 'PATH', value: '/admin' }]);
  assert.deepEqual({ n: admin?.requestsPerUnit, unit: admin?.unit, shadow: admin?.shadowMode, name: admin?.name, key: admin?.fullKey },
    { n: 2, unit: 'second', shadow: true, name: 'admin', key: 'nested.remote_address.PATH_/admin' });
  assert.equal(findRule(d, [{ key: 'remote_address', value: '10.0.0.1' }, { key: 'PATH', value: '/x' }])?.requestsPerUnit, 10);
  assert.equal(findRule(d, [{ key: 'remote_address', value: '10.0.0.1' }]), undefined);
  assert.equal(findRule(d, [{ key: 'generic_key', value: 'free' }])?.unlimited, true);
});

test('a directory as a mounted ConfigMap: every *.yaml, dotfiles and ..data links skipped; one domain per file, no domain twice', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clew-rl-config-'));
  try {
    writeFileSync(join(dir, 'config.yaml'), ISTIO);
    writeFileSync(join(dir, 'nested.yml'), NESTED);
    writeFileSync(join(dir, 'notes.txt'), 'not config');
    mkdirSync(join(dir, '..2026_12_07'));
    writeFileSync(join(dir, '..2026_12_07', 'config.yaml'), ISTIO);
    symlinkSync('..2026_12_07', join(dir, '..data'));
    const set = loadRateLimitConfig(dir);
    assert.deepEqual([...set.keys()].sort(), ['nested', 'ratelimit']);
    writeFileSync(join(dir, 'again.yaml'), ISTIO);
    assert.throws(() => loadRateLimitConfig(dir), (e: unknown) => e instanceof RateLimitConfigError && /domain: ratelimit is also defined in .*(again|config)\.yaml/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad config is refused with the file and the field', () => {
  const bad: Array<[string, RegExp]> = [
    ['descriptors: []', /f\.yaml: domain: a non-empty domain is required/],
    ['domain: d\ndescriptors:\n  - value: x', /f\.yaml: descriptors\[0\]\.key: a non-empty key is required/],
    ['domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: fortnight, requests_per_unit: 1}', /descriptors\[0\]\.rate_limit\.unit: "fortnight" is not a unit/],
    ['domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: minute, requests_per_unit: -1}', /descriptors\[0\]\.rate_limit\.requests_per_unit: -1 is not a count/],
    ['domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: minute, requests_per_unit: 1, per: x}', /descriptors\[0\]\.rate_limit\.per: unknown field/],
    ['domain: d\ndescriptors:\n  - key: k\n  - key: k', /descriptors\[1\]: duplicate descriptor k/],
    ['domain: d\ndescriptors:\n  - key: k\n    descriptors:\n      - key: j\n        rate_limit: {unlimited: true, unit: second}', /descriptors\[0\]\.descriptors\[0\]\.rate_limit: unlimited cannot have unit/],
    ['domain: d\ndescriptor: []', /f\.yaml: descriptor: unknown field/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parseDomainConfig(text, 'f.yaml'), (e: unknown) => e instanceof RateLimitConfigError && e.code === 'CLEW_RATELIMIT_CONFIG' && re.test(e.message), text);
  }
  assert.throws(() => loadRateLimitConfig('/nonexistent/clew-rl'), (e: unknown) => e instanceof RateLimitConfigError && /\/nonexistent\/clew-rl: \(path\)/.test(e.message));
});
