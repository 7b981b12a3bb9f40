/**
 * What SotW and delta streams share: stream identity, the per-stream serial queue (requests and
 * pushes are processed strictly in order so versions and nonces never interleave), writes, and
 * the 'connect' bookkeeping.
 */
import type * as grpc from '@grpc/grpc-js';
import type { XdsNode } from '../xds/node-metadata.js';
import { CLUSTER_TYPE, LISTENER_TYPE, SHORT_TYPE_NAME, XDS_TYPES_IN_ORDER } from '../xds/type-urls.js';
import type { ResourceCache } from './ads-resource-cache.js';
import type { AdsLogger, StreamRefusal, TypeStatus, XdsResourceSource, XdsStreamInfo } from './ads-types.js';
import type { ReleaseBudget, WriteBudget } from './ads-write-budget.js';

/** What a stream needs from its server. */
export interface StreamContext {
  source: XdsResourceSource;
  cache: ResourceCache;
  /** response bytes in flight across the server's streams */
  budget: WriteBudget;
  log: AdsLogger;
  emit(event: string, ...args: unknown[]): void;
  nextNonce(): string;
  /** the server's admission check for a stream whose node just became known */
  admit?: (stream: XdsStreamInfo) => StreamRefusal | undefined;
}

/** Types where an empty subscription means "everything" (legacy wildcard). */
export const WILDCARD_TYPES: ReadonlySet<string> = new Set([LISTENER_TYPE, CLUSTER_TYPE]);

export function shortType(typeUrl: string): string {
  return SHORT_TYPE_NAME[typeUrl] ?? typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}

/** Envoy's order: clusters before endpoints, listeners before routes; other types after. */
export function typeOrder(typeUrl: string): number {
  const i = (XDS_TYPES_IN_ORDER as readonly string[]).indexOf(typeUrl);
  return i < 0 ? XDS_TYPES_IN_ORDER.length : i;
}

export function byTypeOrder(a: string, b: string): number {
  return typeOrder(a) - typeOrder(b) || (a < b ? -1 : a > b ? 1 : 0);
}

export abstract class AdsStream<Req> {
  closed = false;
  connectEmitted = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly info: XdsStreamInfo,
    protected readonly ctx: StreamContext,
    protected readonly call: grpc.ServerDuplexStream<Req, Buffer>,
  ) {}

  /** Runs fn after everything queued before it on this stream; errors are logged, not thrown. */
  enqueue<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    const run = this.chain.then(async () => {
      if (this.closed) return undefined;
      try {
        return await fn();
      } catch (err) {
        this.ctx.log('warn', `xds stream ${this.info.id}: ${what} failed: ${(err as Error).message}`);
        return undefined;
      }
    });
    this.chain = run;
    return run;
  }

  /** Records the node of the first request that has one; false when the stream was refused. */
  protected noteNode(node: XdsNode | undefined): boolean {
    if (node && !this.info.node) {
      this.info.node = node;
      const refusal = this.ctx.admit?.(this.info);
      if (refusal) {
        this.ctx.log('warn', `xds stream ${this.info.id} from ${this.info.peer} refused (node ${node.id}): ${refusal.message}`);
        this.refuse(refusal);
        return false;
      }
      if (!this.connectEmitted) {
        this.connectEmitted = true;
        this.ctx.emit('connect', this.info);
        this.ctx.log('info', `xds stream ${this.info.id} connected: ${node.id} from ${this.info.peer}${this.info.delta ? ' (delta)' : ''}`);
      }
    }
    return !this.closed;
  }

  /** Ends the stream with a gRPC error status; nothing more is handled or sent on it. */
  refuse(refusal: StreamRefusal): void {
    try {
      // grpc-js ends the call with this status; the server's own 'error' listener retires the stream
      this.call.emit('error', { code: refusal.code, details: refusal.message, message: refusal.message });
    } catch {
      /* already closed */
    }
    this.closed = true;
  }

  /**
   * Resolves when grpc has written the bytes (or the stream is gone); `release` (the write
   * budget of the response) is called then.
   */
  protected write(buf: Buffer, release: ReleaseBudget = () => {}): Promise<void> {
    if (this.closed) {
      release();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        this.call.off('close', finish);
        release();
        resolve();
      };
      this.call.once('close', finish);
      try {
        this.call.write(buf, () => finish());
      } catch {
        finish();
      }
    });
  }

  /** Ends the server side of the stream (status OK); the client is expected to reconnect. */
  end(): void {
    try {
      this.call.end();
    } catch {
      /* already closed */
    }
  }

  abstract handleRequest(req: Req): Promise<void>;
  /** Recomputes the given types (undefined = all subscribed); returns promises of the writes made. */
  abstract push(typeUrls: string[] | undefined): Promise<Promise<void>[]>;
  abstract status(): TypeStatus[];
}
