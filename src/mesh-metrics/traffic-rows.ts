/**
 * What the traffic graph is built from, whichever source answers: the control plane's window
 * store (metrics-window.ts) or a Prometheus server (graph-promql.ts). One row per distinct set of
 * Istio's standard labels below, with rates over the asked window.
 */

/** The labels of istio_requests_total / istio_tcp_* the graph reads (Kiali's group-by set). */
export const TRAFFIC_LABELS = [
  'reporter',
  'source_workload', 'source_workload_namespace', 'source_canonical_service', 'source_canonical_revision',
  'destination_workload', 'destination_workload_namespace', 'destination_canonical_service', 'destination_canonical_revision',
  'destination_service', 'destination_service_name', 'destination_service_namespace',
  'request_protocol', 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy',
] as const;

export type TrafficLabel = (typeof TRAFFIC_LABELS)[number];
export type TrafficLabels = Record<TrafficLabel, string>;

export interface TrafficRow {
  kind: 'http' | 'tcp';
  labels: TrafficLabels;
  /** requests/s (http) or connections opened/s (tcp) */
  rate: number;
  /** bytes/s sent + received (tcp) */
  bytesRate: number;
  /** istio_request_duration_milliseconds buckets: [upper bound ms, rate of observations <= it] */
  buckets: Array<[number, number]>;
}

export interface TrafficQuery {
  rows: TrafficRow[];
  /** seconds the rates cover */
  coveredSeconds: number;
  timestamp: number;
}

export function trafficLabels(raw: Record<string, string>): TrafficLabels {
  const out = {} as TrafficLabels;
  for (const k of TRAFFIC_LABELS) out[k] = raw[k] ?? '';
  return out;
}

export function trafficKey(kind: string, l: TrafficLabels): string {
  let key = kind;
  for (const k of TRAFFIC_LABELS) key += `\u0001${l[k]}`;
  return key;
}
