/**
 * What the HTTP/1.1 server codec reports when the bytes of a request are not HTTP it will carry:
 * llhttp's HPE_* codes (smuggling shapes, bad chunk syntax, header overflow) and Clew's own
 * CLEW_HTTP1_* checks (missing Host, version, header count, slow head). Shared by the codec,
 * the response (which passes a body error to its stream) and the HCM (which answers it).
 */
export interface CodecError {
  /** llhttp's HPE_* code or a CLEW_HTTP1_* code */
  code: string;
  message: string;
}

/** Clew's own request-head checks, beside llhttp's HPE_* codes. */
export const CODEC_MISSING_HOST = 'CLEW_HTTP1_MISSING_HOST';
export const CODEC_HEADERS_TIMEOUT = 'CLEW_HTTP1_HEADERS_TIMEOUT';
/** a request line without a version (HTTP/0.9) */
export const CODEC_HTTP09 = 'CLEW_HTTP1_HTTP09';
/** a version other than HTTP/1.x (`HTTP/2.0` on the HTTP/1 codec) */
export const CODEC_BAD_VERSION = 'CLEW_HTTP1_BAD_VERSION';
/** more header fields than max_headers_count */
export const CODEC_TOO_MANY_HEADERS = 'CLEW_HTTP1_TOO_MANY_HEADERS';
/** Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1: faulty framing) */
export const CODEC_TE_IN_HTTP10 = 'CLEW_HTTP1_TE_IN_HTTP10';
/** a transfer coding other than `chunked`, or any on CONNECT (Envoy: 501) */
export const CODEC_UNSUPPORTED_TE = 'CLEW_HTTP1_UNSUPPORTED_TE';

/**
 * The status a codec error is answered with (Envoy's): header overflow and too many fields 431,
 * a transfer coding it does not implement 501, a head that took too long 408, anything else 400.
 */
export function codecErrorStatus(code: string): number {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
    case CODEC_TOO_MANY_HEADERS:
      return 431;
    case CODEC_UNSUPPORTED_TE:
      return 501;
    case CODEC_HEADERS_TIMEOUT:
      return 408;
    default:
      return 400;
  }
}

/** %RESPONSE_CODE_DETAILS% of a codec error (Envoy's http1.* strings where it has one) */
export function codecErrorDetails(code: string): string {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'http1.headers_too_large';
    case CODEC_TOO_MANY_HEADERS:
      return 'http1.too_many_headers';
    case CODEC_UNSUPPORTED_TE:
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return 'http1.invalid_transfer_encoding';
    case CODEC_HEADERS_TIMEOUT:
      return 'request_header_timeout';
    default:
      return 'http1.codec_error';
  }
}
