/**
 * The paths of the control plane's HTTP API (debug port, 15014), one list for the server, the
 * CLI, the dashboard and scripts. Bottom module: no imports.
 */
export const API_PATHS = {
  ready: '/ready',
  metrics: '/metrics',
  syncz: '/debug/syncz',
  proxyStatus: '/debug/proxy_status',
  /** `?proxyID=<node id | name.namespace | name>` */
  configDump: '/debug/config_dump',
  registryz: '/debug/registryz',
  configz: '/debug/configz',
  mesh: '/debug/mesh',
  /** the mesh's root certificate (PEM), what clients verify the TLS port and workload certificates with */
  rootCert: '/debug/root-cert',
  /** GET `?kind=&namespace=&name=` */
  resources: '/apis/v1/resources',
  apply: '/apis/v1/apply',
  delete: '/apis/v1/delete',
} as const;

/** `DELETE /apis/v1/resources/<kind>/<namespace>/<name>` */
export function resourcePath(kind: string, namespace: string, name: string): string {
  return `${API_PATHS.resources}/${encodeURIComponent(kind)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}
