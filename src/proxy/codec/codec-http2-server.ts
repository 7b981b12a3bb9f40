/**
 * HTTP/2 downstream requests on node:http2's stream API (not the compat layer: no
 * Http2ServerRequest/Response, Readable and Writable wrappers per request). H2Request carries the
 * request headers (pseudo-headers included) and the stream as the body; H2Response gives the
 * ServerHttp2Stream the response surface the HCM and filters use.
 */
import * as http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { HeaderMap } from '../core/header-map.js';

export class H2Request {
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  readonly method: string;
  readonly url: string;

  constructor(readonly stream: http2.ServerHttp2Stream, readonly headers: HeaderMap) {
    this.method = (headers[':method'] as string | undefined) ?? 'GET';
    this.url = (headers[':path'] as string | undefined) ?? '/';
  }

  /** the request body: the stream itself, unless the request ended with its headers */
  get body(): http2.ServerHttp2Stream | null {
    return this.stream.endAfterHeaders ? null : this.stream;
  }

  /** the session's transport socket */
  get socket(): Duplex | undefined {
    return this.stream.session?.socket as Duplex | undefined;
  }
}

type OutValue = string | number | readonly string[] | undefined;

/** connection-specific fields HTTP/2 forbids (RFC 9113 8.2.2); node:http2 throws on them */
const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings']);
/** names node:http2 accepts only once (it throws on a list) */
const H2_SINGLE = new Set([
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method', 'age',
  'authorization', 'content-encoding', 'content-language', 'content-length', 'content-location', 'content-md5',
  'content-range', 'content-type', 'date', 'dnt', 'etag', 'expires', 'from', 'if-match', 'if-modified-since',
  'if-none-match', 'if-range', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'range', 'referer', 'retry-after', 'tk', 'upgrade-insecure-requests', 'user-agent',
  'x-content-type-options',
]);

/**
 * Header fields from an HTTP/1.1 upstream (or config) as node:http2 accepts them: no
 * connection-specific or pseudo fields, one value for single-value names (the first, as a
 * receiver of duplicates would keep), nothing undefined.
 */
function h2Fields(out: http2.OutgoingHttpHeaders, headers: Record<string, OutValue> | undefined): http2.OutgoingHttpHeaders {
  if (!headers) return out;
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || H2_FORBIDDEN.has(k) || k.charCodeAt(0) === 58 /* ':' */) continue;
    out[k] = typeof v !== 'string' && typeof v !== 'number' && H2_SINGLE.has(k) ? v[0] : (v as string);
  }
  return out;
}

function sendTrailers(this: http2.ServerHttp2Stream, res: H2Response): void {
  if (this.destroyed) return;
  try {
    this.sendTrailers(h2Fields({}, res.trailers));
  } catch {
    this.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }
}

export class H2Response {
  trailers: Record<string, OutValue> | undefined;
  private ended = false;

  constructor(readonly stream: http2.ServerHttp2Stream) {}

  get headersSent(): boolean {
    return this.stream.headersSent;
  }
  get writableEnded(): boolean {
    return this.ended || this.stream.writableEnded;
  }
  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }
  /** this side ended the response (Envoy counts it complete once its codec encoded the end) */
  get completed(): boolean {
    return this.ended;
  }

  /** HEADERS; the stream waits for trailers after the body so upstream trailers (gRPC status) can follow */
  writeHead(status: number, headers?: Record<string, OutValue>): this {
    const s = this.stream;
    if (s.headersSent || s.destroyed) return this;
    try {
      s.respond(h2Fields({ ':status': status }, headers), { waitForTrailers: true });
    } catch {
      // a field node:http2 still refuses: reset the stream rather than fail the process
      s.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      return this;
    }
    s.once('wantTrailers', () => sendTrailers.call(s, this));
    return this;
  }

  /** a response that is only HEADERS with END_STREAM (trailers-only gRPC, header-only replies) */
  respondOnly(status: number, headers: Record<string, OutValue>): void {
    const s = this.stream;
    if (s.headersSent || s.destroyed) return;
    this.ended = true;
    try {
      s.respond(h2Fields({ ':status': status }, headers), { endStream: true });
    } catch {
      s.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  }

  write(chunk: Buffer | string): boolean {
    if (!this.stream.headersSent) this.writeHead(200);
    return this.stream.destroyed ? true : this.stream.write(chunk);
  }

  addTrailers(trailers: Record<string, OutValue>): void {
    this.trailers = trailers;
  }

  end(chunk?: Buffer | string): this {
    if (this.ended) return this;
    if (!this.stream.headersSent) this.writeHead(200);
    this.ended = true;
    if (!this.stream.destroyed) {
      if (chunk !== undefined && chunk.length > 0) this.stream.end(chunk);
      else this.stream.end();
    }
    return this;
  }

  once(event: 'close' | 'drain', fn: () => void): this {
    this.stream.once(event, fn);
    return this;
  }
}

function ignore(): void {}

/** A 'stream' listener for an Http2Server that hands each request to `onRequest` as H2Request/H2Response. */
export function http2StreamListener(
  onRequest: (req: H2Request, res: H2Response) => void,
): (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void {
  return (stream, headers) => {
    // stream errors (RST from the peer, session teardown) end the stream; its 'close' reports them
    stream.on('error', ignore);
    onRequest(new H2Request(stream, headers as HeaderMap), new H2Response(stream));
  };
}
