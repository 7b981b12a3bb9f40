/**
 * `istio.v1.auth.IstioCertificateService/CreateCertificate` (istiod's security/pkg/server/ca):
 * authenticate the caller, build its SPIFFE identity from who it is (never from the CSR), sign,
 * answer the chain leaf first and root last. Failures: no or bad credential → UNAUTHENTICATED,
 * `ImpersonatedIdentity` (no trusted node accounts here) → UNAUTHENTICATED, a bad CSR or a TTL
 * above the maximum → INVALID_ARGUMENT.
 */
import * as grpc from '@grpc/grpc-js';
import type { Authenticator, Caller } from '../auth/authenticator.js';
import type { CertificateAuthority, IssuedCertificate } from '../ca/certificate-authority.js';
import { SecurityError } from '../security-errors.js';
import { spiffeId } from '../spiffe.js';
import type { IstioCertificateRequest, IstioCertificateResponse } from './istio-ca-messages.js';

export interface CaServiceOptions {
  ca: CertificateAuthority;
  authenticator: Authenticator;
  /** MeshConfig trustDomain at the time of the request */
  trustDomain: () => string;
  log?: (line: string) => void;
  /** called after each answer, for metrics */
  onResult?: (result: 'issued' | 'unauthenticated' | 'invalid' | 'error', caller?: Caller, issued?: IssuedCertificate) => void;
}

function metadataValue(md: grpc.Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('utf8');
}

function peerCertificateOf(call: grpc.ServerUnaryCall<unknown, unknown>): Buffer | undefined {
  try {
    const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
    return raw && raw.length > 0 ? raw : undefined;
  } catch {
    return undefined;
  }
}

export function createCertificateHandler(o: CaServiceOptions): grpc.handleUnaryCall<IstioCertificateRequest, IstioCertificateResponse> {
  const log = o.log ?? (() => {});
  return (call, callback) => {
    const fail = (code: grpc.status, message: string, result: 'unauthenticated' | 'invalid' | 'error', caller?: Caller): void => {
      log(`CA: CreateCertificate from ${call.getPeer()}${caller ? ` (${caller.namespace}/${caller.serviceAccount})` : ''} refused: ${message}`);
      o.onResult?.(result, caller);
      callback({ code, details: message, message } as grpc.ServiceError, null);
    };
    void (async () => {
      let caller: Caller | undefined;
      try {
        caller = await o.authenticator.authenticate({
          authorization: metadataValue(call.metadata, 'authorization'),
          clusterId: metadataValue(call.metadata, 'clusterid'),
          peerCertificate: peerCertificateOf(call),
        });
      } catch (err) {
        if (err instanceof SecurityError) return fail(grpc.status.UNAUTHENTICATED, err.message, 'unauthenticated');
        return fail(grpc.status.INTERNAL, `authentication error: ${(err as Error).message}`, 'error');
      }
      if (!caller) return fail(grpc.status.UNAUTHENTICATED, 'no credential: send authorization: Bearer <workload token>', 'unauthenticated');
      const req = call.request;
      if (req.metadata?.ImpersonatedIdentity !== undefined) {
        return fail(grpc.status.UNAUTHENTICATED, 'ImpersonatedIdentity is not allowed for this caller (no trusted node accounts)', 'unauthenticated', caller);
      }
      const identity = spiffeId({ trustDomain: o.trustDomain(), namespace: caller.namespace, serviceAccount: caller.serviceAccount });
      try {
        const issued = await o.ca.signCsr(req.csr, [identity], req.validityDuration);
        log(`CA: issued ${identity} serial ${issued.serialNumber} until ${issued.notAfter.toISOString()}${caller.podName ? ` to pod ${caller.podName}` : ''}`);
        o.onResult?.('issued', caller, issued);
        callback(null, { certChain: issued.chainPem });
      } catch (err) {
        if (err instanceof SecurityError && (err.code === 'CSR_INVALID' || err.code === 'TTL_TOO_LONG')) {
          return fail(grpc.status.INVALID_ARGUMENT, err.message, 'invalid', caller);
        }
        return fail(grpc.status.INTERNAL, `signing failed: ${(err as Error).message}`, 'error', caller);
      }
    })();
  };
}
