/**
 * The dashboard's data, as the browser asks for it under `/api/`: read-only GETs answered from
 * the control plane's API (src/api paths), the graph from a Prometheus server instead when one is
 * given (graph-promql.ts, with the control plane's registry for idle nodes).
 */
import { request } from 'undici';
import { API_PATHS, GRAPH_WINDOWS, tracePath, type GraphWindow } from '../api/api-paths.js';
import type { ServiceListResponse, WorkloadListResponse } from '../api/api-types.js';
import { buildGraph } from '../mesh-metrics/graph-build.js';
import { queryPrometheusTraffic } from '../mesh-metrics/graph-promql.js';

export interface DashboardApiOptions {
  controlPlane: string;
  prometheus?: string;
  timeoutMs?: number;
}

export interface DashboardReply {
  status: number;
  body: string;
  type: string;
}

/** browser path -> control-plane path (query passed on) */
const FORWARD: Record<string, string> = {
  '/api/graph': API_PATHS.graph,
  '/api/traces/services': API_PATHS.traceServices,
  '/api/traces': API_PATHS.traces,
  '/api/services': API_PATHS.services,
  '/api/workloads': API_PATHS.workloads,
  '/api/config': API_PATHS.configList,
  '/api/proxies': API_PATHS.proxyStatus,
  '/api/config_dump': API_PATHS.configDump,
  '/api/syncz': API_PATHS.syncz,
  '/api/analyze': API_PATHS.analyze,
};

/** browser paths with a parameter -> control-plane path */
const FORWARD_PATTERNS: Array<{ path: RegExp; to: (param: string) => string }> = [
  { path: /^\/api\/traces\/([0-9a-fA-F]{16}|[0-9a-fA-F]{32})$/, to: tracePath },
];

export const DASHBOARD_API_PATHS = Object.keys(FORWARD);

export class DashboardApi {
  constructor(private readonly opts: DashboardApiOptions) {}

  handles(path: string): boolean {
    return Object.hasOwn(FORWARD, path) || FORWARD_PATTERNS.some((p) => p.path.test(path));
  }

  async get(path: string, query: URLSearchParams): Promise<DashboardReply> {
    if (path === '/api/graph' && this.opts.prometheus) return this.prometheusGraph(query);
    const q = query.toString();
    if (!Object.hasOwn(FORWARD, path)) {
      const p = FORWARD_PATTERNS.find((f) => f.path.test(path))!;
      return this.controlPlane(p.to(p.path.exec(path)![1]));
    }
    return this.controlPlane(`${FORWARD[path]}${q ? `?${q}` : ''}`);
  }

  private async controlPlane(path: string): Promise<DashboardReply> {
    const url = new URL(path, this.opts.controlPlane);
    try {
      const timeout = this.opts.timeoutMs ?? 10_000;
      const res = await request(url, { headersTimeout: timeout, bodyTimeout: timeout });
      return { status: res.statusCode, body: await res.body.text(), type: String(res.headers['content-type'] ?? 'application/json') };
    } catch (err) {
      return error(502, `control plane ${this.opts.controlPlane}: ${(err as Error).message}`, 'CLEW_DASHBOARD_CONTROL_PLANE');
    }
  }

  private async prometheusGraph(query: URLSearchParams): Promise<DashboardReply> {
    const window = (query.get('window') ?? '1m') as GraphWindow;
    if (!Object.hasOwn(GRAPH_WINDOWS, window)) return error(400, `window must be one of ${Object.keys(GRAPH_WINDOWS).join(', ')}`, 'CLEW_API_BAD_WINDOW');
    try {
      const [traffic, services, workloads] = await Promise.all([
        queryPrometheusTraffic(this.opts.prometheus!, window, this.opts.timeoutMs ?? 10_000),
        this.controlPlaneJson<ServiceListResponse>(API_PATHS.services),
        this.controlPlaneJson<WorkloadListResponse>(API_PATHS.workloads),
      ]);
      const topology = {
        services: services?.items ?? [],
        workloads: (workloads?.items ?? []).map((w) => ({ name: w.name, namespace: w.namespace, labels: w.labels, sidecar: Boolean(w.sync) })),
      };
      return { status: 200, body: JSON.stringify(buildGraph(traffic, topology, window, 'prometheus')), type: 'application/json' };
    } catch (err) {
      return error(502, `prometheus ${this.opts.prometheus}: ${(err as Error).message}`, 'CLEW_DASHBOARD_PROMETHEUS');
    }
  }

  /** a control-plane list, or undefined when the control plane does not answer (the graph still shows traffic) */
  private async controlPlaneJson<T>(path: string): Promise<T | undefined> {
    const r = await this.controlPlane(path);
    return r.status === 200 ? (JSON.parse(r.body) as T) : undefined;
  }
}

function error(status: number, message: string, code: string): DashboardReply {
  return { status, body: JSON.stringify({ error: message, code }), type: 'application/json' };
}
