/**
 * A unary gRPC call over a cluster's own HTTP/2 pool, for hosts whose transport is TLS (a service
 * in the mesh, behind its sidecar: mTLS with the workload certificate, Istio's ALPN `istio-h2`),
 * where the plaintext @grpc/grpc-js channel cannot go. One length-prefixed request message,
 * `grpc-timeout`, the response message and grpc-status from the trailers (or a trailers-only
 * answer). Used by grpc-unary-client.ts (ext_authz Check, rate limit ShouldRateLimit).
 */
import type { InHeaders, UpstreamControl, UpstreamHandler } from '../core/pool.js';
import type { Cluster } from '../upstream/cluster.js';
import type { Host } from '../upstream/host.js';

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
  let finished = false;
  let control: UpstreamControl | undefined;
  const finish = (a: UnaryAnswer): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    done(a);
  };
  const timer = setTimeout(() => {
    finish({ status: undefined, message: undefined, error: `DEADLINE_EXCEEDED: no answer within ${timeoutMs} ms` });
    control?.abort();
  }, timeoutMs);
  let headers: InHeaders = {};
  let httpStatus = 0;
  const chunks: Buffer[] = [];
  let size = 0;
  const handler: UpstreamHandler = {
    onHeaders(s, h) {
      httpStatus = s;
      headers = h;
    },
    onData(c) {
      size += c.length;
      if (size > MAX_RESPONSE) {
        finish({ status: undefined, message: undefined, error: 'response larger than 1 MiB' });
        control?.abort();
        return true;
      }
      chunks.push(c);
      return true;
    },
    onEnd(trailers) {
      if (httpStatus !== 200) return finish({ status: undefined, message: undefined, error: `HTTP status ${httpStatus}` });
      const st = trailers?.['grpc-status'] ?? headers['grpc-status'];
      if (st === undefined) return finish({ status: undefined, message: undefined, error: 'no grpc-status' });
      const status = Number(st);
      const body = Buffer.concat(chunks);
      if (status !== 0) {
        const why = String(trailers?.['grpc-message'] ?? headers['grpc-message'] ?? '');
        return finish({ status, message: undefined, error: `grpc-status ${status}${why ? `: ${decodeURIComponent(why)}` : ''}` });
      }
      if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) {
        return finish({ status: undefined, message: undefined, error: 'bad gRPC response frame (compressed, truncated or several messages)' });
      }
      finish({ status: 0, message: body.subarray(5), error: undefined });
    },
    onError(err) {
      finish({ status: undefined, message: undefined, error: `${err.kind}: ${err.message}` });
    },
  };
  try {
    control = cluster.pool(host).send({
      alpn: ISTIO_H2_ALPN,
      method: 'POST',
      path,
      authority,
      headers: { 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m` },
      body: frame(message),
    }, handler);
  } catch (err) {
    finish({ status: undefined, message: undefined, error: (err as Error).message });
  }
  return () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    control?.abort();
  };
}
