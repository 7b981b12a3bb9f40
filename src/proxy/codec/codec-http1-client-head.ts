/**
 * HTTP/1.1 client codec, the text of a request head and the response header block:
 * - the request head is one latin1 string (written in one socket write), framing headers
 *   (content-length, transfer-encoding, connection) decided here from the body, never copied;
 * - llhttp's flat [name, value, ...] header arrays become a lower-case header object.
 * Header values are not validated: they come from llhttp-parsed downstream requests or
 * validated config.
 */
import type { InHeaders, OutHeaders } from '../core/pool.js';
import { lowerHeaderName } from './header-names.js';

/** How the request body is framed on the wire. */
export const enum BodyFraming {
  /** no body: content-length: 0 when the method carries a payload or the caller sent one */
  None,
  /** a Buffer: content-length from its length */
  Length,
  /** a stream with the caller's content-length: bytes as they come */
  Raw,
  /** a stream without content-length: chunked transfer coding */
  Chunked,
}

/** methods whose requests carry a payload by definition (undici and node send content-length: 0 for them) */
function expectsPayload(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

/**
 * `METHOD path HTTP/1.1\r\n` + headers + framing + blank line. `length` is the body length for
 * BodyFraming.Length; `close` adds `connection: close` (the connection's last request).
 */
export function encodeRequestHead(method: string, path: string, authority: string, h: OutHeaders, framing: BodyFraming, length: number, close: boolean): string {
  let s = method + ' ' + path + ' HTTP/1.1\r\n';
  let hadLength = false;
  let hasHost = false;
  for (const k in h) {
    const v = h[k];
    if (v === undefined || k.charCodeAt(0) === 58 /* ':' pseudo header of an HTTP/2 request */) continue;
    if (k === 'content-length') {
      hadLength = true;
      if (framing !== BodyFraming.Raw) continue;
    } else if (k === 'transfer-encoding' || k === 'connection') continue;
    else if (k === 'host') hasHost = true;
    if (typeof v === 'string') s += k + ': ' + v + '\r\n';
    else for (let i = 0; i < v.length; i++) s += k + ': ' + v[i] + '\r\n';
  }
  if (!hasHost) s += 'host: ' + authority + '\r\n';
  if (framing === BodyFraming.Length) s += 'content-length: ' + length + '\r\n';
  else if (framing === BodyFraming.Chunked) s += 'transfer-encoding: chunked\r\n';
  else if (framing === BodyFraming.None && (hadLength || expectsPayload(method))) s += 'content-length: 0\r\n';
  if (close) s += 'connection: close\r\n';
  return s + '\r\n';
}

/** [name, value, ...] -> lower-case names, repeated names as arrays; `__proto__` is dropped. */
export function decodeHeaders(raw: readonly string[] | null | undefined, out: InHeaders): InHeaders {
  if (!raw) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = lowerHeaderName(raw[i]);
    if (k === '__proto__') continue;
    const v = raw[i + 1];
    // own fields only: `constructor` or `toString` from an upstream is a field, not Object's member
    const cur = Object.hasOwn(out, k) ? out[k] : undefined;
    if (cur === undefined) out[k] = v;
    else if (typeof cur === 'string') out[k] = [cur, v];
    else cur.push(v);
  }
  return out;
}

/** the hex size line of one chunk */
export function chunkHeader(length: number): string {
  return length.toString(16) + '\r\n';
}
