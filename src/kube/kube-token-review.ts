/**
 * The Kubernetes Authenticator (istiod's KubeJWTAuthenticator): a bearer token is sent to the API
 * server's TokenReview with the audience `istio-ca`; an authenticated service-account token
 * (`system:serviceaccount:<ns>:<sa>`) proves that namespace and service account, and, when it is
 * bound to a pod (projected token), that pod's name and IP addresses (read from the API server),
 * so a sidecar can only register its own pod. A token the API server does not authenticate, of
 * another audience, or of a user that is not a service account is refused (UNAUTHENTICATED).
 */
import { bearerToken, type Authenticator, type AuthRequest, type Caller } from '../security/auth/authenticator.js';
import { SecurityError } from '../security/security-errors.js';
import type { KubeClient, KubeObject } from './kube-client.js';
import { isNotFound } from './kube-errors.js';

export const ISTIO_CA_AUDIENCE = 'istio-ca';
const SA_PREFIX = 'system:serviceaccount:';
const POD_NAME = 'authentication.kubernetes.io/pod-name';
const POD_UID = 'authentication.kubernetes.io/pod-uid';

/** `exp` of a JWT the API server has already verified (undefined if it has none). */
function expiry(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export class KubeTokenReviewAuthenticator implements Authenticator {
  readonly name = 'kubernetes-token-review';

  constructor(private readonly client: KubeClient, private readonly audience = ISTIO_CA_AUDIENCE) {}

  async authenticate(req: AuthRequest): Promise<Caller | undefined> {
    const token = bearerToken(req.authorization);
    // only JWTs are service-account tokens
    if (!token || token.split('.').length !== 3) return undefined;
    let review: any;
    try {
      review = await this.client.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.audience] },
      });
    } catch (err) {
      // fail closed: no certificate without an answer (the caller retries)
      throw new SecurityError('UNAUTHENTICATED', `TokenReview: the API server could not be asked: ${(err as Error).message}`);
    }
    const st = review?.status ?? {};
    if (st.authenticated !== true) throw new SecurityError('UNAUTHENTICATED', `TokenReview: not authenticated${st.error ? `: ${st.error}` : ''}`);
    if (Array.isArray(st.audiences) && !st.audiences.includes(this.audience)) {
      throw new SecurityError('UNAUTHENTICATED', `TokenReview: the token is not for audience ${this.audience}`);
    }
    const username: string = st.user?.username ?? '';
    if (!username.startsWith(SA_PREFIX)) throw new SecurityError('UNAUTHENTICATED', `TokenReview: ${username || 'the user'} is not a service account`);
    const [namespace, serviceAccount, ...rest] = username.slice(SA_PREFIX.length).split(':');
    if (!namespace || !serviceAccount || rest.length) throw new SecurityError('UNAUTHENTICATED', `TokenReview: malformed service account user ${username}`);
    const caller: Caller = { authenticator: this.name, namespace, serviceAccount };
    const exp = expiry(token);
    if (exp !== undefined) caller.expiresAt = exp;
    const podName = st.user?.extra?.[POD_NAME]?.[0];
    if (podName) {
      caller.podName = podName;
      let pod: KubeObject | undefined;
      try {
        pod = await this.client.get<KubeObject>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(podName)}`);
      } catch (err) {
        if (!isNotFound(err)) throw new SecurityError('UNAUTHENTICATED', `TokenReview: reading pod ${namespace}/${podName}: ${(err as Error).message}`);
      }
      const uid = st.user?.extra?.[POD_UID]?.[0];
      if (!pod || (uid && pod.metadata.uid !== uid)) throw new SecurityError('UNAUTHENTICATED', `TokenReview: the token's pod ${namespace}/${podName} no longer exists`);
      const ips = [...new Set([pod.status?.podIP, ...((pod.status?.podIPs ?? []) as { ip?: string }[]).map((p) => p.ip)].filter((ip): ip is string => !!ip))];
      caller.addresses = ips;
    }
    return caller;
  }
}
