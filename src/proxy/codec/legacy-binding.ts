/**
 * Node's legacy `process.binding()` modules that Clew's codecs use directly: `http_parser`
 * (llhttp, the parser under node:http) and `stream_wrap` (the WriteWrap requests and shared
 * state behind net.Socket writes). Both are on Node's allow-list of legacy bindings; reading one
 * prints DEP0111 once, which is silenced here. The engines field pins Node 20, whose binding
 * surface these modules are written against.
 */

export function legacyBinding<T>(name: 'http_parser' | 'stream_wrap'): T {
  const emit = process.emitWarning;
  process.emitWarning = (() => undefined) as typeof process.emitWarning;
  try {
    return (process as unknown as { binding(name: string): T }).binding(name);
  } finally {
    process.emitWarning = emit;
  }
}
