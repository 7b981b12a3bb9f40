import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newUuid, randomHex } from '../../src/proxy/core/random-ids.js';

test('newUuid: RFC 9562 version 4 format, distinct across pool refills', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const u = newUuid();
    assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(u);
  }
  assert.equal(seen.size, 2000, '2000 ids span several 4 KiB pool refills without repeats');
});

test('randomHex: the asked number of bytes as hex', () => {
  assert.match(randomHex(8), /^[0-9a-f]{16}$/);
  assert.match(randomHex(16), /^[0-9a-f]{32}$/);
  assert.notEqual(randomHex(16), randomHex(16));
});
