/** Errors of local mode (`clew run`, `clew demo`), with stable codes the CLI can map. */
export type LocalErrorCode =
  | 'CLEW_LOCAL_NO_ADDRESS'
  | 'CLEW_LOCAL_NO_PORT'
  | 'CLEW_LOCAL_UNSUPPORTED'
  | 'CLEW_LOCAL_PORT_IN_USE'
  | 'CLEW_LOCAL_READY_TIMEOUT'
  | 'CLEW_LOCAL_CHILD_EXITED'
  | 'CLEW_LOCAL_DEMO_RUNNING'
  | 'CLEW_LOCAL_DEMO_NOT_RUNNING'
  | 'CLEW_LOCAL_SAMPLES_MISSING'
  | 'CLEW_LOCAL_BAD_ARGUMENT'
  /** network-namespace mode: a topology command failed, or it needs root */
  | 'CLEW_LOCAL_NETNS'
  /** the control plane did not give a pod its credentials (token, root certificate) */
  | 'CLEW_LOCAL_CREDENTIALS';

export class LocalError extends Error {
  constructor(readonly code: LocalErrorCode, message: string) {
    super(message);
    this.name = 'LocalError';
  }
}
