/**
 * HTTP/2 downstream requests on node:http2's stream API (not the compat layer: no
 * Http2ServerRequest/Response, Readable and Writable wrappers per request). H2Request carries the
 * request headers (pseudo-headers included) and the stream as the body; H2Response gives the
 * ServerHttp2Stream the response surface the HCM and filters use.
 */
import type * as http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { HeaderMap } from '../router/header-ops.js';

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

function sendTrailers(this: http2.ServerHttp2Stream, res: H2Response): void {
  if (!this.destroyed) this.sendTrailers((res.trailers ?? {}) as http2.OutgoingHttpHeaders);
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

  /** HEADERS; the stream waits for trailers after the body so upstream trailers (gRPC status) can follow */
  writeHead(status: number, headers?: Record<string, OutValue>): this {
    const s = this.stream;
    if (s.headersSent || s.destroyed) return this;
    const out: http2.OutgoingHttpHeaders = { ':status': status };
    if (headers) for (const k in headers) if (headers[k] !== undefined && k !== 'host') out[k] = headers[k] as string;
    s.respond(out, { waitForTrailers: true });
    s.once('wantTrailers', () => sendTrailers.call(s, this));
    return this;
  }

  /** a response that is only HEADERS with END_STREAM (trailers-only gRPC, header-only replies) */
  respondOnly(status: number, headers: Record<string, OutValue>): void {
    const s = this.stream;
    if (s.headersSent || s.destroyed) return;
    const out: http2.OutgoingHttpHeaders = { ':status': status };
    for (const k in headers) if (headers[k] !== undefined && k !== 'host') out[k] = headers[k] as string;
    this.ended = true;
    s.respond(out, { endStream: true });
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
