/**
 * `GET /apis/v1/analyze?namespace=`: `clew analyze` of the running config (every resource the push
 * context sees, the refused hand-edited files' messages, the registry's hosts and workloads, the
 * mesh config in force). `clew analyze --control-plane` and the dashboard's config list read it.
 */
import { API_PATHS } from '../../api/api-paths.js';
import type { AnalyzeResponse } from '../../api/api-types.js';
import { analyze } from '../../analyze/analyze.js';
import { json, type ApiRoute } from './api-route.js';
import type { ControlPlaneView } from './control-plane-view.js';

export function analyzeRoutes(view: ControlPlaneView): ApiRoute[] {
  return [
    {
      method: 'GET', path: API_PATHS.analyze, doc: `${API_PATHS.analyze}?namespace=`,
      handle: (req) => {
        const namespace = req.query.get('namespace') || undefined;
        const messages = analyze({
          files: [],
          loadMessages: view.rejectedFiles().flatMap((f) => f.messages),
          running: view.configResources(),
          registryHosts: view.services().map((s) => s.hostname),
          workloads: view.workloads().map((w) => ({ name: w.name, namespace: w.namespace, labels: w.labels })),
          mesh: view.meshConfig(),
          namespace,
        });
        return json(200, { revision: view.configRevision(), namespace, messages } satisfies AnalyzeResponse);
      },
    },
  ];
}
