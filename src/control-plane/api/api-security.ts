/**
 * The mesh's identity: `/debug/root-cert` (the CA's root, PEM) and `POST /apis/v1/workload-tokens`
 * (mints a workload token, the credential contract; the server has already passed it through
 * `authorizeWrite`, so the admin token is required like every write).
 */
import { API_PATHS } from '../../api/api-paths.js';
import { SecurityError } from '../../security/security-errors.js';
import { json, text, type ApiRoute } from './api-route.js';
import type { ControlPlaneView, ControlPlaneWrites } from './control-plane-view.js';

export function securityRoutes(view: ControlPlaneView, writes: ControlPlaneWrites): ApiRoute[] {
  return [
    {
      // the root clients verify the TLS port (and workload certificates) with; public by nature
      method: 'GET', path: API_PATHS.rootCert, doc: API_PATHS.rootCert,
      handle: () => text(200, view.rootCertPem(), 'application/x-pem-file'),
    },
    {
      method: 'POST', path: API_PATHS.workloadTokens, doc: `POST ${API_PATHS.workloadTokens}`,
      handle: async (req) => {
        let body: unknown;
        try {
          body = JSON.parse(await req.body());
        } catch {
          return json(400, { error: 'body: expected JSON {namespace, serviceAccount, podName, addresses?, labels?, expirationSeconds?}', code: 'CLEW_BAD_REQUEST' });
        }
        try {
          const minted = await writes.mintToken(body);
          return json(200, { token: minted.token, expiresAt: new Date(minted.expiresAt).toISOString() });
        } catch (err) {
          if (err instanceof SecurityError && err.code === 'INVALID_REQUEST') return json(400, { error: err.message, code: 'CLEW_BAD_REQUEST' });
          throw err;
        }
      },
    },
  ];
}
