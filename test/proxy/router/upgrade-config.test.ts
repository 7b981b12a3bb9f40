/** upgrade_configs parsing: Envoy's HCM/route precedence; what Clew does not implement is a NACK (a config error). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHcmUpgrades, parseRouteUpgrades, upgradeEnabled } from '../../../src/proxy/router/upgrade-config.js';
import { ProxyConfigError } from '../../../src/proxy/core/errors.js';

test('Envoy precedence: the route entry decides when present, else the HCM entry; types compare without case', () => {
  const hcm = parseHcmUpgrades([{ upgrade_type: 'WebSocket' }, { upgrade_type: 'spdy/3', enabled: { value: false } }]);
  assert.equal(upgradeEnabled('websocket', hcm, undefined), true);
  assert.equal(upgradeEnabled('spdy/3', hcm, undefined), false);
  assert.equal(upgradeEnabled('foo', hcm, undefined), false);
  const route = parseRouteUpgrades([{ upgrade_type: 'websocket', enabled: { value: false } }, { upgrade_type: 'spdy/3' }, { upgrade_type: 'foo' }], 'r')!;
  assert.equal(upgradeEnabled('websocket', hcm, route), false);
  assert.equal(upgradeEnabled('spdy/3', hcm, route), true);
  assert.equal(upgradeEnabled('foo', hcm, route), true);
  assert.equal(parseRouteUpgrades([], 'r'), undefined);
  assert.equal(parseHcmUpgrades(undefined).size, 0);
});

test('custom upgrade filter chains, CONNECT termination, duplicates and missing types are config errors (NACK)', () => {
  const cases: Array<[() => unknown, RegExp]> = [
    [() => parseHcmUpgrades([{ upgrade_type: 'websocket', filters: [{ name: 'x' }] }]), /custom upgrade filter chains are not supported/],
    [() => parseHcmUpgrades([{ upgrade_type: 'websocket' }, { upgrade_type: 'WEBSOCKET' }]), /duplicate upgrade_type websocket/],
    [() => parseHcmUpgrades([{}]), /upgrade_type is required/],
    [() => parseRouteUpgrades([{ upgrade_type: 'CONNECT', connect_config: {} }], 'r1'), /route r1: .*connect_config .* not supported/],
  ];
  for (const [fn, re] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof ProxyConfigError && re.test(e.message));
  }
});
