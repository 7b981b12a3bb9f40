/** Typed errors of the proxy with stable codes. */
import { Re2, Re2SyntaxError } from '../../regex/regex-re2.js';

export class ProxyConfigError extends Error {
  readonly code = 'CLEW_PROXY_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ProxyConfigError';
  }
}

export function fail(message: string): never {
  throw new ProxyConfigError(message);
}

/** Compiles a safe_regex (RE2 syntax, linear-time matching) once; a bad pattern is a config error (NACK). */
export function compileRegex(regex: unknown, what = 'safe_regex'): Re2 {
  if (typeof regex !== 'string') fail(`${what} without regex`);
  try {
    return Re2.compile(regex);
  } catch (err) {
    if (err instanceof Re2SyntaxError) fail(`${what}: invalid regex ${JSON.stringify(regex)}: ${err.message}`);
    throw err;
  }
}
