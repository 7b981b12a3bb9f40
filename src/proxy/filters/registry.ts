/** The explicit list of HTTP filters the proxy implements, by typed_config type URL. */
import { corsFilterFactory } from './cors/cors-filter.js';
import { faultFilterFactory } from './fault/fault-filter.js';
import type { HttpFilterFactory } from './filter.js';
import { routerFilterFactory } from './router/router-filter.js';

export const HTTP_FILTER_FACTORIES: readonly HttpFilterFactory[] = [faultFilterFactory, corsFilterFactory, routerFilterFactory];

const byType = new Map<string, HttpFilterFactory>();
const byPerRouteType = new Map<string, HttpFilterFactory>();
for (const f of HTTP_FILTER_FACTORIES) {
  for (const t of f.typeUrls) byType.set(t, f);
  for (const t of f.perRouteTypeUrls) byPerRouteType.set(t, f);
}

export function findFilterFactory(typeUrl: string): HttpFilterFactory | undefined {
  return byType.get(typeUrl);
}

/** Parses a typed_per_filter_config value; unknown types are ignored (undefined). */
export function parsePerRouteFilterConfig(_filterName: string, config: Record<string, any>): unknown {
  const f = byPerRouteType.get(String(config['@type'] ?? ''));
  return f?.parsePerRoute?.(config);
}
