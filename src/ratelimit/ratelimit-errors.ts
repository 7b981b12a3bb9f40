/** Errors of the rate limit service, with stable codes (config files, Redis, the listen address). */
export type RateLimitErrorCode = 'CLEW_RATELIMIT_CONFIG' | 'CLEW_RATELIMIT_REDIS' | 'CLEW_RATELIMIT_LISTEN';

export class RateLimitServiceError extends Error {
  constructor(message: string, readonly code: RateLimitErrorCode) {
    super(message);
    this.name = 'RateLimitServiceError';
  }
}

/** A config file that cannot be used: names the file and the field. */
export class RateLimitConfigError extends RateLimitServiceError {
  constructor(readonly file: string, readonly field: string, reason: string) {
    super(`${file}: ${field}: ${reason}`, 'CLEW_RATELIMIT_CONFIG');
    this.name = 'RateLimitConfigError';
  }
}
