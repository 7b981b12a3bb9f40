/**
 * Turns Clew's resource object form into the JSON Envoy prints in config dumps: Durations as
 * "1.5s" strings, wrappers unwrapped. Used by both planes' config_dump endpoints.
 */
import { durationToString } from './codec.js';

function isDuration(v: Record<string, unknown>): boolean {
  const keys = Object.keys(v);
  return keys.length > 0 && keys.length <= 2 && 'seconds' in v && keys.every((k) => k === 'seconds' || k === 'nanos') &&
    typeof v.seconds !== 'object';
}

const WRAPPED_FIELDS = new Set([
  'max_connections', 'max_pending_requests', 'max_requests', 'max_retries', 'num_retries', 'per_connection_buffer_limit_bytes',
  'consecutive_5xx', 'consecutive_gateway_failure', 'consecutive_local_origin_failure', 'max_ejection_percent',
  'enforcing_consecutive_5xx', 'enforcing_success_rate', 'enforcing_consecutive_gateway_failure',
  'enforcing_consecutive_local_origin_failure', 'load_balancing_weight', 'total_weight', 'weight', 'case_sensitive',
  'max_requests_per_connection', 'minimum_ring_size', 'maximum_ring_size', 'use_original_dst', 'bind_to_port', 'transparent',
  'healthy_threshold', 'unhealthy_threshold', 'max_concurrent_streams', 'initial_stream_window_size', 'keepalive_probes',
  'keepalive_time', 'keepalive_interval', 'value',
]);

export function toEnvoyJson(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => toEnvoyJson(v));
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  const obj = value as Record<string, unknown>;
  if (isDuration(obj)) return durationToString(obj as { seconds: number; nanos?: number });
  const keys = Object.keys(obj);
  if (key && key !== 'value' && WRAPPED_FIELDS.has(key) && keys.length === 1 && keys[0] === 'value') return obj.value;
  const out: Record<string, unknown> = {};
  // '@type' first, as Envoy prints it
  if ('@type' in obj) out['@type'] = obj['@type'];
  for (const k of keys) if (k !== '@type') out[k] = toEnvoyJson(obj[k], k);
  return out;
}
