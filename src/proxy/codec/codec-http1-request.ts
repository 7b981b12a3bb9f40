/**
 * A downstream HTTP/1.x request as Clew's HTTP/1.1 server codec delivers it: method, target and a
 * lower-case header object built once from llhttp's flat list, and (only when the request has a
 * body) a Readable that the router streams or buffers. No IncomingMessage per request.
 */
import { Readable, type Duplex } from 'node:stream';
import type { HeaderMap } from '../core/header-map.js';
import { lowerHeaderName } from './header-names.js';

/** Names whose repeats node:http drops (a second Host or Content-Length must not win silently). */
const SINGLE = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);

/** llhttp's [name, value, ...] -> lower-case names; repeats join with ", " ("; " for cookie), set-cookie stays a list. */
export function headersFromRaw(raw: string[]): HeaderMap {
  const h: HeaderMap = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = lowerHeaderName(raw[i]);
    // a field named like an Object.prototype member (constructor, toString) is a field like any
    // other; __proto__ cannot be one on a plain object and is dropped (found by the codec fuzz target)
    if (k === '__proto__') continue;
    const v = raw[i + 1];
    const cur = Object.hasOwn(h, k) ? h[k] : undefined;
    if (cur === undefined) h[k] = k === 'set-cookie' ? [v] : v;
    else if (k === 'set-cookie') (cur as string[]).push(v);
    else if (!SINGLE.has(k)) h[k] = k === 'cookie' ? `${cur as string}; ${v}` : `${cur as string}, ${v}`;
  }
  return h;
}

/**
 * The request body: pushed by the codec, paused at the socket when the reader falls behind.
 * It never emits 'error': a body the codec cannot finish (a malformed chunk, the connection
 * gone) is destroyed without an error, so its readers see 'close' without 'end' (an aborted
 * body), and the codec tells the request's stream why through its response. A body with no
 * reader yet (a request still in its filters, waiting for a connection, or answered locally)
 * therefore cannot take the process down with an unhandled 'error'.
 */
export class H1RequestBody extends Readable {
  /** the response ended before the body was read: drop the rest so the connection can go on */
  discarding = false;
  constructor(private readonly socket: Duplex) {
    super();
  }
  override _read(): void {
    this.socket.resume();
  }
  /** from the codec; false: the socket was paused */
  deliver(chunk: Buffer): void {
    if (this.discarding) return;
    if (!this.push(chunk)) this.socket.pause();
  }
  discard(): void {
    this.discarding = true;
    this.socket.resume();
  }
  /** the rest of the body will never come: readers see 'close' without 'end' */
  abort(): void {
    if (!this.destroyed) this.destroy();
  }
}

export class H1Request {
  readonly httpVersionMajor = 1;
  /** request body (null: none) */
  body: H1RequestBody | null = null;
  /** the codec saw the end of this request's message */
  complete = false;
  /** Expect: 100-continue on a pipelined request: answered when it becomes the active one */
  expectContinue = false;
  /**
   * An Upgrade request (`Connection: upgrade` + `Upgrade: <type>`, h2c excepted): the upgrade
   * type, lower-case. No body is parsed; the bytes after the head wait (upgradeHead) until the
   * stream switches protocols after an upstream 101 (H1Response.switchProtocols), or are dropped
   * when it answers anything else, after which the connection closes.
   */
  upgrade: string | undefined = undefined;
  /** bytes the client sent after an Upgrade request's head, held for the tunnel */
  upgradeHead: Buffer[] | undefined = undefined;

  constructor(
    readonly method: string,
    public url: string,
    readonly headers: HeaderMap,
    readonly httpVersionMinor: number,
    readonly socket: Duplex,
    /** llhttp's keep-alive verdict (version and Connection header) */
    readonly keepAlive: boolean,
  ) {}
}
