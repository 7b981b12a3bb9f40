/**
 * Istio's `istio.alpn` HTTP filter (istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig, as
 * a TypedStruct): the ALPN a new upstream TLS connection offers, by the upstream protocol
 * (HTTP10, HTTP11, HTTP2), so that a server sidecar's `istio-http/*` / `istio-h2` filter chains
 * recognise mTLS HTTP. The router passes the list with the request; the pool uses it when it opens
 * a connection (a host's pool carries one protocol, so its connections share the list).
 */
import { fail } from '../../core/errors.js';
import type { AlpnOverride, FilterHeadersStatus, HttpFilter, HttpFilterCallbacks, HttpFilterConfig, HttpFilterFactory } from '../../filter-api/http-filter.js';

export type { AlpnOverride } from '../../filter-api/http-filter.js';

export const ALPN_FILTER_TYPE = 'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig';

class AlpnFilter implements HttpFilter {
  constructor(private readonly cfg: AlpnFilterConfig) {}
  decodeHeaders(s: HttpFilterCallbacks): FilterHeadersStatus {
    s.alpnOverride = this.cfg.override;
    return 'continue';
  }
}

class AlpnFilterConfig implements HttpFilterConfig {
  private readonly filter: AlpnFilter;
  constructor(readonly name: string, readonly override: AlpnOverride) {
    // stateless: one filter object for every stream
    this.filter = new AlpnFilter(this);
  }
  create(): HttpFilter {
    return this.filter;
  }
}

export const alpnFilterFactory: HttpFilterFactory = {
  typeUrls: [ALPN_FILTER_TYPE],
  perRouteTypeUrls: [],
  parse(config, name) {
    const o: AlpnOverride = { HTTP10: undefined, HTTP11: undefined, HTTP2: undefined };
    for (const [i, e] of ((config.alpn_override ?? config.alpnOverride ?? []) as Array<Record<string, any>>).entries()) {
      const proto = String(e.upstream_protocol ?? e.upstreamProtocol ?? 'HTTP10');
      if (proto !== 'HTTP10' && proto !== 'HTTP11' && proto !== 'HTTP2') fail(`istio.alpn: alpn_override[${i}].upstream_protocol: unknown ${proto}`);
      const list = (e.alpn_override ?? e.alpnOverride ?? []) as unknown[];
      if (!Array.isArray(list) || list.some((p) => typeof p !== 'string' || p.length === 0 || p.length > 255)) fail(`istio.alpn: alpn_override[${i}].alpn_override: a list of protocol names`);
      o[proto] = list as string[];
    }
    return new AlpnFilterConfig(name, o);
  },
};
