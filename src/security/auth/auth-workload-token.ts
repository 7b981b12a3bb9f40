/** The Authenticator for workload tokens (`authorization: Bearer <JWT>` signed by this control plane). */
import { bearerToken, type Authenticator, type AuthRequest, type Caller } from './authenticator.js';
import type { WorkloadTokens } from './workload-tokens.js';

export class WorkloadTokenAuthenticator implements Authenticator {
  readonly name = 'workload-token';

  constructor(private readonly tokens: WorkloadTokens) {}

  async authenticate(req: AuthRequest): Promise<Caller | undefined> {
    const token = bearerToken(req.authorization);
    if (!token) return undefined;
    return this.tokens.verify(token);
  }
}
