/**
 * The traffic graph (Kiali's versioned-app graph with service nodes) from traffic rows, whichever
 * source gave them. Which rows count is Kiali's choice: what the calling sidecar reported
 * (`reporter="source"`: it sees injected faults, timeouts and unreachable destinations), and what
 * the called sidecar reported only for callers outside the mesh (`source_workload="unknown"`).
 *
 *   caller workload ──► service ──► called workload     (app boxes group a workload's versions)
 */
import type { GraphEdge, GraphNode, GraphProtocol, GraphResponse, ScrapeStatus } from '../api/api-types.js';
import { healthOf, isErrorResponse } from './graph-health.js';
import type { TrafficLabels, TrafficQuery, TrafficRow } from './traffic-rows.js';

export interface TopologyWorkload {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  sidecar: boolean;
}

export interface TopologyService {
  hostname: string;
  name: string;
  namespace: string;
}

export interface Topology {
  workloads: TopologyWorkload[];
  services: TopologyService[];
}

interface EdgeAcc {
  source: string;
  target: string;
  rate: number;
  errors: number;
  mtls: number;
  tcpConnections: number;
  tcpBytes: number;
  codes: Map<string, number>;
  flags: Map<string, number>;
  protocols: Map<GraphProtocol, number>;
  buckets: Map<number, number>;
}

const UNKNOWN = 'unknown';

function known(v: string): boolean {
  return v !== '' && v !== UNKNOWN;
}

/** Whether a row is one the graph uses (see the module comment). */
export function graphUsesRow(l: TrafficLabels): boolean {
  if (l.reporter === 'source') return true;
  return l.reporter === 'destination' && !known(l.source_workload);
}

export function workloadNodeId(namespace: string, name: string): string {
  return `wl:${namespace}/${name}`;
}

export function serviceNodeId(hostname: string): string {
  return `svc:${hostname}`;
}

export function appNodeId(namespace: string, app: string): string {
  return `app:${namespace}/${app}`;
}

/** Interpolated quantile of cumulative buckets (Prometheus' histogram_quantile). */
export function bucketQuantile(q: number, buckets: ReadonlyArray<[number, number]>): number | undefined {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.length ? sorted[sorted.length - 1][1] : 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      if (count === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

function protocolOf(row: TrafficRow): GraphProtocol {
  if (row.kind === 'tcp') return 'tcp';
  return row.labels.request_protocol === 'grpc' ? 'grpc' : 'http';
}

export function buildGraph(
  traffic: TrafficQuery, topology: Topology, window: string, source: GraphResponse['source'], scrape?: ScrapeStatus,
): GraphResponse {
  const nodes = new Map<string, GraphNode>();
  const addWorkload = (name: string, namespace: string, app: string | undefined, version: string | undefined, sidecar: boolean): string => {
    const id = workloadNodeId(namespace, name);
    const have = nodes.get(id);
    if (have) {
      have.sidecar ||= sidecar;
      return id;
    }
    let parent: string | undefined;
    if (app) {
      parent = appNodeId(namespace, app);
      if (!nodes.has(parent)) {
        nodes.set(parent, { id: parent, kind: 'app', name: app, namespace, app, health: 'idle', inRate: 0, outRate: 0, errorRate: 0 });
      }
    }
    nodes.set(id, { id, kind: 'workload', name, namespace, app, version, parent, sidecar, health: 'idle', inRate: 0, outRate: 0, errorRate: 0 });
    return id;
  };
  const addService = (hostname: string, name: string, namespace: string): string => {
    const id = serviceNodeId(hostname);
    if (!nodes.has(id)) nodes.set(id, { id, kind: 'service', name: name || hostname, namespace, health: 'idle', inRate: 0, outRate: 0, errorRate: 0 });
    return id;
  };
  const addUnknown = (): string => {
    if (!nodes.has(UNKNOWN)) nodes.set(UNKNOWN, { id: UNKNOWN, kind: 'unknown', name: UNKNOWN, namespace: '', health: 'idle', inRate: 0, outRate: 0, errorRate: 0 });
    return UNKNOWN;
  };

  for (const w of topology.workloads) {
    const app = w.labels['service.istio.io/canonical-name'] || w.labels['app.kubernetes.io/name'] || w.labels.app;
    const version = w.labels['service.istio.io/canonical-revision'] || w.labels['app.kubernetes.io/version'] || w.labels.version;
    addWorkload(w.name, w.namespace, app, version, w.sidecar);
  }
  for (const s of topology.services) addService(s.hostname, s.name, s.namespace);
  const byShortName = new Map(topology.services.map((s) => [`${s.name}/${s.namespace}`, s]));
  const hostnames = new Set(topology.services.map((s) => s.hostname));
  /**
   * The service node of a row. A request that never reached a cluster (an injected abort) may be
   * labelled with the Host it asked for (`ratings`, `ratings.default`): that names the service
   * as the caller's proxy resolves short names, in the caller's namespace.
   */
  const serviceOf = (l: TrafficLabels): string | undefined => {
    const host = l.destination_service;
    if (!known(host)) return undefined;
    if (!hostnames.has(host)) {
      const parts = host.split(':')[0].split('.');
      const name = known(l.destination_service_name) ? l.destination_service_name : parts[0];
      const ns = known(l.destination_service_namespace) ? l.destination_service_namespace : parts[1] ?? l.source_workload_namespace;
      const svc = byShortName.get(`${name}/${ns}`);
      if (svc && (parts.length <= 2 || host.startsWith(`${svc.name}.${svc.namespace}.svc`))) return addService(svc.hostname, svc.name, svc.namespace);
    }
    return addService(host, l.destination_service_name, l.destination_service_namespace);
  };

  const edges = new Map<string, EdgeAcc>();
  const acc = (source: string, target: string, row: TrafficRow, error: boolean): void => {
    const id = `${source}>${target}`;
    let e = edges.get(id);
    if (!e) {
      e = { source, target, rate: 0, errors: 0, mtls: 0, tcpConnections: 0, tcpBytes: 0, codes: new Map(), flags: new Map(), protocols: new Map(), buckets: new Map() };
      edges.set(id, e);
    }
    const p = protocolOf(row);
    e.protocols.set(p, (e.protocols.get(p) ?? 0) + row.rate + row.bytesRate);
    if (row.labels.connection_security_policy === 'mutual_tls') e.mtls += row.kind === 'tcp' ? row.bytesRate + row.rate : row.rate;
    if (row.kind === 'tcp') {
      e.tcpConnections += row.rate;
      e.tcpBytes += row.bytesRate;
      return;
    }
    e.rate += row.rate;
    if (error) e.errors += row.rate;
    const code = row.labels.response_code || '-';
    e.codes.set(code, (e.codes.get(code) ?? 0) + row.rate);
    const flags = row.labels.response_flags;
    if (flags && flags !== '-') e.flags.set(flags, (e.flags.get(flags) ?? 0) + row.rate);
    for (const [le, v] of row.buckets) e.buckets.set(le, (e.buckets.get(le) ?? 0) + v);
  };

  for (const row of traffic.rows) {
    const l = row.labels;
    if (!graphUsesRow(l)) continue;
    const src = known(l.source_workload)
      ? addWorkload(l.source_workload, l.source_workload_namespace, l.source_canonical_service || undefined, l.source_canonical_revision || undefined, l.reporter === 'source')
      : addUnknown();
    const svc = serviceOf(l);
    const dst = known(l.destination_workload)
      ? addWorkload(l.destination_workload, l.destination_workload_namespace, l.destination_canonical_service || undefined, l.destination_canonical_revision || undefined, l.reporter === 'destination')
      : undefined;
    const error = row.kind === 'http' && isErrorResponse(l.response_code, l.grpc_response_status);
    if (svc) {
      acc(src, svc, row, error);
      if (dst) acc(svc, dst, row, error);
    } else {
      acc(src, dst ?? addUnknown(), row, error);
    }
  }

  const graphEdges: GraphEdge[] = [];
  const inErr = new Map<string, number>();
  for (const [id, e] of edges) {
    const volume = e.rate > 0 ? e.rate : e.tcpConnections + e.tcpBytes;
    const protocol = [...e.protocols].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'http';
    const errorRate = e.rate > 0 ? e.errors / e.rate : 0;
    const buckets = [...e.buckets];
    const totalVolume = e.rate + e.tcpConnections + e.tcpBytes;
    graphEdges.push({
      id,
      source: e.source,
      target: e.target,
      protocol,
      rate: e.rate > 0 ? e.rate : e.tcpConnections,
      errorRate,
      codes: Object.fromEntries(e.codes),
      flags: Object.fromEntries(e.flags),
      p50: bucketQuantile(0.5, buckets),
      p99: bucketQuantile(0.99, buckets),
      ...(e.tcpBytes > 0 ? { tcpBytesRate: e.tcpBytes } : {}),
      mtls: totalVolume > 0 ? Math.min(1, e.mtls / totalVolume) : 0,
      health: healthOf(volume, errorRate),
    });
    const from = nodes.get(e.source);
    const to = nodes.get(e.target);
    if (from) from.outRate += e.rate;
    if (to) {
      to.inRate += e.rate;
      inErr.set(e.target, (inErr.get(e.target) ?? 0) + e.errors);
    }
  }
  const boxes = new Map<string, { rate: number; inRate: number; errors: number }>();
  for (const n of nodes.values()) {
    if (n.kind === 'app') continue;
    n.errorRate = n.inRate > 0 ? (inErr.get(n.id) ?? 0) / n.inRate : 0;
    n.health = healthOf(n.inRate + n.outRate, n.errorRate);
    if (n.parent) {
      const b = boxes.get(n.parent) ?? { rate: 0, inRate: 0, errors: 0 };
      b.rate += n.inRate + n.outRate;
      b.inRate += n.inRate;
      b.errors += inErr.get(n.id) ?? 0;
      boxes.set(n.parent, b);
    }
  }
  for (const [id, b] of boxes) {
    const box = nodes.get(id)!;
    box.inRate = b.inRate;
    box.errorRate = b.inRate > 0 ? b.errors / b.inRate : 0;
    box.health = healthOf(b.rate, box.errorRate);
  }
  return {
    window,
    timestamp: traffic.timestamp,
    coveredSeconds: traffic.coveredSeconds,
    source,
    nodes: [...nodes.values()],
    edges: graphEdges,
    ...(scrape ? { scrape } : {}),
  };
}
