/** Typed errors of the proxy with stable codes. */
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

/** Compiles an RE2-style regex (safe_regex) once; bad regex -> config error (NACK). */
export function compileRegex(regex: unknown, flags = ''): RegExp {
  if (typeof regex !== 'string') fail('safe_regex without regex');
  try {
    return new RegExp(`^(?:${regex})$`, flags);
  } catch (err) {
    fail(`invalid regex ${JSON.stringify(regex)}: ${(err as Error).message}`);
  }
}

export function compileSearchRegex(regex: unknown): RegExp {
  if (typeof regex !== 'string') fail('regex_rewrite without regex');
  try {
    return new RegExp(regex, 'g');
  } catch (err) {
    fail(`invalid regex ${JSON.stringify(regex)}: ${(err as Error).message}`);
  }
}
