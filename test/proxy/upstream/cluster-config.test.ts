/**
 * DestinationRule → (control plane builder) → Cluster bytes → (proxy) ClusterConfig: every
 * connectionPool, outlierDetection and panic setting arrives with its meaning, as Envoy reads it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTrafficPolicy } from '../../../src/control-plane/builders/build-cluster-traffic-policy.js';
import { decodeResource, encodeResource } from '../../../src/xds/codec.js';
import { CLUSTER_TYPE } from '../../../src/xds/type-urls.js';
import { parseCluster } from '../../../src/proxy/upstream/cluster-config.js';
import type { EffectivePolicy } from '../../../src/control-plane/builders/build-cluster-traffic-policy.js';

function viaWire(policy: EffectivePolicy, protocol: 'HTTP' | 'HTTP2' | 'TCP' = 'HTTP') {
  const c: Record<string, any> = { name: 'outbound|80||web.default.svc.cluster.local', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } };
  applyTrafficPolicy(c, policy, protocol);
  return parseCluster(decodeResource(CLUSTER_TYPE, encodeResource(CLUSTER_TYPE, c)));
}

test('connectionPool: thresholds, connect timeout, keepalive, idle timeout, requests per connection, HTTP/2 upgrade', () => {
  const cfg = viaWire({
    connectionPool: {
      tcp: { maxConnections: 3, connectTimeout: '250ms', tcpKeepalive: { time: '600s', interval: '75s', probes: 4 } },
      http: { http1MaxPendingRequests: 2, http2MaxRequests: 5, maxRetries: 1, maxRequestsPerConnection: 10, idleTimeout: '30s', h2UpgradePolicy: 'UPGRADE' },
    },
  });
  assert.deepEqual(cfg.circuitBreakers, { maxConnections: 3, maxPendingRequests: 2, maxRequests: 5, maxRetries: 1 });
  assert.equal(cfg.connectTimeoutMs, 250);
  assert.deepEqual(cfg.tcpKeepalive, { timeS: 600, intervalS: 75, probes: 4 });
  assert.equal(cfg.idleTimeoutMs, 30_000);
  assert.equal(cfg.maxRequestsPerConnection, 10);
  assert.equal(cfg.http2, true);
});

test('no connectionPool: Istio\'s unlimited thresholds, 10 s connect timeout, Envoy\'s 1 h idle timeout, HTTP/1.1', () => {
  const cfg = viaWire({});
  const max = 4294967295;
  assert.deepEqual(cfg.circuitBreakers, { maxConnections: max, maxPendingRequests: max, maxRequests: max, maxRetries: max });
  assert.equal(cfg.connectTimeoutMs, 10_000);
  assert.equal(cfg.idleTimeoutMs, 3_600_000);
  assert.equal(cfg.tcpKeepalive, undefined);
  assert.equal(cfg.http2, false);
  assert.equal(cfg.outlier, undefined);
  assert.equal(cfg.panicThresholdPct, 50, 'Envoy default when Istio sends no common_lb_config');
});

test('outlierDetection: Istio fields arrive with Envoy\'s defaults for the rest; panic threshold from minHealthPercent', () => {
  const cfg = viaWire({ outlierDetection: { consecutive5xxErrors: 1, interval: '1s', baseEjectionTime: '5s', maxEjectionPercent: 50 } });
  const o = cfg.outlier!;
  assert.equal(o.consecutive5xx, 1);
  assert.equal(o.enforcingConsecutive5xx, 100);
  assert.equal(o.intervalMs, 1000);
  assert.equal(o.baseEjectionMs, 5000);
  assert.equal(o.maxEjectionPercent, 50);
  assert.equal(o.maxEjectionMs, 300_000);
  assert.equal(o.enforcingSuccessRate, 0);
  assert.equal(o.enforcingConsecutiveGatewayFailure, 0);
  assert.equal(cfg.panicThresholdPct, 0);
  const defaults = viaWire({ outlierDetection: { consecutiveGatewayErrors: 3, minHealthPercent: 30 } }).outlier!;
  assert.deepEqual([defaults.intervalMs, defaults.baseEjectionMs, defaults.maxEjectionPercent], [10_000, 30_000, 10]);
  assert.deepEqual([defaults.consecutiveGatewayFailure, defaults.enforcingConsecutiveGatewayFailure], [3, 100]);
  assert.deepEqual([defaults.consecutive5xx, defaults.enforcingConsecutive5xx], [5, 100], 'the 5xx detector keeps Envoy\'s defaults');
  assert.equal(viaWire({ outlierDetection: { minHealthPercent: 30 } }).panicThresholdPct, 30);
  const split = viaWire({ outlierDetection: { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 } }).outlier!;
  assert.deepEqual([split.splitExternalLocalOriginErrors, split.consecutiveLocalOriginFailure], [true, 2]);
});

test('EDS health_status and a bad panic threshold', () => {
  const cfg = parseCluster({
    name: 's', type: 'STATIC',
    load_assignment: { endpoints: [{ lb_endpoints: ['HEALTHY', 'DRAINING', undefined].map((hs, i) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 80 + i } } }, ...(hs ? { health_status: hs } : {}) })) }] },
  });
  assert.deepEqual(cfg.staticEndpoints.map((e) => e.health), ['HEALTHY', 'DRAINING', 'UNKNOWN']);
  assert.throws(() => parseCluster({ name: 'x', common_lb_config: { healthy_panic_threshold: { value: 120 } } }), /healthy_panic_threshold/);
});
