/** DestinationRule traffic policy → Envoy cluster fields: Istio's zero-means-default limits and outlier mapping. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTrafficPolicy, circuitBreakers, outlierDetection } from '../../../src/control-plane/builders/build-cluster-traffic-policy.js';

const MAX = 4294967295;

test('connectionPool limits: 0 or unset is Istio\'s "unlimited" (MaxUint32), as Istio treats 0 as unset', () => {
  const t = circuitBreakers({ tcp: { maxConnections: 0 }, http: { http1MaxPendingRequests: 0, http2MaxRequests: 7, maxRetries: 0 } }).thresholds[0];
  assert.deepEqual(
    [t.max_connections, t.max_pending_requests, t.max_requests, t.max_retries],
    [{ value: MAX }, { value: MAX }, { value: 7 }, { value: MAX }],
  );
  assert.equal(t.track_remaining, true);
});

test('outlierDetection: unset interval, baseEjectionTime and maxEjectionPercent are left to Envoy\'s defaults (as Istio does)', () => {
  const o = outlierDetection({ consecutive5xxErrors: 1 });
  assert.deepEqual(o, { enforcing_success_rate: { value: 0 }, consecutive_5xx: { value: 1 }, enforcing_consecutive_5xx: { value: 100 } });
  const c: Record<string, any> = {};
  applyTrafficPolicy(c, { outlierDetection: { consecutive5xxErrors: 1 } }, 'HTTP');
  assert.deepEqual(c.common_lb_config.healthy_panic_threshold, { value: 0 }, 'Istio disables panic unless minHealthPercent');
  applyTrafficPolicy(c, { outlierDetection: { consecutive5xxErrors: 1, minHealthPercent: 40 } }, 'HTTP');
  assert.deepEqual(c.common_lb_config.healthy_panic_threshold, { value: 40 });
});

test('deprecated consecutiveErrors is an alias of consecutive5xxErrors, which wins when both are set; 0 disables', () => {
  assert.deepEqual(outlierDetection({ consecutiveErrors: 3 }).consecutive_5xx, { value: 3 });
  assert.deepEqual(outlierDetection({ consecutiveErrors: 3, consecutive5xxErrors: 2 }).consecutive_5xx, { value: 2 });
  assert.equal(outlierDetection({ consecutiveErrors: 0 }).consecutive_5xx, undefined);
  assert.deepEqual(outlierDetection({ consecutive5xxErrors: 0 }).enforcing_consecutive_5xx, { value: 0 });
  const g = outlierDetection({ consecutiveGatewayErrors: 2, interval: '1s', baseEjectionTime: '5s', maxEjectionPercent: 50 });
  assert.deepEqual([g.consecutive_gateway_failure, g.enforcing_consecutive_gateway_failure, g.max_ejection_percent], [{ value: 2 }, { value: 100 }, { value: 50 }]);
  assert.deepEqual(g.interval, { seconds: 1 });
  assert.deepEqual(g.base_ejection_time, { seconds: 5 });
  const split = outlierDetection({ splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 });
  assert.deepEqual([split.split_external_local_origin_errors, split.consecutive_local_origin_failure, split.enforcing_consecutive_local_origin_failure], [true, { value: 2 }, { value: 100 }]);
});
