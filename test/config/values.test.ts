import assert from 'node:assert/strict';
import { test } from 'node:test';
import { followsPortNameConvention, hostMatches, parseGoDuration, resolveHost } from '../../src/config/index.js';
import { checkDuration } from '../../src/config/value-duration.js';
import { checkRegex, checkRegexRewrite } from '../../src/config/value-regex.js';
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

test('regexes are checked with RE2 syntax, not JavaScript\'s', () => {
  // valid RE2 (some of them invalid or different in JavaScript)
  for (const ok of ['/api/v[0-9]+/.*', '^/static/.*\\.css$', '(?:a|b)+', '[\\w-]+', 'a\\\\1', '(?i)/API', '\\pL+', '[[:alpha:]]+', '/x\\z', '(?P<id>[0-9]+)', '^/api/(a+)+$']) {
    assert.equal(checkRegex(ok), undefined, ok);
  }
  assert.equal(checkRegex('(?<=x)y'), 'invalid regex (RE2 syntax): lookaround is not supported');
  assert.equal(checkRegex('x(?<!y)'), 'invalid regex (RE2 syntax): lookaround is not supported');
  assert.equal(checkRegex('(?<n>a)\\k<n>'), 'invalid regex (RE2 syntax): backreferences are not supported');
  assert.equal(checkRegex('[a-'), 'invalid regex (RE2 syntax): missing closing ]: `[a-`');
  assert.equal(checkRegex('*a'), 'invalid regex (RE2 syntax): missing argument to repetition operator: `*`');
  // valid JavaScript, invalid RE2
  assert.equal(checkRegex('a{1001}'), 'invalid regex (RE2 syntax): invalid repeat count: `{1001}`');
  assert.equal(checkRegex('\\cA'), 'invalid regex (RE2 syntax): invalid escape sequence: `\\c`');
  // Istio's program size limit (re2.max_program_size.error_level 32768)
  assert.match(checkRegex('[a-z]{1000}'.repeat(40)) ?? '', /^invalid regex \(RE2 syntax\): regex program size \d+ exceeds the maximum of 32768/);
  assert.equal(checkRegexRewrite('^/v1/(.*)$', '/v2/\\1'), undefined);
  assert.equal(checkRegexRewrite('^/v1/(.*)$', '/\\\\/\\0'), undefined);
  assert.equal(checkRegexRewrite('^/v1/(.*)$', '/v2/\\2'), 'substitution "/v2/\\\\2" refers to group \\2, the regex has 1');
  assert.equal(checkRegexRewrite('^/v1/(.*)$', '/v2/$1\\n'), `invalid substitution "/v2/$1\\\\n": '\\' must be followed by a digit or '\\'`);
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
