/** Exit codes scripts can trust (istioctl-like). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error that carries its exit code and a stable code string. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_FAILURE, readonly code = 'CLEW_CLI') {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE, 'CLEW_USAGE');
    this.name = 'UsageError';
  }
}
