/**
 * HTTP filter contracts. A factory parses the filter's typed_config ONCE when config arrives
 * (throwing rejects the config: NACK) and returns a config object whose create() makes the cheap
 * per-request filter. Per-route overrides (typed_per_filter_config) are parsed once per RDS update.
 */
import type { HeaderMap } from '../router/header-ops.js';
import type { ActiveStream } from '../http/active-stream.js';

export interface HttpFilter {
  /** true: continue with the next filter; false: stop (the filter calls stream.continueDecoding() or replies) */
  decodeHeaders(stream: ActiveStream): boolean;
  /** may edit the response headers; called for upstream responses and local replies */
  encodeHeaders?(stream: ActiveStream, status: number, headers: HeaderMap): void;
  /** stream finished or reset: cancel timers */
  onDestroy?(): void;
}

export interface HttpFilterConfig {
  /** the filter's configured name (typed_per_filter_config key) */
  readonly name: string;
  create(stream: ActiveStream): HttpFilter;
}

export interface HttpFilterFactory {
  /** typed_config '@type' values this factory accepts */
  readonly typeUrls: readonly string[];
  /** typed_per_filter_config '@type' values it accepts */
  readonly perRouteTypeUrls: readonly string[];
  parse(config: Record<string, any>, name: string): HttpFilterConfig;
  parsePerRoute?(config: Record<string, any>): unknown;
}
