/** Envoy v3 type URLs used on the wire. */
export const TYPE_PREFIX = 'type.googleapis.com/';
export const LISTENER_TYPE = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ROUTE_TYPE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const CLUSTER_TYPE = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const ENDPOINT_TYPE = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const SECRET_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
/**
 * Istio's NDS: the name table (service hostnames and their virtual IPs) the sidecar's DNS proxy
 * answers from; one resource, no name. Not an Envoy type (istio.networking.nds.v1).
 */
export const NAME_TABLE_TYPE = 'type.googleapis.com/istio.networking.nds.v1.NameTable';

/** Push/ordering order Envoy expects: clusters before endpoints, listeners before routes. */
export const XDS_TYPES_IN_ORDER = [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE] as const;

export const SHORT_TYPE_NAME: Record<string, 'CDS' | 'EDS' | 'LDS' | 'RDS' | 'SDS'> = {
  [CLUSTER_TYPE]: 'CDS',
  [ENDPOINT_TYPE]: 'EDS',
  [LISTENER_TYPE]: 'LDS',
  [ROUTE_TYPE]: 'RDS',
  [SECRET_TYPE]: 'SDS',
};

/** Extension type URLs (typed_config '@type' values). */
export const HCM_TYPE =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const TCP_PROXY_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const CONNECTION_LIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const FAULT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
export const CORS_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
export const CORS_POLICY_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
export const LOCAL_RATELIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
export const RATELIMIT_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit';
export const EXT_AUTHZ_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const NETWORK_RBAC_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
export const HTTP_PROTOCOL_OPTIONS_TYPE =
  'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const UPSTREAM_TLS_CONTEXT_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const DOWNSTREAM_TLS_CONTEXT_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
export const RAW_BUFFER_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';
export const TLS_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
export const HTTP_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector';
export const ORIGINAL_DST_LISTENER_FILTER_TYPE =
  'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst';
/** udpa TypedStruct (and its xds.type.v3 twin): a filter config as a Struct plus the real type URL */
export const TYPED_STRUCT_TYPE = 'type.googleapis.com/udpa.type.v1.TypedStruct';
export const XDS_TYPED_STRUCT_TYPE = 'type.googleapis.com/xds.type.v3.TypedStruct';
/** Istio's istio.alpn filter config, carried inside a TypedStruct */
export const ISTIO_ALPN_TYPE = 'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig';
/** Istio's stats filter (istio.stats) config, carried inside a TypedStruct */
export const ISTIO_STATS_TYPE = 'type.googleapis.com/stats.PluginConfig';
/** Envoy's CEL access-log filter config (Istio's Telemetry accessLogging filter.expression) */
export const CEL_EXPRESSION_FILTER_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter';
export const FILE_ACCESS_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
export const ZIPKIN_CONFIG_TYPE = 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig';
export const OPENTELEMETRY_CONFIG_TYPE = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';
/**
 * The HTTP filter types Clew's proxies implement (typed_config '@type', or a TypedStruct's
 * type_url): what an EnvoyFilter may insert. test/xds checks it against the proxy's registry.
 */
export const PROXY_HTTP_FILTER_TYPES: readonly string[] = [
  'type.googleapis.com/stats.PluginConfig',
  'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
  'type.googleapis.com/io.istio.network.authn.Config',
  RBAC_TYPE,
  EXT_AUTHZ_TYPE,
  LOCAL_RATELIMIT_TYPE,
  RATELIMIT_TYPE,
  FAULT_TYPE,
  CORS_TYPE,
  'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig',
  ROUTER_TYPE,
];
