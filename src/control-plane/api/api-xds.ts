/** The ADS server's state per proxy: `/debug/syncz`, `/debug/proxy_status`, `/debug/config_dump`. */
import { API_PATHS } from '../../api/api-paths.js';
import type { SynczEntry } from '../../api/api-types.js';
import { SHORT_TYPE_NAME } from '../../xds/type-urls.js';
import { findStream, proxyStatusRows } from '../proxy-status.js';
import { json, type ApiRoute } from './api-route.js';
import type { ControlPlaneView } from './control-plane-view.js';

export function xdsRoutes(view: ControlPlaneView): ApiRoute[] {
  return [
    {
      method: 'GET', path: API_PATHS.syncz, doc: API_PATHS.syncz,
      handle: () => json(200, view.streams().map((s): SynczEntry => ({
        proxy: s.stream.node?.id ?? `stream-${s.stream.id}`,
        peer: s.stream.peer,
        delta: s.stream.delta,
        connected_at: new Date(s.stream.connectedAt).toISOString(),
        types: s.types.map((t) => ({ type: SHORT_TYPE_NAME[t.typeUrl] ?? t.typeUrl, ...t })),
      }))),
    },
    {
      method: 'GET', path: API_PATHS.proxyStatus, doc: API_PATHS.proxyStatus,
      handle: () => json(200, proxyStatusRows(view.streams())),
    },
    {
      method: 'GET', path: API_PATHS.configDump, doc: `${API_PATHS.configDump}?proxyID=`,
      handle: (req) => {
        const id = req.query.get('proxyID');
        if (!id) return json(400, { error: 'proxyID is required' });
        const stream = findStream(view.streams(), id);
        if (!stream) return json(404, { error: `proxy ${id} is not connected` });
        return json(200, view.configDump(stream));
      },
    },
  ];
}
