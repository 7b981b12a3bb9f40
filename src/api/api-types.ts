/**
 * Response shapes of the control plane's HTTP API, shared by the server (src/control-plane/api),
 * the CLI, the dashboard (bundled for the browser) and scripts. Bottom module: type-only imports.
 */
import type { ConfigResource } from '../config/types.js';
import type { ValidationMessage } from '../config/messages.js';
import type { AnalysisMessage } from '../analyze/analyze-message.js';

/** Every error answer: `{error, code?}` (plus what the endpoint adds). */
export interface ApiError {
  error: string;
  code?: string;
}

// ---------------------------------------------------------------- xDS state

export type SyncState = 'SYNCED' | 'NOT SENT' | 'STALE' | 'NACK';

/** `/debug/proxy_status`: one row per connected proxy (istioctl proxy-status). */
export interface ProxyStatusRow {
  /** `name.namespace` from the node id */
  name: string;
  nodeId: string;
  /** `sidecar` or `router` */
  type: string;
  /** its admin port on the address in its node id, when not 15000 (CLEW_ADMIN_PORT) */
  adminPort?: number;
  connectedAt: string;
  CDS: SyncState;
  LDS: SyncState;
  EDS: SyncState;
  RDS: SyncState;
  nacks: { type: string; message: string }[];
}

/** `/debug/syncz`: the ADS server's per-stream, per-type progress. */
export interface SynczEntry {
  proxy: string;
  peer: string;
  delta: boolean;
  connected_at: string;
  types: SynczType[];
}

export interface SynczType {
  /** CDS, LDS, ... (the type URL when it has no short name) */
  type: string;
  typeUrl: string;
  subscribed: string[] | '*';
  sentVersion?: string;
  sentNonce?: string;
  sentAt?: number;
  ackedVersion?: string;
  ackedNonce?: string;
  ackedAt?: number;
  nack?: { version: string; nonce: string; message: string; at: number };
  resourceCount: number;
}

/** `/debug/config_dump?proxyID=`: Envoy's /config_dump shape for what the control plane serves the proxy. */
export interface ConfigDumpResponse {
  node: unknown;
  configs: Array<{ '@type': string; [k: string]: unknown }>;
}

// ---------------------------------------------------------------- registry

export interface RegistryPort {
  name: string;
  port: number;
  targetPort: number | string;
  protocol: string;
  sniffed?: boolean;
}

export interface RegistryEndpoint {
  address: string;
  port: number;
  labels: Record<string, string>;
  workloadName?: string;
  namespace?: string;
  serviceAccount?: string;
  locality?: string;
  weight?: number;
  healthy: boolean;
  servicePort?: number;
}

/** `/debug/registryz`: a service and its endpoints per service port. */
export interface RegistryzEntry {
  hostname: string;
  name: string;
  namespace: string;
  ports: RegistryPort[];
  selector?: Record<string, string>;
  resolution: string;
  location: string;
  addresses: string[];
  origin: string;
  /** id of the registry that defines the host (the aggregate's first match: `Kubernetes`, `config`, ...) */
  cluster?: string;
  /** service port (as a string) -> endpoints */
  endpoints: Record<string, RegistryEndpoint[]>;
}

// ---------------------------------------------------------------- config

/** A validation message with its one-line text (`file:line: Kind ns/name: field: message`). */
export type ApiMessage = ValidationMessage & { text: string };

/** `/debug/configz`: the store's resources and the hand-edited files it refused. */
export interface ConfigzResponse {
  revision: number;
  resources: Array<ConfigResource & { key: string }>;
  rejected: Array<{ file: string; messages: string[] }>;
}

/** `GET /apis/v1/resources?kind=&namespace=&name=` */
export interface ResourcesResponse {
  items: ConfigResource[];
}

export interface ApplyResultRow {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  action: 'created' | 'configured' | 'unchanged' | 'deleted' | 'not found';
}

/** `POST /apis/v1/apply`, `POST /apis/v1/delete`, `DELETE /apis/v1/resources/...` (200) */
export interface ApplyResponse {
  results: ApplyResultRow[];
  warnings?: ApiMessage[];
  ignored?: Array<{ file: string; line: number; apiVersion: string; kind: string; name: string; text: string }>;
}

/** An apply or delete refused by validation (422): nothing changed. */
export interface ApplyRejected extends ApiError {
  messages: ApiMessage[];
}

// ---------------------------------------------------------------- traffic graph (dashboard)

/** Kiali's health states: green, orange, red, and grey for no traffic. */
export type Health = 'healthy' | 'degraded' | 'failure' | 'idle';

export type GraphProtocol = 'http' | 'grpc' | 'tcp';

/** A node of the traffic graph: a workload, a service, an app box grouping versions, or `unknown`. */
export interface GraphNode {
  /** `wl:<ns>/<workload>`, `svc:<hostname>`, `app:<ns>/<app>`, `unknown` */
  id: string;
  kind: 'workload' | 'service' | 'app' | 'unknown';
  name: string;
  namespace: string;
  app?: string;
  version?: string;
  /** the app box a workload belongs to */
  parent?: string;
  /** workloads: whether a sidecar reports for it (a connected proxy) */
  sidecar?: boolean;
  health: Health;
  /** requests/s into the node (HTTP and gRPC) */
  inRate: number;
  /** requests/s out of the node */
  outRate: number;
  /** share of the node's incoming requests that failed (0..1) */
  errorRate: number;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  protocol: GraphProtocol;
  /** requests/s (HTTP, gRPC); connections/s for TCP */
  rate: number;
  /** share of requests that failed: 5xx, gRPC status other than OK, or no response (0..1) */
  errorRate: number;
  /** requests/s per response code */
  codes: Record<string, number>;
  /** response flags seen (FI, UF, URX...) with their requests/s */
  flags: Record<string, number>;
  /** latency quantiles in ms from istio_request_duration_milliseconds (undefined: no HTTP samples) */
  p50?: number;
  p99?: number;
  /** bytes/s both ways (TCP) */
  tcpBytesRate?: number;
  /** share of the traffic on mutual TLS (connection_security_policy="mutual_tls"), 0..1 */
  mtls: number;
  health: Health;
}

/** `GET /apis/v1/graph?window=1m|5m|1h` */
export interface GraphResponse {
  window: string;
  /** ms since the epoch at which the rates end */
  timestamp: number;
  /** seconds of data the rates cover (less than the window just after a start) */
  coveredSeconds: number;
  source: 'control-plane' | 'prometheus';
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** the control plane's scraper: targets, failures, and series dropped by its bounds */
  scrape?: ScrapeStatus;
}

export interface ScrapeStatus {
  intervalMs: number;
  targets: number;
  failedTargets: Array<{ target: string; error: string }>;
  series: number;
  droppedSeries: number;
}

// ---------------------------------------------------------------- traces (Zipkin v2 receiver)

/** A Zipkin v2 endpoint (`localEndpoint`, `remoteEndpoint`). */
export interface TraceEndpoint {
  serviceName?: string;
  ipv4?: string;
  ipv6?: string;
  port?: number;
}

export type TraceSpanKind = 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER';

/** One span as received on `POST /api/v2/spans` (Zipkin v2 JSON, ids lower-case hex, times in µs). */
export interface TraceSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name?: string;
  kind?: TraceSpanKind;
  /** epoch microseconds */
  timestamp?: number;
  /** microseconds */
  duration?: number;
  localEndpoint?: TraceEndpoint;
  remoteEndpoint?: TraceEndpoint;
  tags?: Record<string, string>;
  annotations?: Array<{ timestamp: number; value: string }>;
  shared?: boolean;
  debug?: boolean;
}

/** One trace in a list: its root (or earliest) span and its extent. */
export interface TraceSummary {
  traceId: string;
  /** service and operation of the root span (the earliest span when the root is missing) */
  rootService: string;
  rootName: string;
  /** epoch microseconds of the earliest span */
  startUs: number;
  /** microseconds from the earliest start to the latest end */
  durationUs: number;
  spanCount: number;
  /** a span has an `error` tag or an HTTP status of 500 or more */
  error: boolean;
  /** the services that reported spans of it (localEndpoint.serviceName), sorted */
  services: string[];
}

/** The receiver's bounds and what they cost (counters since the control plane started). */
export interface TraceReceiverStats {
  spans: number;
  traces: number;
  maxSpans: number;
  maxTraces: number;
  maxSpansPerTrace: number;
  maxBodyBytes: number;
  /** spans stored */
  acceptedSpans: number;
  /** spans dropped because their trace already had maxSpansPerTrace */
  droppedSpans: number;
  /** oldest traces removed to stay within maxSpans / maxTraces, and their spans */
  evictedTraces: number;
  evictedSpans: number;
  /** tag values, names or lists cut to the receiver's per-span limits */
  truncatedFields: number;
  /** POSTs refused: malformed JSON or spans, too large, wrong media type or encoding */
  rejectedRequests: number;
}

/** `GET /apis/v1/traces/services` */
export interface TraceServicesResponse {
  items: Array<{ name: string; traces: number; spans: number }>;
  receiver: TraceReceiverStats;
}

/** `GET /apis/v1/traces?service=&limit=`: recent traces with a span of the service, newest first */
export interface TraceListResponse {
  service: string;
  items: TraceSummary[];
}

/** `GET /apis/v1/traces/<traceId>`: the trace's spans ordered by start */
export interface TraceResponse {
  summary: TraceSummary;
  spans: TraceSpan[];
}

// ---------------------------------------------------------------- lists (dashboard)

export interface ServiceListItem {
  hostname: string;
  name: string;
  namespace: string;
  ports: RegistryPort[];
  origin: string;
  location: string;
  endpoints: number;
  healthyEndpoints: number;
  /** requests/s into the service over the last minute */
  rate: number;
  errorRate: number;
  health: Health;
}

export interface ServiceListResponse {
  items: ServiceListItem[];
}

export interface WorkloadListItem {
  name: string;
  namespace: string;
  app?: string;
  version?: string;
  address: string;
  labels: Record<string, string>;
  serviceAccount: string;
  origin: string;
  /** the node id of its proxy when one is connected */
  proxyId?: string;
  /** `clew proxy-status` row of its proxy (undefined: no proxy connected) */
  sync?: ProxyStatusRow;
  rate: number;
  errorRate: number;
  health: Health;
}

export interface WorkloadListResponse {
  items: WorkloadListItem[];
}

export interface ConfigListItem {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  file?: string;
  /** `valid`, `warning` (messages of that level), `error` (a refused file) */
  state: 'valid' | 'warning' | 'error';
  messages: string[];
  yaml: string;
}

export interface ConfigListResponse {
  revision: number;
  items: ConfigListItem[];
  /** hand-edited files the control plane refused (the last good version stays in force) */
  rejected: Array<{ file: string; messages: string[] }>;
}

// ---------------------------------------------------------------- analysis (clew analyze, dashboard)

/** `GET /apis/v1/analyze?namespace=`: istioctl analyze's messages for the running config. */
export interface AnalyzeResponse {
  revision: number;
  /** the namespace reported (undefined: all) */
  namespace?: string;
  messages: AnalysisMessage[];
}
