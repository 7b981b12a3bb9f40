/** Errors of transparent capture (`clew iptables`, netns pods), with stable codes the CLI maps. */
export type CaptureErrorCode =
  /** a flag or option value is invalid (usage error) */
  | 'CLEW_CAPTURE_BAD_OPTION'
  /** iptables binaries missing, or a backend that does not work here */
  | 'CLEW_CAPTURE_NO_IPTABLES'
  /** iptables-restore (or ip rule/route) refused the rules; nothing was left applied */
  | 'CLEW_CAPTURE_APPLY_FAILED'
  /** removing the rules failed */
  | 'CLEW_CAPTURE_CLEAN_FAILED'
  /** needs root (CAP_NET_ADMIN) */
  | 'CLEW_CAPTURE_NOT_ROOT';

export class CaptureError extends Error {
  constructor(readonly code: CaptureErrorCode, message: string) {
    super(message);
    this.name = 'CaptureError';
  }
}
