import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lowerHeaderName } from '../../../src/proxy/codec/header-names.js';
import { headersFromRaw } from '../../../src/proxy/codec/codec-http1-request.js';
import { decodeHeaders } from '../../../src/proxy/codec/codec-http1-client-head.js';

test('header names come back lower-cased, seeded or not, in any spelling', () => {
  assert.equal(lowerHeaderName('Content-Length'), 'content-length');
  assert.equal(lowerHeaderName('content-length'), 'content-length');
  assert.equal(lowerHeaderName('CONTENT-LENGTH'), 'content-length');
  assert.equal(lowerHeaderName('X-Custom-Thing'), 'x-custom-thing');
  assert.equal(lowerHeaderName('X-Custom-Thing'), 'x-custom-thing');
  assert.equal(lowerHeaderName('x-custom-thing'), 'x-custom-thing');
});

test('a flood of distinct names is still lower-cased past the cache bound', () => {
  for (let i = 0; i < 5000; i++) assert.equal(lowerHeaderName(`X-Flood-${i}`), `x-flood-${i}`);
});

test('the codecs build lower-case header objects through the cache', () => {
  assert.deepEqual(headersFromRaw(['Host', 'a:1', 'X-Y', '1', 'x-y', '2', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2']), {
    host: 'a:1', 'x-y': '1, 2', 'set-cookie': ['a=1', 'b=2'],
  });
  assert.deepEqual(decodeHeaders(['Content-Type', 'text/plain', 'Vary', 'a', 'vary', 'b'], {}), { 'content-type': 'text/plain', vary: ['a', 'b'] });
});
