import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLoadOptions, LoadUsageError, normalizeLoadArgv, parseHeader, parseLoadDuration } from '../../src/load/load-options.js';

test('fortio single-dash long flags become commander long flags', () => {
  assert.deepEqual(
    normalizeLoadArgv(['-c', '2', '-qps', '0', '-n', '20', '-loglevel', 'Warning', '-json', '-', '-curl', '-H', 'a: b', 'http://x/']),
    ['-c', '2', '--qps', '0', '-n', '20', '--loglevel', 'Warning', '--json', '--curl', '-H', 'a: b', 'http://x/'],
  );
  assert.deepEqual(normalizeLoadArgv(['-timeout=2s', '-proxy', 'http://p:1', '-t', '5s']), ['--timeout=2s', '--proxy', 'http://p:1', '-t', '5s']);
  assert.deepEqual(normalizeLoadArgv(['--', '-qps']), ['--', '-qps']);
  assert.deepEqual(normalizeLoadArgv(['-unknown']), ['-unknown']);
});

test('defaults are fortio\'s: 4 connections, 8 qps, 5 s, 3 s timeout', () => {
  const o = buildLoadOptions('http://httpbin:8000/get', {});
  assert.equal(o.connections, 4);
  assert.equal(o.qps, 8);
  assert.equal(o.durationMs, 5000);
  assert.equal(o.requests, undefined);
  assert.equal(o.timeoutMs, 3000);
  assert.equal(o.proxy, undefined);
});

test('-n wins over -t; the URL scheme defaults to http; env proxy applies unless --proxy', () => {
  const o = buildLoadOptions('httpbin:8000/get', { n: '20', t: '10s', qps: '0', connections: '2' }, 'http://127.0.0.1:15001');
  assert.equal(o.url, 'http://httpbin:8000/get');
  assert.equal(o.requests, 20);
  assert.equal(o.durationMs, undefined);
  assert.equal(o.qps, 0);
  assert.equal(o.proxy, 'http://127.0.0.1:15001');
  assert.equal(buildLoadOptions('http://x/', { proxy: '127.0.0.1:9' }, 'http://other:1').proxy, 'http://127.0.0.1:9');
});

test('bad values are usage errors', () => {
  const bad: Array<[string | undefined, Record<string, unknown>]> = [
    [undefined, {}], ['https://x/', {}], ['http://x/', { connections: '0' }], ['http://x/', { qps: '-1' }],
    ['http://x/', { n: 'ten' }], ['http://x/', { t: 'forever' }], ['http://x/', { header: ['nocolon'] }],
    ['http://x/', { timeout: '0s' }],
  ];
  for (const [url, flags] of bad) {
    assert.throws(() => buildLoadOptions(url, flags), LoadUsageError, JSON.stringify([url, flags]));
  }
});

test('durations and headers parse', () => {
  assert.equal(parseLoadDuration('1m30s', 't'), 90000);
  assert.equal(parseLoadDuration('2', 't'), 2000);
  assert.deepEqual(parseHeader('end-user: jason'), ['end-user', 'jason']);
  assert.deepEqual(parseHeader('X-A:b:c'), ['X-A', 'b:c']);
});
