/**
 * The paths of the control plane's HTTP API (debug port, 15014), one list for the server, the
 * CLI, the dashboard and scripts. Bottom module: no imports.
 */
export const API_PATHS = {
  ready: '/ready',
  metrics: '/metrics',
  syncz: '/debug/syncz',
  proxyStatus: '/debug/proxy_status',
  /** `?proxyID=<node id | name.namespace | name>` */
  configDump: '/debug/config_dump',
  registryz: '/debug/registryz',
  configz: '/debug/configz',
  mesh: '/debug/mesh',
  /** the mesh's root certificate (PEM), what clients verify the TLS port and workload certificates with */
  rootCert: '/debug/root-cert',
  /** GET `?kind=&namespace=&name=` */
  resources: '/apis/v1/resources',
  apply: '/apis/v1/apply',
  delete: '/apis/v1/delete',
  /** POST (admin token) `{namespace, serviceAccount, podName, addresses?, labels?, expirationSeconds?}`: a workload token */
  workloadTokens: '/apis/v1/workload-tokens',
  /** POST Zipkin v2 JSON spans (gzip allowed): the control plane's span receiver; no admin token (span reporters have none) */
  zipkinSpans: '/api/v2/spans',
  /** GET: the services that reported spans, with the receiver's bounds and counters (TraceServicesResponse) */
  traceServices: '/apis/v1/traces/services',
  /** GET `?service=&limit=`: recent traces of a service (TraceListResponse); `/<traceId>`: one trace (TraceResponse) */
  traces: '/apis/v1/traces',
  /** Zipkin's own v2 reads over the same store, for Zipkin API clients: GET service names (string[]) */
  zipkinServices: '/api/v2/services',
  /** GET `?serviceName=&limit=`: traces as arrays of spans, newest first */
  zipkinTraces: '/api/v2/traces',
  /** GET `/api/v2/trace/<traceId>`: one trace's spans */
  zipkinTrace: '/api/v2/trace',
  /** GET `?window=1m|5m|1h`: the traffic graph from the sidecars' Istio metrics (GraphResponse) */
  graph: '/apis/v1/graph',
  /** GET: services with health and endpoints (ServiceListResponse) */
  services: '/apis/v1/services',
  /** GET: workloads with health and their proxy's sync status (WorkloadListResponse) */
  workloads: '/apis/v1/workloads',
  /** GET: Istio config with validation state and YAML (ConfigListResponse) */
  configList: '/apis/v1/config',
  /** GET `?namespace=`: `clew analyze` of the running config (AnalyzeResponse) */
  analyze: '/apis/v1/analyze',
} as const;

/** The graph's time windows (Kiali's 1m, 5m, 1h) in milliseconds. */
export const GRAPH_WINDOWS = { '1m': 60_000, '5m': 300_000, '1h': 3_600_000 } as const;
export type GraphWindow = keyof typeof GRAPH_WINDOWS;

/** `GET /apis/v1/traces/<traceId>` */
export function tracePath(traceId: string): string {
  return `${API_PATHS.traces}/${encodeURIComponent(traceId)}`;
}

/** `DELETE /apis/v1/resources/<kind>/<namespace>/<name>` */
export function resourcePath(kind: string, namespace: string, name: string): string {
  return `${API_PATHS.resources}/${encodeURIComponent(kind)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}
