/**
 * What a proxy accepts in the string fields of route configuration, as predicates shared by both
 * planes: the proxy checks each value when config arrives (a bad value is a NACK, see
 * proxy/router/header-ops.ts and the CORS filter) and the control plane's validation
 * (src/config) rejects the same values before they reach any proxy. One module, so the two can
 * never disagree: config that validates is config every proxy takes.
 */

/** RFC 9110 token: header names (compared lower-case, as the proxy lower-cases them). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** RFC 9110 field value as the HTTP/1.1 codecs write it: HTAB, visible ASCII, latin1; never CR, LF or NUL. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A path, host or scheme that goes into a request line or Location: no space or control character. */
const PATH_VALUE = /^[\x21-\x7e\x80-\xff]*$/;

/** A header name the proxy can add: a token (any case), or a pseudo-header `:token`. */
export function isHeaderName(name: string): boolean {
  const key = name.toLowerCase();
  return TOKEN.test(key) || (key.startsWith(':') && TOKEN.test(key.slice(1)));
}

/** A header value that cannot split an HTTP/1.1 message. */
export function isHeaderValue(value: string): boolean {
  return FIELD_VALUE.test(value);
}

/** A path, host or scheme for a request line or a Location header. */
export function isPathValue(value: string): boolean {
  return PATH_VALUE.test(value);
}

export const HEADER_NAME_RULE = 'must be an HTTP token (letters, digits and !#$%&\'*+-.^_`|~)';
export const HEADER_VALUE_RULE = 'value contains a control character (CR, LF or NUL)';
export const PATH_VALUE_RULE = 'value contains a space or a control character';

/**
 * The longest duration the proxy's timers take: Node's timers hold at most 2^31-1 ms (~24.8
 * days); a longer one fires after 1 ms. Envoy's own ceiling (protobuf Duration) is far higher,
 * but no Clew timeout, delay or interval needs more than this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
