/**
 * MeshConfig schema. Fields Clew reads are typed; the rest of Istio's MeshConfig and ProxyConfig
 * fields are accepted as they are (a real istio ConfigMap loads), anything else is an unknown field.
 */
import { any, bool, dur, enm, int, list, map, num, obj, str, strList, type Schema } from './schema-dsl.js';

const anyFields = (names: string): Record<string, Schema> =>
  Object.fromEntries(names.split(/\s+/).filter(Boolean).map((n) => [n, any()]));

const port = (): Schema => int(1, 65535);
const uint32 = (): Schema => int(0, 4294967295);

const meshTracing = obj(
  {
    zipkin: obj({ address: str() }),
    sampling: num(0, 100),
    maxPathTagLength: uint32(),
    customTags: any(),
    ...anyFields('lightstep datadog stackdriver openCensusAgent tlsSettings enableIstioTags'),
  },
  { exclusive: [['zipkin', 'lightstep', 'datadog', 'stackdriver', 'openCensusAgent']] },
);

const proxyConfig = obj({
  tracing: meshTracing,
  ...anyFields(`configPath binaryPath serviceCluster tracingServiceName drainDuration discoveryAddress
    discoveryRefreshDelay zipkinAddress statsdUdpAddress envoyMetricsServiceAddress proxyAdminPort availabilityZone
    controlPlaneAuthPolicy customConfigFile statNameLength concurrency proxyBootstrapTemplatePath interceptionMode
    sds envoyAccessLogService envoyMetricsService proxyMetadata runtimeValues statusPort extraStatTags
    gatewayTopology terminationDrainDuration meshId readinessProbe proxyStatsMatcher holdApplicationUntilProxyStarts
    caCertificatesPem image privateKeyProvider proxyHeaders fileFlushInterval fileFlushMinSizeKb statsCompression
    connectionSettings`),
});

const httpHeaders = list(any());

/** MeshConfig.ProxyPathNormalization.NormalizationType (DEFAULT behaves as BASE) */
export const PATH_NORMALIZATIONS = ['DEFAULT', 'NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const;

/** The provider kinds of ExtensionProvider; exactly one per provider. */
export const PROVIDER_KINDS = [
  'envoyExtAuthzHttp', 'envoyExtAuthzGrpc', 'zipkin', 'lightstep', 'datadog', 'stackdriver', 'opencensus',
  'skywalking', 'opentelemetry', 'prometheus', 'envoyFileAccessLog', 'envoyHttpAls', 'envoyTcpAls', 'envoyOtelAls', 'sds',
] as const;

/** includeRequestBodyInCheck of the ext_authz providers */
const extAuthzBody = obj({ maxRequestBytes: uint32(), allowPartialMessage: bool(), packAsBytes: bool() });
const extAuthzCommon = {
  // Istio's task writes the port quoted (`port: "9000"`, protojson accepts it): checked in semantic-mesh-config.ts
  service: str(), port: any(), timeout: dur(), failOpen: bool(), clearRouteCache: bool(), statusOnError: str(),
  includeRequestBodyInCheck: extAuthzBody,
};

const extensionProvider = obj(
  {
    name: str(),
    zipkin: obj(
      {
        service: str(), port: port(), maxTagLength: uint32(), enable64bitTraceId: bool(), path: str(),
        traceContextOption: enm('USE_B3', 'USE_B3_WITH_W3C_PROPAGATION'), timeout: dur(), headers: httpHeaders,
      },
      { required: ['service', 'port'] },
    ),
    opentelemetry: obj(
      {
        service: str(), port: port(), maxTagLength: uint32(),
        http: obj({ path: str(), timeout: dur(), headers: httpHeaders }),
        grpc: obj({ timeout: dur(), initialMetadata: httpHeaders }),
        ...anyFields('resourceDetectors dynatraceSampler serviceAttributeEnrichment'),
      },
      { required: ['service', 'port'], exclusive: [['http', 'grpc']] },
    ),
    envoyFileAccessLog: obj({
      path: str(),
      logFormat: obj({ text: str(), labels: map(any()) }, { exclusive: [['text', 'labels']] }),
      omitEmptyValues: bool(),
    }),
    prometheus: obj({}),
    envoyExtAuthzHttp: obj(
      {
        ...extAuthzCommon, pathPrefix: str(), includeHeadersInCheck: strList(), includeRequestHeadersInCheck: strList(),
        includeAdditionalHeadersInCheck: map(str()), headersToUpstreamOnAllow: strList(), headersToDownstreamOnDeny: strList(),
        headersToDownstreamOnAllow: strList(),
      },
      { required: ['service', 'port'] },
    ),
    envoyExtAuthzGrpc: obj(extAuthzCommon, { required: ['service', 'port'] }),
    ...anyFields('lightstep datadog stackdriver opencensus skywalking envoyHttpAls envoyTcpAls envoyOtelAls sds'),
  },
  { required: ['name'], exclusive: [PROVIDER_KINDS] },
);

export const meshConfigSchema: Schema = obj({
  enableTracing: bool(),
  accessLogFile: str(),
  accessLogFormat: str(),
  accessLogEncoding: enm('TEXT', 'JSON'),
  defaultConfig: proxyConfig,
  extensionProviders: list(extensionProvider),
  defaultProviders: obj({ tracing: strList(), metrics: strList(), accessLogging: strList() }),
  trustDomain: str(),
  rootNamespace: str(),
  enableAutoMtls: bool(),
  meshMTLS: obj({ minProtocolVersion: enm('TLS_AUTO', 'TLSV1_2', 'TLSV1_3'), cipherSuites: strList(), ecdhCurves: strList() }),
  pathNormalization: obj({ normalization: enm(...PATH_NORMALIZATIONS) }),
  outboundTrafficPolicy: obj({ mode: enm('REGISTRY_ONLY', 'ALLOW_ANY') }),
  // where resources without exportTo are visible (the builders read these)
  defaultServiceExportTo: strList(),
  defaultVirtualServiceExportTo: strList(),
  defaultDestinationRuleExportTo: strList(),
  ...anyFields(`proxyListenPort proxyInboundListenPort proxyHttpPort connectTimeout hboneIdleTimeout
    protocolDetectionTimeout tcpKeepalive ingressClass ingressService ingressControllerMode ingressSelector
    enableEnvoyAccessLogService disableEnvoyListenerLog inboundTrafficPolicy configSources
    trustDomainAliases caCertificates localityLbSetting dnsRefreshRate h2UpgradePolicy inboundClusterStatName
    outboundClusterStatName certificates serviceSettings serviceScopeConfigs enablePrometheusMerge
    verifyCertificateAtClient ca discoverySelectors defaultHttpRetryPolicy tlsDefaults
    defaultTrafficPolicy serviceEntryVisibility`),
});
