/** Config reads: `/debug/configz`, `/debug/mesh`, `GET /apis/v1/resources` (what `clew get` lists). */
import { API_PATHS } from '../../api/api-paths.js';
import type { ConfigzResponse, ResourcesResponse } from '../../api/api-types.js';
import { formatMessage, redacted, resourceKey } from '../../config/index.js';
import { json, type ApiRoute } from './api-route.js';
import type { ControlPlaneView } from './control-plane-view.js';

export function configRoutes(view: ControlPlaneView): ApiRoute[] {
  return [
    {
      method: 'GET', path: API_PATHS.configz, doc: API_PATHS.configz,
      handle: () => json(200, {
        revision: view.configRevision(),
        resources: view.configResources().map((r) => ({ key: resourceKey(r), ...redacted(r) })),
        rejected: view.rejectedFiles().map((f) => ({ file: f.file, messages: f.messages.map(formatMessage) })),
      } satisfies ConfigzResponse),
    },
    {
      method: 'GET', path: API_PATHS.mesh, doc: API_PATHS.mesh,
      handle: () => json(200, view.meshConfig()),
    },
    {
      method: 'GET', path: API_PATHS.resources, doc: `GET ${API_PATHS.resources}`,
      handle: (req) => {
        const q = req.query;
        const items = view.listResources(q.get('kind') ?? undefined, q.get('namespace') ?? undefined, q.get('name') ?? undefined).map(redacted);
        return json(200, { items } satisfies ResourcesResponse);
      },
    },
  ];
}
