/**
 * What a TLS context needs from the secret manager, and nothing more: secrets by name from one of
 * two sources, their current value, and a change callback. The transport sockets
 * (src/proxy/transport) depend on this module only, never on the manager itself.
 */

/**
 * Where a named secret comes from:
 * - 'agent': the proxy's own agent part (Istio's `sds-grpc` cluster): `default` (workload key and
 *   chain from the CA), `ROOTCA` (trust bundle), `file-cert:`/`file-root:` names
 * - 'ads': the control plane over ADS (`sds_config: {ads: {}}`), e.g. `kubernetes://<secret>`
 */
export type SecretSource = 'agent' | 'ads';

export interface SecretRef {
  name: string;
  source: SecretSource;
}

/** A certificate chain (leaf first) and its private key, PEM. */
export interface TlsCertificateSecret {
  kind: 'tls_certificate';
  certChain: string;
  privateKey: string;
}

/** A trust bundle (PEM, one or more CA certificates) and an optional CRL. */
export interface ValidationContextSecret {
  kind: 'validation_context';
  trustedCa: string;
  crl: string | undefined;
}

export type SecretValue = TlsCertificateSecret | ValidationContextSecret;

export interface SecretEntry {
  value: SecretValue;
  /** version of the update that brought it (ADS version, or the agent's rotation count) */
  version: string;
  lastUpdated: Date;
}

export interface SecretProvider {
  /** the current value of a secret, or undefined while it has not arrived */
  get(ref: SecretRef): SecretEntry | undefined;
  /**
   * Calls `onChange` after every change of the secret (arrival, rotation, removal). Also asks
   * for it: an ADS name becomes part of the SDS subscription, an agent name is fetched or
   * signed. Returns the function that ends the watch.
   */
  watch(ref: SecretRef, onChange: () => void): () => void;
}

/** A provider with no secrets at all (tests, proxies without TLS). */
export const NO_SECRETS: SecretProvider = {
  get: () => undefined,
  watch: () => () => undefined,
};

export function secretKey(ref: SecretRef): string {
  return `${ref.source}:${ref.name}`;
}
