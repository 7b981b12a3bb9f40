/**
 * Connection pool contract shared by the HTTP/1.1 (undici) and HTTP/2 (node:http2) pools.
 * Callback-based on purpose: no per-request Readable, promise or AbortController on the hot path.
 */
import type { Readable } from 'node:stream';
import type { UpstreamConnectionInfo } from './transport-socket.js';

/** headers to send; undefined values and ':'-prefixed (HTTP/2 pseudo) names are not sent */
export type OutHeaders = Record<string, string | string[] | undefined>;
export type InHeaders = Record<string, string | string[] | undefined>;

export interface UpstreamRequest {
  /** ALPN to offer on a new connection (Istio's istio.alpn); undefined = the transport's own */
  alpn?: readonly string[];
  method: string;
  path: string;
  authority: string;
  headers: OutHeaders;
  body: Buffer | Readable | null;
}

/** Receives one upstream response. onData returning false asks the pool to pause until resume(). */
export interface UpstreamHandler {
  /** what the connection's transport socket established (TLS: the peer's identity), before onHeaders */
  onConnectionInfo?(info: UpstreamConnectionInfo): void;
  onHeaders(status: number, headers: InHeaders, endStream: boolean): void;
  onData(chunk: Buffer): boolean;
  onEnd(trailers: InHeaders | undefined): void;
  onError(err: UpstreamError): void;
}

export interface UpstreamControl {
  abort(): void;
  resume(): void;
}

/** `protocol`: the upstream's bytes were not HTTP we accept (Envoy's protocol_error reset: flag UPE) */
export type UpstreamFailure = 'connect' | 'reset' | 'timeout' | 'refused' | 'aborted' | 'protocol';

export class UpstreamError extends Error {
  readonly code = 'CLEW_UPSTREAM';
  /** %UPSTREAM_TRANSPORT_FAILURE_REASON%: why the transport socket failed (TLS handshake, secrets) */
  transportFailureReason: string | undefined = undefined;
  constructor(readonly kind: UpstreamFailure, message: string) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export interface ConnPoolEvents {
  onConnect(): void;
  onDisconnect(): void;
  onConnectFail(): void;
}

export interface ConnPool {
  send(req: UpstreamRequest, handler: UpstreamHandler): UpstreamControl;
  close(): Promise<void>;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT', 'ECONNRESET_CONNECT']);

/** Maps socket / undici / http2 errors to Envoy's failure kinds. */
export function classifyError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  if (e.name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return new UpstreamError('aborted', 'aborted');
  if (CONNECT_CODES.has(code)) return new UpstreamError('connect', e.message ?? code);
  if (code === 'ERR_HTTP2_STREAM_ERROR' && /REFUSED_STREAM/.test(e.message ?? '')) return new UpstreamError('refused', e.message ?? code);
  if ((code === 'ERR_HTTP2_STREAM_ERROR' || code === 'ERR_HTTP2_ERROR' || code === 'ERR_HTTP2_SESSION_ERROR') && /PROTOCOL_ERROR|Protocol error/i.test(e.message ?? '')) {
    return new UpstreamError('protocol', e.message ?? code);
  }
  return new UpstreamError('reset', e.message ?? code);
}
