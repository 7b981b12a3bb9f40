/**
 * Named credentials served over ADS as Envoy `Secret` resources (Istio's SDS for
 * `kubernetes://` names, pilot/pkg/xds/sds.go): `kubernetes://<name>` (the proxy's namespace) or
 * `kubernetes://<namespace>/<name>` from a Secret in the config dir; the certificate and key
 * become `tls_certificate`, and `<name>-cacert` selects the CA part (`validation_context`),
 * taken from the same Secret's `ca.crt`/`cacert` or from a separate Secret named `<name>-cacert`.
 * A proxy gets only Secrets of its own namespace (the authorization is the caller's: see
 * xds-generator). Unknown names, other namespaces and Secrets without the part asked for are
 * left out, as istiod does, so the proxy keeps waiting (its listener stays warming).
 */
import type { ConfigResource, SecretSpec } from '../../config/types.js';
import { CA_KEYS, CERT_KEYS, KEY_KEYS, secretValue } from '../../config/semantic-secret.js';
import type { EnvoyResource } from '../../xds/codec.js';
import type { PushContext } from './index.js';

export const KUBERNETES_SECRET_PREFIX = 'kubernetes://';
export const CA_SUFFIX = '-cacert';

export interface SecretName {
  namespace: string;
  name: string;
  /** the `-cacert` part */
  ca: boolean;
}

/** `kubernetes://name`, `kubernetes://ns/name`, each optionally with `-cacert`. */
export function parseSecretName(resourceName: string, proxyNamespace: string): SecretName | undefined {
  if (!resourceName.startsWith(KUBERNETES_SECRET_PREFIX)) return undefined;
  let rest = resourceName.slice(KUBERNETES_SECRET_PREFIX.length);
  const ca = rest.endsWith(CA_SUFFIX);
  if (ca) rest = rest.slice(0, -CA_SUFFIX.length);
  const parts = rest.split('/');
  if (parts.length > 2 || parts.some((p) => p === '')) return undefined;
  return parts.length === 2 ? { namespace: parts[0], name: parts[1], ca } : { namespace: proxyNamespace, name: parts[0], ca };
}

function pick(spec: SecretSpec, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = secretValue(spec as Record<string, unknown>, k);
    if (v) return v.text;
  }
  return undefined;
}

const inline = (pem: string) => ({ inline_bytes: Buffer.from(pem, 'utf8') });

/**
 * Secrets for `names` as seen by a proxy of `proxyNamespace`; `allowedNamespace` is the namespace
 * the proxy's credential proves (undefined: no credential, no secret).
 */
export function buildSecrets(pc: PushContext, proxyNamespace: string, allowedNamespace: string | undefined, names: readonly string[]): EnvoyResource[] {
  if (allowedNamespace === undefined) return [];
  const byKey = new Map<string, SecretSpec>();
  for (const r of pc.ofKind<SecretSpec>('Secret') as readonly ConfigResource<SecretSpec>[]) {
    byKey.set(`${r.metadata.namespace}/${r.metadata.name}`, r.spec ?? {});
  }
  const out: EnvoyResource[] = [];
  for (const resourceName of names) {
    const n = parseSecretName(resourceName, proxyNamespace);
    if (!n || n.namespace !== allowedNamespace) continue;
    const spec = byKey.get(`${n.namespace}/${n.name}`);
    if (n.ca) {
      const ca = (spec && pick(spec, CA_KEYS)) ?? (() => {
        const separate = byKey.get(`${n.namespace}/${n.name}${CA_SUFFIX}`);
        return separate ? pick(separate, CA_KEYS) : undefined;
      })();
      if (ca) out.push({ name: resourceName, validation_context: { trusted_ca: inline(ca) } });
      continue;
    }
    if (!spec) continue;
    const cert = pick(spec, CERT_KEYS);
    const key = pick(spec, KEY_KEYS);
    if (!cert || !key) continue;
    out.push({ name: resourceName, tls_certificate: { certificate_chain: inline(cert), private_key: inline(key) } });
  }
  return out;
}
