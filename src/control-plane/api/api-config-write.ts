/**
 * Config writes (`clew apply/delete`): `POST /apis/v1/apply`, `POST /apis/v1/delete` (YAML or
 * JSON body, `?file=` names it in messages) and `DELETE /apis/v1/resources/<kind>/<ns>/<name>`.
 * The server has already passed them through `authorizeWrite`. A refused apply is 422 with every
 * message; nothing changes.
 */
import { API_PATHS } from '../../api/api-paths.js';
import type { ApplyRejected, ApplyResponse } from '../../api/api-types.js';
import { formatIgnored, formatMessage } from '../../config/index.js';
import { ConfigRejectedError } from '../config-store.js';
import { json, type ApiReply, type ApiRequest, type ApiRoute } from './api-route.js';
import type { ControlPlaneView, ControlPlaneWrites } from './control-plane-view.js';

async function applyOrDelete(view: ControlPlaneView, writes: ControlPlaneWrites, req: ApiRequest, apply: boolean): Promise<ApiReply> {
  const file = req.query.get('file') ?? 'stdin';
  const body = await req.body();
  try {
    const done = apply ? await writes.applyText(body, file) : { results: await writes.deleteText(body, file), ignored: [] };
    const { results } = done;
    const telemetry = apply && results.some((r) => r.kind === 'Telemetry');
    const warnings = (telemetry ? view.meshWarnings(new Set(results.map((r) => r.key))) : []).map((m) => ({ ...m, text: formatMessage(m) }));
    const ignored = done.ignored.map((i) => ({ ...i, text: formatIgnored(i) }));
    const reply: ApplyResponse = { results, ...(warnings.length ? { warnings } : {}), ...(ignored.length ? { ignored } : {}) };
    return json(200, reply);
  } catch (err) {
    if (err instanceof ConfigRejectedError) {
      writes.configRejected('api');
      const reply: ApplyRejected = {
        error: err.message,
        code: err.code,
        messages: err.messages.map((m) => ({ ...m, text: formatMessage(m) })),
      };
      return json(422, reply);
    }
    throw err;
  }
}

export function configWriteRoutes(view: ControlPlaneView, writes: ControlPlaneWrites): ApiRoute[] {
  return [
    { method: 'POST', path: API_PATHS.apply, doc: `POST ${API_PATHS.apply}`, handle: (req) => applyOrDelete(view, writes, req, true) },
    { method: 'POST', path: API_PATHS.delete, doc: `POST ${API_PATHS.delete}`, handle: (req) => applyOrDelete(view, writes, req, false) },
    {
      method: 'DELETE',
      path: /^\/apis\/v1\/resources\/([^/]+)\/([^/]+)\/([^/]+)$/,
      doc: `DELETE ${API_PATHS.resources}/<kind>/<namespace>/<name>`,
      handle: async (req) => {
        const [kindLc, namespace, name] = req.params;
        const found = view.listResources(kindLc, namespace, name)[0];
        const kind = found?.kind ?? kindLc;
        const results = await writes.deleteKeys([{ key: `${kind}/${namespace}/${name}`, kind, namespace, name }]);
        return json(found ? 200 : 404, { results } satisfies ApplyResponse);
      },
    },
  ];
}
