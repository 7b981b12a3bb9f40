/**
 * A unary gRPC call over a cluster's own HTTP/2 pool, for hosts whose transport is TLS (a service
 * in the mesh, behind its sidecar: mTLS with the workload certificate, Istio's ALPN `istio-h2`),
 * where the plaintext @grpc/grpc-js channel cannot go. One length-prefixed request message,
 * `grpc-timeout`, the response message and grpc-status from the trailers (or a trailers-only
 * answer), sent as a side call (upstream/side-call.ts: deadline, 1 MiB response bound). Used by grpc-unary-client.ts (ext_authz Check, rate limit ShouldRateLimit).
 */
import type { Cluster } from '../upstream/cluster.js';
import type { Host } from '../upstream/host.js';
import { sideCall, type SideCallOutcome } from '../upstream/side-call.js';

/** Istio's ALPN for HTTP/2 over mTLS (istio.alpn), which the server sidecar's mTLS chain expects */
const ISTIO_H2_ALPN = ['istio-h2', 'istio'] as const;
const MAX_RESPONSE = 1024 * 1024;

export interface UnaryAnswer {
  /** grpc-status (0 = OK), or undefined when the call failed before one arrived */
  status: number | undefined;
  message: Buffer | undefined;
  error: string | undefined;
}

export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export function unaryOverPool(cluster: Cluster, host: Host, path: string, authority: string, message: Uint8Array, timeoutMs: number, done: (a: UnaryAnswer) => void): () => void {
  const req = {
    alpn: ISTIO_H2_ALPN,
    method: 'POST',
    path,
    authority,
    headers: { 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m` },
    body: frame(message),
  };
  return sideCall(cluster, host, req, { timeoutMs, maxBody: MAX_RESPONSE, overLimit: 'fail' }, (o) => done(unaryAnswer(o, timeoutMs)));
}

/** A side call's outcome as a unary gRPC answer: grpc-status from the trailers (or a trailers-only answer), one message. */
function unaryAnswer(o: SideCallOutcome, timeoutMs: number): UnaryAnswer {
  const failed = (error: string): UnaryAnswer => ({ status: undefined, message: undefined, error });
  if (o.kind === 'timeout') return failed(`DEADLINE_EXCEEDED: no answer within ${timeoutMs} ms`);
  if (o.kind === 'too-large') return failed('response larger than 1 MiB');
  if (o.kind === 'error') return failed(o.message);
  const { status: httpStatus, headers, trailers, body } = o.response;
  if (httpStatus !== 200) return failed(`HTTP status ${httpStatus}`);
  const st = trailers?.['grpc-status'] ?? headers['grpc-status'];
  if (st === undefined) return failed('no grpc-status');
  const status = Number(st);
  if (status !== 0) {
    const why = String(trailers?.['grpc-message'] ?? headers['grpc-message'] ?? '');
    return { status, message: undefined, error: `grpc-status ${status}${why ? `: ${decodeURIComponent(why)}` : ''}` };
  }
  if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) {
    return failed('bad gRPC response frame (compressed, truncated or several messages)');
  }
  return { status: 0, message: body.subarray(5), error: undefined };
}
