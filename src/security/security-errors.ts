/** Errors of the security module (CA, authenticators, tokens), with stable codes. */
export type SecurityErrorCode =
  /** a CA file is missing, unreadable or not PEM of the expected kind */
  | 'CA_FILE_INVALID'
  /** a CA certificate is expired or not yet valid */
  | 'CA_EXPIRED'
  /** ca-key.pem does not belong to ca-cert.pem, or the chain does not end at root-cert.pem */
  | 'CA_MISMATCH'
  /** a CA certificate is not allowed to sign (no basicConstraints cA) */
  | 'CA_NOT_A_CA'
  /** a bad setting (TTL, trust domain, key algorithm) */
  | 'CA_BAD_SETTING'
  /** the CSR cannot be parsed, its signature is wrong or its key is too weak */
  | 'CSR_INVALID'
  /** the requested certificate lifetime is above the maximum */
  | 'TTL_TOO_LONG'
  /** no credential, or a credential that does not prove an identity */
  | 'UNAUTHENTICATED'
  /** the caller is known but may not do this */
  | 'PERMISSION_DENIED'
  /** a request (e.g. a token mint) with a bad field */
  | 'INVALID_REQUEST';

export class SecurityError extends Error {
  constructor(readonly code: SecurityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecurityError';
  }
}
