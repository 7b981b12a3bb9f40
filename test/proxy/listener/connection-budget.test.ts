/** The default global downstream connection limit, from the descriptor limit (/proc/self/limits). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultMaxDownstreamConnections, openFilesLimit } from '../../../src/proxy/listener/connection-budget.js';

const LIMITS = (soft: string) => `Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            ${soft}                 1048576              files     \n`;

test('openFilesLimit reads the soft limit; unlimited or unreadable is undefined', () => {
  assert.equal(openFilesLimit(LIMITS('1024')), 1024);
  assert.equal(openFilesLimit(LIMITS('unlimited')), undefined);
  assert.equal(openFilesLimit('garbage'), undefined);
  // this process (Linux)
  const own = openFilesLimit();
  assert.ok(own === undefined || own > 0);
});

test('the default keeps a reserve (at least 64, a fifth of the limit) and a ceiling', () => {
  assert.equal(defaultMaxDownstreamConnections(256), 192);
  assert.equal(defaultMaxDownstreamConnections(1024), 820);
  assert.equal(defaultMaxDownstreamConnections(20_000), 16_000);
  assert.equal(defaultMaxDownstreamConnections(1_048_576), 65_536);
  assert.equal(defaultMaxDownstreamConnections(10), 1);
});
