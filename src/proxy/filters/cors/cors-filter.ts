/**
 * envoy.filters.http.cors: per-route CorsPolicy (typed_per_filter_config). Answers preflight
 * requests locally and adds access-control-* headers to responses for allowed origins.
 */
import { checkHeaderValue } from '../../router/header-ops.js';
import { CORS_POLICY_TYPE, CORS_TYPE } from '../../../xds/type-urls.js';
import type { HeaderMap } from '../../core/header-map.js';
import { compileStringMatcher, type StringPredicate } from '../../core/string-matcher.js';
import type { FilterHeadersStatus, HttpFilter, HttpFilterCallbacks as Callbacks, HttpFilterConfig, HttpFilterFactory } from '../../filter-api/http-filter.js';

interface CorsPolicy {
  origins: StringPredicate[];
  methods: string | undefined;
  headers: string | undefined;
  expose: string | undefined;
  maxAge: string | undefined;
  credentials: boolean;
}

function optValue(field: string, v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : checkHeaderValue(field, String(v));
}

function parsePolicy(c: Record<string, any>): CorsPolicy {
  return {
    origins: ((c.allow_origin_string_match ?? []) as Array<Record<string, any>>).map(compileStringMatcher),
    methods: optValue('cors.allow_methods', c.allow_methods),
    headers: optValue('cors.allow_headers', c.allow_headers),
    expose: optValue('cors.expose_headers', c.expose_headers),
    maxAge: optValue('cors.max_age', c.max_age),
    credentials: c.allow_credentials?.value === true,
  };
}

class CorsFilter implements HttpFilter {
  private origin: string | undefined;
  private policy: CorsPolicy | undefined;
  constructor(private readonly name: string) {}

  decodeHeaders(s: Callbacks): FilterHeadersStatus {
    const p = s.perFilterConfig<CorsPolicy>(this.name);
    const origin = s.headers.origin;
    if (!p || typeof origin !== 'string') return 'continue';
    if (!p.origins.some((m) => m(origin))) return 'continue';
    this.policy = p;
    this.origin = origin;
    if (s.method === 'OPTIONS' && s.headers['access-control-request-method'] !== undefined) {
      const h: HeaderMap = { 'content-length': '0' };
      s.encodeHeaders(200, h, false);
      s.res.end();
      return 'stop';
    }
    return 'continue';
  }

  encodeHeaders(s: Callbacks, _status: number, h: HeaderMap): void {
    const p = this.policy;
    if (!p || !this.origin) return;
    h['access-control-allow-origin'] = this.origin;
    if (p.credentials) h['access-control-allow-credentials'] = 'true';
    if (s.method === 'OPTIONS') {
      if (p.methods) h['access-control-allow-methods'] = p.methods;
      if (p.headers) h['access-control-allow-headers'] = p.headers;
      if (p.maxAge) h['access-control-max-age'] = p.maxAge;
    } else if (p.expose) h['access-control-expose-headers'] = p.expose;
  }
}

class CorsConfig implements HttpFilterConfig {
  constructor(readonly name: string) {}
  create(): HttpFilter {
    return new CorsFilter(this.name);
  }
}

export const corsFilterFactory: HttpFilterFactory = {
  typeUrls: [CORS_TYPE],
  perRouteTypeUrls: [CORS_POLICY_TYPE],
  parse: (_config, name) => new CorsConfig(name),
  parsePerRoute: (config) => parsePolicy(config),
};
