/** Typed errors of the Kubernetes client (stable codes). */
export type KubeErrorCode = 'KUBE_CONFIG' | 'KUBE_API' | 'KUBE_TRANSPORT';

export class KubeError extends Error {
  constructor(
    readonly code: KubeErrorCode,
    message: string,
    /** HTTP status of an API answer (0: none) */
    readonly status = 0,
    /** the Status object's `reason` (NotFound, AlreadyExists, Conflict, Expired, Gone, ...) */
    readonly reason = '',
  ) {
    super(message);
    this.name = 'KubeError';
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeError && err.status === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof KubeError && err.status === 409;
}

/** 410 Gone / reason Expired: the resourceVersion is older than what the server keeps. */
export function isGone(err: unknown): boolean {
  return err instanceof KubeError && (err.status === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}
