import assert from 'node:assert/strict';
import { test } from 'node:test';
import { followsPortNameConvention, hostMatches, parseGoDuration, resolveHost } from '../../src/config/index.js';
import { checkDuration } from '../../src/config/value-duration.js';
import { checkRegex } from '../../src/config/value-regex.js';
import { checkNamespacedHost, checkWildcardDomain } from '../../src/config/value-host.js';

test('Go durations', () => {
  assert.equal(parseGoDuration('1s'), 1e9);
  assert.equal(parseGoDuration('100ms'), 1e8);
  assert.equal(parseGoDuration('1m30s'), 90e9);
  assert.equal(parseGoDuration('1.5h'), 5400e9);
  assert.equal(parseGoDuration('2h45m'), (2 * 3600 + 45 * 60) * 1e9);
  assert.equal(parseGoDuration('250us'), 250e3);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('-5s'), -5e9);
  for (const bad of ['', '5', '1d', 's', '1s2', '1 s', '1.2.3s']) assert.equal(parseGoDuration(bad), undefined, bad);
  assert.equal(checkDuration('1ms', 1), undefined);
  assert.equal(checkDuration('0s', 0), undefined);
  assert.equal(checkDuration('-1s', 0), 'must not be negative');
  assert.equal(checkDuration('1.5ms', 1), 'only millisecond precision is supported');
  assert.equal(checkDuration('0.001s', 1), undefined);
});

test('regexes: JS must compile them and RE2 must accept them', () => {
  for (const ok of ['/api/v[0-9]+/.*', '^/static/.*\\.css$', '(?:a|b)+', '[\\w-]+', 'a\\\\1']) assert.equal(checkRegex(ok), undefined, ok);
  assert.equal(checkRegex('(?<=x)y'), 'invalid regex: lookaround is not supported (RE2 syntax)');
  assert.equal(checkRegex('x(?<!y)'), 'invalid regex: lookaround is not supported (RE2 syntax)');
  assert.equal(checkRegex('(?<n>a)\\k<n>'), 'invalid regex: backreferences are not supported (RE2 syntax)');
  assert.equal(checkRegex('[a-'), 'invalid regex: unterminated character class');
  assert.equal(checkRegex('*a'), 'invalid regex: nothing to repeat');
});

test('hosts, namespaces and resolution', () => {
  assert.equal(checkWildcardDomain('*.example.com'), undefined);
  assert.equal(checkWildcardDomain('reviews.default.svc.cluster.local'), undefined);
  assert.equal(checkWildcardDomain('-bad.com'), 'invalid host "-bad.com"');
  assert.equal(checkNamespacedHost('./*', true), undefined);
  assert.equal(checkNamespacedHost('istio-system/*.example.com', true), undefined);
  assert.equal(checkNamespacedHost('*/reviews', false), undefined);
  assert.equal(resolveHost('reviews', 'prod'), 'reviews.prod.svc.cluster.local');
  assert.equal(resolveHost('reviews.prod', 'default'), 'reviews.prod');
  assert.ok(hostMatches('*.example.com', 'api.example.com'));
  assert.ok(!hostMatches('*.example.com', 'example.com'));
  assert.ok(hostMatches('*', 'anything'));
});

test('port name convention', () => {
  for (const ok of ['http', 'http-web', 'grpc', 'grpc-web', 'http2', 'tcp-db', 'TLS', 'mongo']) assert.ok(followsPortNameConvention(ok), ok);
  for (const bad of ['web', 'http2foo', 'httpx', '', 'h2']) assert.ok(!followsPortNameConvention(bad), bad);
});
