/**
 * Istio gives every listener its own access log filtered on response flag NR, so a connection no
 * filter chain takes leaves a line (issue 23 item 9: traffic to a port with no listener left no
 * log); requests keep logging through their HCM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildListeners } from '../../../src/control-plane/builders/index.js';
import { applyMeshConfig } from '../../../src/config/mesh-config.js';
import { LISTENER_TYPE } from '../../../src/xds/type-urls.js';
import { assertRoundTrip, BOOKINFO_SERVICES, makePc, proxy } from './fixtures.js';

test('with access logging on, every listener logs NR connections; off, none does', () => {
  const on = buildListeners(makePc(BOOKINFO_SERVICES, [], applyMeshConfig({ accessLogFile: '/dev/stdout' })), proxy());
  assert.ok(on.some((l) => l.name === 'virtualOutbound') && on.some((l) => l.name === '0.0.0.0_9080'));
  for (const l of on) {
    assertRoundTrip(LISTENER_TYPE, l);
    assert.equal(l.access_log?.length, 1, `listener ${l.name}`);
    assert.deepEqual(l.access_log[0].filter, { response_flag_filter: { flags: ['NR'] } });
    assert.equal(l.access_log[0].typed_config.path, '/dev/stdout');
  }
  const off = buildListeners(makePc(BOOKINFO_SERVICES, []), proxy());
  for (const l of off) assert.equal(l.access_log, undefined, `listener ${l.name}`);
});
