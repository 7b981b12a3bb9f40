/**
 * Authentication as a plug-in point (istiod's security/pkg/server/ca/authenticate): each
 * Authenticator looks at what a client presented (its `authorization` header, its TLS client
 * certificate) and either proves a Caller, says the credential is not its kind (undefined), or
 * throws SecurityError UNAUTHENTICATED for a credential of its kind that does not hold. The
 * chain tries them in order. Kubernetes TokenReview is a later Authenticator of the same shape.
 */
import { SecurityError } from '../security-errors.js';

/** Who a client proved to be. */
export interface Caller {
  /** which authenticator proved it (e.g. 'workload-token') */
  authenticator: string;
  namespace: string;
  serviceAccount: string;
  /** the pod the credential was minted for, when it names one */
  podName?: string;
  /** addresses the workload may register; undefined = the credential binds none */
  addresses?: string[];
  /** labels the workload may register with; undefined = the credential binds none */
  labels?: Record<string, string>;
  /** when the credential stops being valid (ms since epoch), if known */
  expiresAt?: number;
}

export interface AuthRequest {
  /** the `authorization` request header or gRPC metadata */
  authorization?: string;
  /** DER of a TLS client certificate */
  peerCertificate?: Buffer;
  /** gRPC metadata `clusterid` (Istio's agent sends it) */
  clusterId?: string;
}

export interface Authenticator {
  readonly name: string;
  /** undefined: not this authenticator's kind of credential */
  authenticate(req: AuthRequest): Promise<Caller | undefined>;
}

/** Bearer token of an `authorization` header value, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return m ? m[1] : undefined;
}

export class AuthenticatorChain implements Authenticator {
  readonly name = 'chain';

  constructor(private readonly authenticators: Authenticator[]) {}

  /** The first authenticator that recognizes the credential decides; none = anonymous (undefined). */
  async authenticate(req: AuthRequest): Promise<Caller | undefined> {
    const failures: string[] = [];
    for (const a of this.authenticators) {
      try {
        const caller = await a.authenticate(req);
        if (caller) return caller;
      } catch (err) {
        if (err instanceof SecurityError && err.code === 'UNAUTHENTICATED') {
          failures.push(`${a.name}: ${err.message}`);
          continue;
        }
        throw err;
      }
    }
    if (failures.length) throw new SecurityError('UNAUTHENTICATED', `authentication failed: ${failures.join('; ')}`);
    if (req.authorization && !bearerToken(req.authorization)) {
      throw new SecurityError('UNAUTHENTICATED', 'authentication failed: the authorization header is not "Bearer <token>"');
    }
    return undefined;
  }
}
