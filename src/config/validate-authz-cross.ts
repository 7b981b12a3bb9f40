/**
 * Cross checks of AuthorizationPolicy against the mesh config (when it is known: `clew validate
 * --mesh-config`): a CUSTOM policy must name an extension provider that exists and is an
 * ext_authz provider (envoyExtAuthzHttp / envoyExtAuthzGrpc). At run time a provider that does not
 * resolve makes the workload deny everything (Istio's fail-closed rule), so this is an error.
 */
import { findExtensionProvider, type MeshConfig } from './mesh-config.js';
import { Codes } from './messages.js';
import { asObj, asStr } from './semantic-util.js';
import type { ConfigResource } from './types.js';
import type { Reporter } from './validate-reporter.js';

export function crossCheckAuthorizationPolicies(
  policies: ConfigResource[],
  reporterFor: (r: ConfigResource) => { rep: Reporter; flush: () => void },
  meshConfig: MeshConfig | undefined,
): void {
  if (!meshConfig) return;
  for (const p of policies) {
    const spec = asObj(p.spec);
    if (asStr(spec.action) !== 'CUSTOM') continue;
    const name = asStr(asObj(spec.provider).name);
    if (!name) continue;
    const { rep, flush } = reporterFor(p);
    const provider = findExtensionProvider(meshConfig, name);
    const extAuthz = (meshConfig.extensionProviders ?? []).filter((e) => e.envoyExtAuthzHttp !== undefined || e.envoyExtAuthzGrpc !== undefined).map((e) => e.name);
    if (!provider) {
      rep.error('spec.provider.name', `provider "${name}" is not defined in the mesh config's extensionProviders (ext_authz providers: ${extAuthz.join(', ') || 'none'}); the workload would deny every request`, Codes.referenceNotFound);
    } else if (provider.envoyExtAuthzHttp === undefined && provider.envoyExtAuthzGrpc === undefined) {
      rep.error('spec.provider.name', `provider "${name}" is not an ext_authz provider (envoyExtAuthzHttp or envoyExtAuthzGrpc); the workload would deny every request`, Codes.referenceNotFound);
    }
    flush();
  }
}
