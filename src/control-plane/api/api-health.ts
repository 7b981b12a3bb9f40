/** `/ready` and `/metrics` (the control plane's own Prometheus metrics). */
import { API_PATHS } from '../../api/api-paths.js';
import { PROMETHEUS_CONTENT_TYPE } from '../../stats/stats-prometheus.js';
import { text, type ApiRoute } from './api-route.js';
import type { ControlPlaneView } from './control-plane-view.js';

export function healthRoutes(view: ControlPlaneView): ApiRoute[] {
  return [
    {
      method: 'GET', path: API_PATHS.ready, doc: API_PATHS.ready,
      handle: () => (view.isReady() ? text(200, 'ready\n') : text(503, 'not ready\n')),
    },
    {
      method: 'GET', path: API_PATHS.metrics, doc: API_PATHS.metrics,
      handle: () => text(200, view.metricsText(), PROMETHEUS_CONTENT_TYPE),
    },
  ];
}
