/**
 * istio.stats as an HTTP filter (Istio's stats filter, placed before the router): its presence
 * turns Istio's standard metrics on for the HCM. Like Envoy's stats filter it does nothing while
 * the request flows; it records when the stream completes (an access-log-style handler), so the
 * HCM lifts its config out of the per-request filter list into the HCM's telemetry
 * (http/hcm-config.ts) and no per-request object exists for it.
 * The same config as a network filter before tcp_proxy gives TCP metrics (network/tcp-proxy.ts).
 */
import { ISTIO_STATS_TYPE } from '../../../xds/type-urls.js';
import type { MetricsConfig } from '../../telemetry/telemetry-config.js';
import type { HttpFilter, HttpFilterConfig, HttpFilterFactory } from '../../filter-api/http-filter.js';
import { parseStatsPluginConfig } from './stats-config.js';

const PASS: HttpFilter = { decodeHeaders: () => 'continue' };

export class IstioStatsFilterConfig implements HttpFilterConfig {
  readonly completionOnly = true;
  constructor(
    readonly name: string,
    readonly metrics: MetricsConfig,
  ) {}
  create(): HttpFilter {
    return PASS;
  }
}

export const istioStatsFilterFactory: HttpFilterFactory = {
  typeUrls: [ISTIO_STATS_TYPE],
  perRouteTypeUrls: [],
  parse: (config, name) => new IstioStatsFilterConfig(name, parseStatsPluginConfig(config)),
};
