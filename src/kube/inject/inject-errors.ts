/** Injection's typed error: a pod (template) that cannot be injected as written. */
export class InjectError extends Error {
  readonly code = 'INJECT_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'InjectError';
  }
}
