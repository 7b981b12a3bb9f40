/**
 * One request a filter makes on its own behalf (an ext_authz check, a gRPC side call) through a
 * cluster's own pool, so the host's transport socket (mTLS to a meshed service) applies: a
 * deadline, a bounded response body, exactly one answer, and a cancel for the stream that goes
 * away first. The caller turns the outcome into its own result and messages.
 */
import type { InHeaders, UpstreamControl, UpstreamHandler, UpstreamRequest } from '../core/pool.js';
import type { Cluster } from './cluster.js';
import type { ClusterSlot } from './cluster-slot.js';
import type { Host } from './host.js';

/**
 * A cluster and a healthy host of it, or why a side call to it cannot start (ext_authz's HTTP client,
 * the gRPC side-call client).
 */
export function sideCallHost(slot: ClusterSlot, clusterName: string): { cluster: Cluster; host: Host } | { error: string } {
  const cluster = slot.cluster;
  if (cluster === undefined) return { error: `cluster ${clusterName} is not known to this proxy` };
  const host = cluster.chooseHost(undefined);
  if (host === undefined) return { error: `no healthy host in cluster ${clusterName}` };
  return { cluster, host };
}

export interface SideCallResponse {
  status: number;
  headers: InHeaders;
  trailers: InHeaders | undefined;
  /** the body, at most `maxBody` bytes (`overLimit: 'truncate'` cuts the rest) */
  body: Buffer;
}

export type SideCallOutcome =
  | { kind: 'response'; response: SideCallResponse }
  /** no complete answer within the deadline (the stream is aborted) */
  | { kind: 'timeout' }
  /** the body passed `maxBody` with `overLimit: 'fail'` (the stream is aborted) */
  | { kind: 'too-large' }
  /** the pool or the stream failed: connect, reset, protocol... (message: `<kind>: <why>`) */
  | { kind: 'error'; message: string };

export interface SideCallOptions {
  timeoutMs: number;
  maxBody: number;
  /** past maxBody: keep the first maxBody bytes, or fail the call */
  overLimit: 'truncate' | 'fail';
}

export function sideCall(cluster: Cluster, host: Host, req: UpstreamRequest, o: SideCallOptions, done: (outcome: SideCallOutcome) => void): () => void {
  let finished = false;
  let control: UpstreamControl | undefined;
  const finish = (outcome: SideCallOutcome): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    done(outcome);
  };
  const timer = setTimeout(() => {
    finish({ kind: 'timeout' });
    control?.abort();
  }, o.timeoutMs);
  let status = 0;
  let headers: InHeaders = {};
  const chunks: Buffer[] = [];
  let size = 0;
  const handler: UpstreamHandler = {
    onHeaders(s, h) {
      status = s;
      headers = h;
    },
    onData(c) {
      if (o.overLimit === 'fail' && size + c.length > o.maxBody) {
        size += c.length;
        finish({ kind: 'too-large' });
        control?.abort();
        return true;
      }
      if (size < o.maxBody) chunks.push(c);
      size += c.length;
      return true;
    },
    onEnd(trailers) {
      const all = Buffer.concat(chunks);
      finish({ kind: 'response', response: { status, headers, trailers, body: all.length > o.maxBody ? all.subarray(0, o.maxBody) : all } });
    },
    onError(err) {
      finish({ kind: 'error', message: `${err.kind}: ${err.message}` });
    },
  };
  try {
    control = cluster.pool(host).send(req, handler);
  } catch (err) {
    finish({ kind: 'error', message: (err as Error).message });
  }
  return () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    control?.abort();
  };
}
