/** The traffic graph from the control plane's scrape window: `GET /apis/v1/graph?window=1m|5m|1h`. */
import { API_PATHS, GRAPH_WINDOWS, type GraphWindow } from '../../api/api-paths.js';
import { buildGraph, type Topology } from '../../mesh-metrics/graph-build.js';
import { json, type ApiRoute } from './api-route.js';
import type { ControlPlaneView } from './control-plane-view.js';

/** What the registry and the ADS streams say exists (idle nodes included). */
export function topologyOf(view: ControlPlaneView): Topology {
  const connected = new Set(view.streams().map((s) => s.stream.node?.id).filter((id): id is string => Boolean(id)));
  return {
    workloads: view.workloads().map((w) => ({
      name: w.name, namespace: w.namespace, labels: w.labels, sidecar: Boolean(w.proxyId && connected.has(w.proxyId)),
    })),
    services: view.services().map((s) => ({ hostname: s.hostname, name: s.name, namespace: s.namespace })),
  };
}

export function parseWindow(v: string | null): GraphWindow | undefined {
  const w = v ?? '1m';
  return Object.hasOwn(GRAPH_WINDOWS, w) ? (w as GraphWindow) : undefined;
}

export function graphRoutes(view: ControlPlaneView): ApiRoute[] {
  return [
    {
      method: 'GET', path: API_PATHS.graph, doc: `${API_PATHS.graph}?window=1m|5m|1h`,
      handle: (req) => {
        const window = parseWindow(req.query.get('window'));
        if (!window) return json(400, { error: `window must be one of ${Object.keys(GRAPH_WINDOWS).join(', ')}`, code: 'CLEW_API_BAD_WINDOW' });
        const scrape = view.scrapeStatus();
        if (!scrape) return json(409, { error: 'metrics scraping is off (--metrics-scrape-interval 0): use clew dashboard --prometheus', code: 'CLEW_API_NO_SCRAPE' });
        return json(200, buildGraph(view.traffic(GRAPH_WINDOWS[window]), topologyOf(view), window, 'control-plane', scrape));
      },
    },
  ];
}
