/** `/debug/registryz`: every service with its endpoints per service port. */
import { API_PATHS } from '../../api/api-paths.js';
import type { RegistryzEntry } from '../../api/api-types.js';
import { json, type ApiRoute } from './api-route.js';
import type { ControlPlaneView } from './control-plane-view.js';

export function registryRoutes(view: ControlPlaneView): ApiRoute[] {
  return [
    {
      method: 'GET', path: API_PATHS.registryz, doc: API_PATHS.registryz,
      handle: () => json(200, view.services().map((svc): RegistryzEntry => ({
        ...svc,
        cluster: view.clusterOf(svc.hostname),
        endpoints: Object.fromEntries(svc.ports.map((port) => [
          String(port.port),
          view.instances(svc.hostname, port.port).map((i) => i.endpoint),
        ])),
      }))),
    },
  ];
}
