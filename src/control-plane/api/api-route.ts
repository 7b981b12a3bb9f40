/**
 * One endpoint of the control plane's HTTP API: method, path (exact or a pattern), and a handler
 * that returns the reply as a value (status, body, content type). The server (debug-server.ts)
 * does the HTTP around it: the Host check for every request, `authorizeWrite` before any
 * non-GET handler runs, body reading, serialisation and errors.
 */
export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** groups of a pattern route's match, URI-decoded */
  params: string[];
  /** the request body (writes only; at most 8 MiB) */
  body(): Promise<string>;
  /** the body's bytes, refused past `limit` bytes (BodyTooLargeError, nothing more is read) */
  rawBody(limit: number): Promise<Buffer>;
  /** a request header (lower-case name), several values joined by `, ` */
  header(name: string): string | undefined;
}

export class BodyTooLargeError extends Error {
  readonly code = 'CLEW_API_BODY_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

export interface ApiReply {
  status: number;
  /** a string is sent as is; anything else as indented JSON */
  body: unknown;
  /** default application/json */
  type?: string;
  headers?: Record<string, string>;
}

export interface ApiRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** an exact path, or a pattern whose groups become `params` */
  path: string | RegExp;
  /** how the 404 answer lists it, e.g. `/debug/config_dump?proxyID=` */
  doc: string;
  /**
   * A POST open to writers without the admin token (span reporters: sidecars have none): the Host
   * check still applies and the handler checks its own media type; everything else non-GET goes
   * through `authorizeWrite`.
   */
  ingest?: true;
  handle(req: ApiRequest): ApiReply | Promise<ApiReply>;
}

export function json(status: number, body: unknown): ApiReply {
  return { status, body };
}

export function text(status: number, body: string, type = 'text/plain'): ApiReply {
  return { status, body, type };
}
