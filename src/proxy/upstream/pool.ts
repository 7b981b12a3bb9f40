/** Connection pool contract shared by the HTTP/1.1 (undici) and HTTP/2 (node:http2) pools. */
import type { Readable } from 'node:stream';

export type OutHeaders = Record<string, string | string[]>;

export interface UpstreamRequest {
  method: string;
  path: string;
  authority: string;
  headers: OutHeaders;
  body: Buffer | Readable | null;
  signal: AbortSignal | undefined;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** filled in when the body has ended */
  trailers: Record<string, string | string[] | undefined>;
  /** true when the upstream ended the stream with the headers (gRPC trailers-only) */
  endedWithHeaders: boolean;
}

export type UpstreamFailure = 'connect' | 'reset' | 'timeout' | 'refused' | 'aborted';

export class UpstreamError extends Error {
  readonly code = 'CLEW_UPSTREAM';
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
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** Maps socket / undici / http2 errors to Envoy's failure kinds. */
export function classifyError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  if (e.name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return new UpstreamError('aborted', 'aborted');
  if (CONNECT_CODES.has(code)) return new UpstreamError('connect', e.message ?? code);
  if (code === 'ERR_HTTP2_STREAM_ERROR' && /REFUSED_STREAM/.test(e.message ?? '')) return new UpstreamError('refused', e.message ?? code);
  return new UpstreamError('reset', e.message ?? code);
}
