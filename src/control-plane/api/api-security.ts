/** The mesh's identity: `/debug/root-cert` (the CA's root, PEM). */
import { API_PATHS } from '../../api/api-paths.js';
import { text, type ApiRoute } from './api-route.js';
import type { ControlPlaneView } from './control-plane-view.js';

export function securityRoutes(view: ControlPlaneView): ApiRoute[] {
  return [
    {
      // the root clients verify the TLS port (and workload certificates) with; public by nature
      method: 'GET', path: API_PATHS.rootCert, doc: API_PATHS.rootCert,
      handle: () => text(200, view.rootCertPem(), 'application/x-pem-file'),
    },
  ];
}
