/**
 * Istio configuration as Clew holds it after loading and validation. Field names are Istio's
 * (camelCase, as written in YAML). Durations stay strings ("1.5s") here; builders convert them.
 */
import type { IstioKind } from './kinds.js';

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  /** RFC 3339, as given in the YAML; policy precedence (oldest wins) reads it */
  creationTimestamp?: string;
}

/** Where a resource came from, so every message can name file and line. */
export interface SourceRef {
  file: string;
  line: number;
}

/** The kinds Clew implements: derived from the kinds table (kinds.ts), the one place a kind is declared. */
export type { IstioKind };

export interface ConfigResource<S = unknown> {
  apiVersion: string;
  kind: IstioKind;
  metadata: ObjectMeta;
  spec: S;
  source?: SourceRef;
}

// ---------------------------------------------------------------- VirtualService
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface PortSelector {
  number?: number;
}

export interface Destination {
  host: string;
  subset?: string;
  port?: PortSelector;
}

export interface HTTPRouteDestination {
  destination: Destination;
  weight?: number;
  headers?: Headers;
}

export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  /** `{}` (empty StringMatch) means "present". */
  headers?: Record<string, StringMatch>;
  withoutHeaders?: Record<string, StringMatch>;
  queryParams?: Record<string, StringMatch>;
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
  ignoreUriCase?: boolean;
}

export interface HTTPRedirect {
  uri?: string;
  authority?: string;
  port?: number;
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  scheme?: string;
  redirectCode?: number;
}

export interface HTTPRewrite {
  uri?: string;
  authority?: string;
  uriRegexRewrite?: { match: string; rewrite: string };
}

export interface HTTPRetry {
  attempts?: number;
  perTryTimeout?: string;
  retryOn?: string;
  retryRemoteLocalities?: boolean;
}

export interface Percent {
  value?: number;
}

export interface HTTPFaultInjection {
  delay?: {
    fixedDelay?: string;
    percentage?: Percent;
    /** Deprecated integer percentage (0-100), still seen in old YAML such as the seed's. */
    percent?: number;
  };
  abort?: {
    httpStatus?: number;
    grpcStatus?: string;
    http2Error?: string;
    percentage?: Percent;
  };
}

export interface CorsPolicy {
  allowOrigins?: StringMatch[];
  /** Deprecated list of exact origins. */
  allowOrigin?: string[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: string;
  allowCredentials?: boolean;
}

export interface HTTPDirectResponse {
  status: number;
  body?: { string?: string; bytes?: string };
}

export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  rewrite?: HTTPRewrite;
  timeout?: string;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrorPercentage?: Percent;
  /** Deprecated integer mirror percentage. */
  mirrorPercent?: number;
  corsPolicy?: CorsPolicy;
  headers?: Headers;
}

export interface L4MatchAttributes {
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
}

export interface TCPRoute {
  match?: L4MatchAttributes[];
  route?: RouteDestination[];
}

export interface TLSMatchAttributes {
  sniHosts: string[];
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
}

export interface TLSRoute {
  match: TLSMatchAttributes[];
  route?: RouteDestination[];
}

export interface VirtualServiceSpec {
  hosts?: string[];
  gateways?: string[];
  http?: HTTPRoute[];
  tcp?: TCPRoute[];
  tls?: TLSRoute[];
  exportTo?: string[];
}

// ---------------------------------------------------------------- DestinationRule
export interface LoadBalancerSettings {
  simple?: 'UNSPECIFIED' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST';
  consistentHash?: {
    httpHeaderName?: string;
    httpCookie?: { name: string; path?: string; ttl?: string };
    useSourceIp?: boolean;
    httpQueryParameterName?: string;
    ringHash?: { minimumRingSize?: number };
    maglev?: { tableSize?: number };
    /** Deprecated alias of ringHash.minimumRingSize. */
    minimumRingSize?: number;
  };
  localityLbSetting?: {
    distribute?: { from: string; to: Record<string, number> }[];
    failover?: { from: string; to: string }[];
    failoverPriority?: string[];
    enabled?: boolean;
  };
  warmupDurationSecs?: string;
}

export interface ConnectionPoolSettings {
  tcp?: {
    maxConnections?: number;
    connectTimeout?: string;
    tcpKeepalive?: { probes?: number; time?: string; interval?: string };
    maxConnectionDuration?: string;
    idleTimeout?: string;
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
    h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
    useClientProtocol?: boolean;
    maxConcurrentStreams?: number;
  };
}

export interface OutlierDetection {
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
  consecutiveGatewayErrors?: number;
  consecutive5xxErrors?: number;
  /** Deprecated: use consecutive5xxErrors. */
  consecutiveErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export interface ClientTLSSettings {
  mode?: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
}

export interface PortTrafficPolicy {
  port?: PortSelector;
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  portLevelSettings?: PortTrafficPolicy[];
}

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  workloadSelector?: { matchLabels?: Record<string, string> };
}

// ---------------------------------------------------------------- Gateway
export interface GatewayPort {
  number: number;
  name: string;
  protocol: string;
  targetPort?: number;
}

export interface ServerTLSSettings {
  httpsRedirect?: boolean;
  mode?: 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  minProtocolVersion?: string;
  maxProtocolVersion?: string;
  cipherSuites?: string[];
}

export interface GatewayServer {
  port: GatewayPort;
  bind?: string;
  hosts: string[];
  tls?: ServerTLSSettings;
  name?: string;
}

export interface GatewaySpec {
  selector?: Record<string, string>;
  servers?: GatewayServer[];
}

// ---------------------------------------------------------------- ServiceEntry / WorkloadEntry
export interface ServicePort {
  number: number;
  protocol?: string;
  name: string;
  targetPort?: number;
}

export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: ServicePort[];
  location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
  subjectAltNames?: string[];
}

// ---------------------------------------------------------------- Sidecar
export interface IstioEgressListener {
  port?: ServicePort;
  bind?: string;
  captureMode?: 'DEFAULT' | 'IPTABLES' | 'NONE';
  hosts: string[];
}

export interface IstioIngressListener {
  port: ServicePort;
  bind?: string;
  captureMode?: 'DEFAULT' | 'IPTABLES' | 'NONE';
  defaultEndpoint?: string;
}

export interface SidecarSpec {
  workloadSelector?: { labels?: Record<string, string> };
  ingress?: IstioIngressListener[];
  egress?: IstioEgressListener[];
  outboundTrafficPolicy?: { mode?: 'REGISTRY_ONLY' | 'ALLOW_ANY' };
}

// ---------------------------------------------------------------- Kubernetes Service
export interface KubeServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface KubeServiceSpec {
  selector?: Record<string, string>;
  ports?: KubeServicePort[];
  clusterIP?: string;
  type?: string;
}

// ---------------------------------------------------------------- Telemetry (telemetry.istio.io)
export type WorkloadMode = 'CLIENT_AND_SERVER' | 'CLIENT' | 'SERVER';

export type IstioMetricName =
  | 'ALL_METRICS' | 'REQUEST_COUNT' | 'REQUEST_DURATION' | 'REQUEST_SIZE' | 'RESPONSE_SIZE'
  | 'TCP_OPENED_CONNECTIONS' | 'TCP_CLOSED_CONNECTIONS' | 'TCP_SENT_BYTES' | 'TCP_RECEIVED_BYTES'
  | 'GRPC_REQUEST_MESSAGES' | 'GRPC_RESPONSE_MESSAGES';

export interface ProviderRef {
  name: string;
}

export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface TracingCustomTag {
  literal?: { value: string };
  environment?: { name: string; defaultValue?: string };
  header?: { name: string; defaultValue?: string };
  formatter?: { value: string };
}

export interface TelemetryTracing {
  match?: { mode?: WorkloadMode };
  providers?: ProviderRef[];
  randomSamplingPercentage?: number;
  disableSpanReporting?: boolean;
  customTags?: Record<string, TracingCustomTag>;
  useRequestIdForTraceSampling?: boolean;
}

export interface MetricsOverride {
  match?: { metric?: IstioMetricName; customMetric?: string; mode?: WorkloadMode };
  disabled?: boolean;
  tagOverrides?: Record<string, { operation?: 'UPSERT' | 'REMOVE'; value?: string }>;
}

export interface TelemetryMetrics {
  providers?: ProviderRef[];
  overrides?: MetricsOverride[];
  reportingInterval?: string;
}

export interface TelemetryAccessLogging {
  match?: { mode?: WorkloadMode };
  providers?: ProviderRef[];
  disabled?: boolean;
  filter?: { expression?: string };
}

export interface TelemetrySpec {
  selector?: { matchLabels?: Record<string, string> };
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  tracing?: TelemetryTracing[];
  metrics?: TelemetryMetrics[];
  accessLogging?: TelemetryAccessLogging[];
}

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface PeerAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  mtls?: { mode?: MtlsMode };
  /** keyed by the workload's container port */
  portLevelMtls?: Record<string, { mode?: MtlsMode }>;
}

/** A Kubernetes Secret (only `kubernetes.io/tls` and generic ones holding TLS material are used). */
export interface SecretSpec {
  type?: string;
  /** base64 values */
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export type VirtualService = ConfigResource<VirtualServiceSpec>;
export type DestinationRule = ConfigResource<DestinationRuleSpec>;
export type Gateway = ConfigResource<GatewaySpec>;
export type ServiceEntry = ConfigResource<ServiceEntrySpec>;
export type WorkloadEntry = ConfigResource<WorkloadEntrySpec>;
export type Sidecar = ConfigResource<SidecarSpec>;
export type KubeService = ConfigResource<KubeServiceSpec>;
export type Telemetry = ConfigResource<TelemetrySpec>;
export type PeerAuthentication = ConfigResource<PeerAuthenticationSpec>;
