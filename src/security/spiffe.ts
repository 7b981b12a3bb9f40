/**
 * SPIFFE identities in Istio's form: `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`
 * (Istio's pkg/spiffe). The trust domain comes from MeshConfig `trustDomain` (default
 * cluster.local). Policy principals are the same string without the scheme.
 */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const SPIFFE_PREFIX = 'spiffe://';

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

/** DNS-label-like names as Kubernetes allows for namespaces and service accounts (subdomain form). */
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const TRUST_DOMAIN = /^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/i;

export function isValidName(s: string): boolean {
  return s.length > 0 && s.length <= 253 && NAME.test(s);
}

export function isValidTrustDomain(s: string): boolean {
  return s.length > 0 && s.length <= 255 && TRUST_DOMAIN.test(s);
}

export function spiffeId(id: WorkloadIdentity): string {
  return `${SPIFFE_PREFIX}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** The identity in a SPIFFE URI of Istio's form, or undefined for anything else. */
export function parseSpiffeId(uri: string): WorkloadIdentity | undefined {
  if (!uri.startsWith(SPIFFE_PREFIX)) return undefined;
  const parts = uri.slice(SPIFFE_PREFIX.length).split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') return undefined;
  const [trustDomain, , namespace, , serviceAccount] = parts;
  if (!isValidTrustDomain(trustDomain) || !isValidName(namespace) || !isValidName(serviceAccount)) return undefined;
  return { trustDomain, namespace, serviceAccount };
}
