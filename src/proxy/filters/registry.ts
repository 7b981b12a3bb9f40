/**
 * The explicit list of HTTP filters the proxy implements, by typed_config type URL. A
 * TypedStruct typed_config (udpa / xds) is looked up by its inner `type_url`, and its factory
 * parses the Struct `value` as plain JSON (Istio's istio.stats arrives that way).
 */
import { ISTIO_STATS_TYPE, TYPED_STRUCT_TYPE, XDS_TYPED_STRUCT_TYPE } from '../../xds/type-urls.js';
import { structToJson } from '../../xds/struct.js';
import { alpnFilterFactory } from './alpn/alpn-filter.js';
import { corsFilterFactory } from './cors/cors-filter.js';
import { faultFilterFactory } from './fault/fault-filter.js';
import type { HttpFilterFactory } from '../filter-api/http-filter.js';
import { fail } from '../core/errors.js';
import { rbacFilterFactory } from './rbac/rbac-filter.js';
import { extAuthzFilterFactory } from './ext-authz/ext-authz-filter.js';
import { localRateLimitFilterFactory } from './local-ratelimit/local-ratelimit-filter.js';
import { rateLimitFilterFactory } from './ratelimit/ratelimit-filter.js';
import { jwtAuthnFilterFactory } from './jwt-authn/jwt-authn-filter.js';
import { istioAuthnFilterFactory } from './jwt-authn/istio-authn-filter.js';
import { routerFilterFactory } from './router/router-filter.js';
import { istioStatsFilterFactory } from './stats/stats-filter.js';
import { parseStatsPluginConfig } from './stats/stats-config.js';
import type { MetricsConfig } from '../telemetry/telemetry-config.js';

export const HTTP_FILTER_FACTORIES: readonly HttpFilterFactory[] = [
  istioStatsFilterFactory,
  jwtAuthnFilterFactory,
  istioAuthnFilterFactory,
  rbacFilterFactory,
  extAuthzFilterFactory,
  localRateLimitFilterFactory,
  rateLimitFilterFactory,
  faultFilterFactory,
  corsFilterFactory,
  alpnFilterFactory,
  routerFilterFactory,
];

const byType = new Map<string, HttpFilterFactory>();
const byPerRouteType = new Map<string, HttpFilterFactory>();
for (const f of HTTP_FILTER_FACTORIES) {
  for (const t of f.typeUrls) byType.set(t, f);
  for (const t of f.perRouteTypeUrls) byPerRouteType.set(t, f);
}

type Typed = Record<string, any> | undefined;

function isTypedStruct(typed: Typed): boolean {
  const t = typed?.['@type'];
  return t === TYPED_STRUCT_TYPE || t === XDS_TYPED_STRUCT_TYPE;
}

/** The type a filter's typed_config stands for: its '@type', or a TypedStruct's type_url. */
export function filterTypeUrl(typed: Typed): string {
  return String((isTypedStruct(typed) ? typed?.type_url : typed?.['@type']) ?? '');
}

/** What a factory parses: the typed_config, or a TypedStruct's value as plain JSON. */
export function filterConfigOf(typed: Typed): Record<string, any> {
  if (!typed) return {};
  if (!isTypedStruct(typed)) return typed;
  const v = typed.value as Record<string, any> | undefined;
  const json = v && typeof v === 'object' && v.fields && typeof v.fields === 'object' ? structToJson(v) : (v ?? {});
  return { ...json, '@type': filterTypeUrl(typed) };
}

export function findFilterFactory(typeUrl: string): HttpFilterFactory | undefined {
  return byType.get(typeUrl);
}

/**
 * Parses a typed_per_filter_config value once per RDS update. A type no filter of this proxy
 * accepts is refused (NACK: an override of security or routing the proxy would not apply),
 * unless it was wrapped in a FilterConfig with is_optional (then undefined: ignored).
 */
export function parsePerRouteFilterConfig(filterName: string, config: Record<string, any>, optional = false): unknown {
  const typeUrl = String(config['@type'] ?? '');
  const f = byPerRouteType.get(typeUrl);
  if (f === undefined || f.parsePerRoute === undefined) {
    if (optional) return undefined;
    fail(`typed_per_filter_config ${filterName}: type ${typeUrl || '(none)'} is not implemented by this proxy`);
  }
  return f.parsePerRoute(config);
}

/**
 * The metrics config of an istio.stats NETWORK filter among a filter chain's filters (before
 * tcp_proxy), or undefined when the chain has none (no Istio TCP metrics: Envoy semantics).
 */
export function networkStatsConfig(filters: ReadonlyArray<Record<string, any>>): MetricsConfig | undefined {
  for (const f of filters) {
    const typed = f.typed_config as Typed;
    if (filterTypeUrl(typed) === ISTIO_STATS_TYPE) return parseStatsPluginConfig(filterConfigOf(typed));
  }
  return undefined;
}
