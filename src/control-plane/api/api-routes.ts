/**
 * The explicit list of the control plane's API endpoint families, in the order the 404 answer
 * lists them. Adding an endpoint: a handler in the family's module (or a new `api-<family>.ts`
 * listed here) and its path in src/api/api-paths.ts, its response type in src/api/api-types.ts.
 */
import type { ApiRoute } from './api-route.js';
import type { ControlPlaneTraces, ControlPlaneView, ControlPlaneWrites } from './control-plane-view.js';
import { healthRoutes } from './api-health.js';
import { traceRoutes } from './api-traces.js';
import { xdsRoutes } from './api-xds.js';
import { registryRoutes } from './api-registry.js';
import { configRoutes } from './api-config.js';
import { configWriteRoutes } from './api-config-write.js';
import { securityRoutes } from './api-security.js';
import { graphRoutes } from './api-graph.js';
import { listRoutes } from './api-lists.js';
import { analyzeRoutes } from './api-analyze.js';

export function apiRoutes(view: ControlPlaneView, writes: ControlPlaneWrites, traces?: ControlPlaneTraces): ApiRoute[] {
  return [
    ...healthRoutes(view),
    ...xdsRoutes(view),
    ...registryRoutes(view),
    ...(traces ? traceRoutes(traces) : []),
    ...configRoutes(view),
    ...securityRoutes(view, writes),
    ...graphRoutes(view),
    ...listRoutes(view),
    ...analyzeRoutes(view),
    ...configWriteRoutes(view, writes),
  ];
}

/** The route for a method and path, with the pattern's groups (URI-decoded). */
export function matchRoute(routes: readonly ApiRoute[], method: string, path: string): { route: ApiRoute; params: string[] } | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    if (typeof route.path === 'string') {
      if (route.path === path) return { route, params: [] };
      continue;
    }
    const m = route.path.exec(path);
    if (m) {
      try {
        return { route, params: m.slice(1).map((g) => decodeURIComponent(g ?? '')) };
      } catch {
        return undefined; // a malformed %-escape names no resource
      }
    }
  }
  return undefined;
}
