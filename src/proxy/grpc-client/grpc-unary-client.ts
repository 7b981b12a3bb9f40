/**
 * Unary gRPC side calls from a filter to a service named by an Envoy `envoy_grpc` target (cluster,
 * authority, timeout): ext_authz's `Authorization/Check` and the rate limit filter's
 * `RateLimitService/ShouldRateLimit` both go through here, so both pick hosts, keep channels and
 * fail the same way.
 *
 * A host of the cluster is chosen by the cluster's balancer. A plaintext host is called with
 * @grpc/grpc-js (the call's deadline = the timeout, `:authority` = the target's authority).
 * Channels are kept per host and authority for the process (at most MAX_CHANNELS, the oldest
 * closed beyond, counted in clew.overflow.grpc_side_call_channels) with a short reconnect
 * backoff, so a server that comes back is used again within a second. A host whose cluster
 * transport is TLS (a service behind its sidecar: mTLS) is called through the cluster's own
 * HTTP/2 pool instead (grpc-pool-call.ts), which has the workload certificate and Istio's ALPN.
 * @grpc/grpc-js is imported when the first client is made, not at proxy start (a sidecar without
 * such a filter never loads it: test/cli/cli-lazy-commands).
 */
import type * as GrpcJs from '@grpc/grpc-js';
import { overflowCounter } from '../../stats/stats-overflow.js';
import type { Cluster } from '../upstream/cluster.js';
import type { ClusterSlot } from '../upstream/cluster-slot.js';
import type { Host } from '../upstream/host.js';
import { sideCallHost } from '../upstream/side-call.js';
import { unaryOverPool } from './grpc-pool-call.js';

/** Where the calls go: Envoy's GrpcService.envoy_grpc plus the call timeout. */
export interface GrpcTarget {
  cluster: string;
  /** :authority of the calls (Istio sets one: `|` is not valid in an authority) */
  authority: string;
  timeoutMs: number;
}

/** A call's outcome: the response message, or why there is none (unavailable, deadline, status, reset). */
export type UnaryResult = { ok: true; message: Buffer } | { ok: false; reason: string };

const MAX_CHANNELS = 256;
const CHANNELS_OVERFLOW = overflowCounter('grpc_side_call_channels');
const channels = new Map<string, GrpcJs.Client>();

let grpcLoading: Promise<typeof GrpcJs> | undefined;
let grpc: typeof GrpcJs | undefined;
/** Starts loading @grpc/grpc-js (once); `grpc` is set when it is in. */
function loadGrpc(): Promise<typeof GrpcJs> {
  grpcLoading ??= import('@grpc/grpc-js').then((m) => (grpc = m));
  return grpcLoading;
}

const CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.max_receive_message_length': 1024 * 1024,
};

function channelFor(grpc: typeof GrpcJs, address: string, port: number, authority: string): GrpcJs.Client {
  const target = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  const key = `${target}|${authority}`;
  let c = channels.get(key);
  if (c) return c;
  if (channels.size >= MAX_CHANNELS) {
    CHANNELS_OVERFLOW.inc();
    const [oldKey, old] = channels.entries().next().value as [string, GrpcJs.Client];
    channels.delete(oldKey);
    old.close();
  }
  c = new grpc.Client(target, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, 'grpc.default_authority': authority });
  channels.set(key, c);
  return c;
}

/** Closes every channel (tests, proxy shutdown). */
export function closeGrpcSideCallChannels(): void {
  for (const c of channels.values()) c.close();
  channels.clear();
}

const identity = (b: Buffer): Buffer => b;
const NOOP = (): void => undefined;

export class GrpcUnaryClient {
  constructor(readonly target: GrpcTarget, private readonly slot: ClusterSlot) {
    void loadGrpc().catch(() => undefined);
  }

  /** One unary call of `path` (`/package.Service/Method`); `done` is called once; the returned function cancels. */
  call(path: string, message: Uint8Array, done: (r: UnaryResult) => void): () => void {
    const picked = sideCallHost(this.slot, this.target.cluster);
    if ('error' in picked) {
      done({ ok: false, reason: picked.error });
      return NOOP;
    }
    const { cluster, host } = picked;
    if (host.transport.secure) return this.callOverPool(cluster, host, path, message, done);
    if (grpc !== undefined) return this.callWith(grpc, host, path, message, done);
    // the first call of a process waits for @grpc/grpc-js (loading started when the client was made)
    let cancelled = false;
    let cancel: (() => void) | undefined;
    loadGrpc().then(
      (m) => {
        if (!cancelled) cancel = this.callWith(m, host, path, message, done);
      },
      (err: unknown) => {
        if (!cancelled) done({ ok: false, reason: `@grpc/grpc-js did not load: ${(err as Error).message}` });
      },
    );
    return () => {
      cancelled = true;
      cancel?.();
    };
  }

  /** A TLS host (a service behind its sidecar): the cluster's own HTTP/2 pool carries the call over mTLS. */
  private callOverPool(cluster: Cluster, host: Host, path: string, message: Uint8Array, done: (r: UnaryResult) => void): () => void {
    if (!cluster.config.http2) {
      done({ ok: false, reason: `cluster ${this.target.cluster} needs TLS but is not HTTP/2 (name its port grpc or set the protocol)` });
      return NOOP;
    }
    return unaryOverPool(cluster, host, path, this.target.authority, message, this.target.timeoutMs, (a) => {
      if (a.error !== undefined || a.message === undefined) done({ ok: false, reason: a.error ?? 'no response message' });
      else done({ ok: true, message: a.message });
    });
  }

  private callWith(grpc: typeof GrpcJs, host: Host, path: string, message: Uint8Array, done: (r: UnaryResult) => void): () => void {
    let finished = false;
    const client = channelFor(grpc, host.address, host.port, this.target.authority);
    const call = client.makeUnaryRequest<Buffer, Buffer>(
      path,
      identity,
      identity,
      Buffer.from(message),
      new grpc.Metadata(),
      { deadline: Date.now() + this.target.timeoutMs },
      (err, value) => {
        if (finished) return;
        finished = true;
        if (err) done({ ok: false, reason: `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}` });
        else done({ ok: true, message: value ?? Buffer.alloc(0) });
      },
    );
    call.on('error', () => undefined);
    return () => {
      if (finished) return;
      finished = true;
      call.cancel();
    };
  }
}
