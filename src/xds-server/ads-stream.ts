/**
 * What SotW and delta streams share: stream identity, the per-stream serial queue (requests and
 * pushes are processed strictly in order so versions and nonces never interleave), writes, and
 * the 'connect' bookkeeping.
 */
import type * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import type { XdsNode } from '../xds/node-metadata.js';
import { CLUSTER_TYPE, LISTENER_TYPE, SHORT_TYPE_NAME, XDS_TYPES_IN_ORDER } from '../xds/type-urls.js';
import type { ResourceCache } from './ads-resource-cache.js';
import { MAX_NODE_ID_BYTES, MAX_NODE_METADATA_BYTES, type AdsLogger, type StreamRefusal, type TypeStatus, type XdsResourceSource, type XdsStreamInfo } from './ads-types.js';
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
  /** see AdsServerOptions.stallMs / dropMs */
  stallMs: number;
  dropMs: number;
  /** counts for diagnostics: pushes deferred behind an unwritten response, streams dropped */
  stats: { deferred: number; dropped: number; rejectedNodes: number };
  /** the server's admission check for a stream whose node just became known */
  admit?: (stream: XdsStreamInfo) => StreamRefusal | undefined;
}

/** Lets the event loop run I/O (a macrotask turn) between two builds of a push. */
export function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Why a node is refused, or undefined. */
export function checkNode(node: XdsNode): string | undefined {
  const idBytes = Buffer.byteLength(String(node.id ?? ''));
  if (idBytes > MAX_NODE_ID_BYTES) return `node id is ${idBytes} bytes, at most ${MAX_NODE_ID_BYTES} are accepted`;
  if (node.metadata !== undefined) {
    const metaBytes = Buffer.byteLength(JSON.stringify(node.metadata));
    if (metaBytes > MAX_NODE_METADATA_BYTES) return `node metadata is ${metaBytes} bytes, at most ${MAX_NODE_METADATA_BYTES} are accepted`;
  }
  return undefined;
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
  /** responses handed to grpc that its client has not taken yet */
  private unwritten = 0;
  /** early completions of the writes in flight (settled when the stream stalls) */
  private readonly settlers = new Set<() => void>();
  /** types pushed while a response was unwritten; null = every type */
  private deferred: Set<string> | null | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private dropTimer: NodeJS.Timeout | undefined;
  stalled = false;

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

  /** A client that has not taken its last response: pushes wait for it, coalesced (never the other way round). */
  get busy(): boolean {
    return this.unwritten > 0;
  }

  /** Records a push skipped because the stream is busy; it runs, with the latest state, once the client reads. */
  defer(typeUrls: string[] | undefined): void {
    this.ctx.stats.deferred++;
    if (typeUrls === undefined) this.deferred = null;
    else if (this.deferred !== null) {
      this.deferred ??= new Set();
      for (const t of typeUrls) this.deferred.add(t);
    }
  }

  /**
   * Notes the node of the first request; false (and the stream ends with INVALID_ARGUMENT) when
   * its id or metadata are over the limits, so such a node is never registered nor persisted.
   */
  protected acceptNode(node: XdsNode | undefined): boolean {
    if (node && !this.info.node) {
      const why = checkNode(node);
      if (why) {
        this.ctx.stats.rejectedNodes++;
        this.ctx.log('warn', `xds stream ${this.info.id} from ${this.info.peer}: refused: ${why}`);
        this.fail(3 /* INVALID_ARGUMENT */, why);
        return false;
      }
      // the node must be one the stream's credential may claim (no credential: served anonymously)
      const refusal = this.ctx.admit?.({ ...this.info, node });
      if (refusal) {
        this.ctx.log('warn', `xds stream ${this.info.id} from ${this.info.peer} refused (node ${node.id}): ${refusal.message}`);
        this.fail(refusal.code, refusal.message);
        return false;
      }
    }
    this.noteNode(node);
    return true;
  }

  /** Ends the stream with a refusal's status (authentication failed, or the node is not the credential's). */
  refuse(refusal: StreamRefusal): void {
    this.fail(refusal.code, refusal.message);
  }

  /** Ends the stream with a gRPC status (the client reads it: this is not for stalled clients). */
  protected fail(code: number, details: string): void {
    try {
      // grpc-js ends the call with this status; the server's 'error' listener retires the stream
      // (it skips a stream already marked closed, so the mark comes after)
      this.call.emit('error', Object.assign(new Error(details), { code, details }));
    } catch {
      /* already closed */
    }
    this.closed = true;
  }

  protected noteNode(node: XdsNode | undefined): void {
    if (node && !this.info.node) {
      this.info.node = node;
      if (!this.connectEmitted) {
        this.connectEmitted = true;
        this.ctx.emit('connect', this.info);
        this.ctx.log('info', `xds stream ${this.info.id} connected: ${node.id} from ${this.info.peer}${this.info.delta ? ' (delta)' : ''}`);
      }
    }
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
      let settled = false;
      // the caller (a push) and the budget stop waiting when the write completes or the stream stalls
      const settle = (): void => {
        if (settled) return;
        settled = true;
        this.settlers.delete(settle);
        release();
        resolve();
      };
      let written = false;
      const finish = (): void => {
        if (written) return;
        written = true;
        this.call.off('close', finish);
        settle();
        this.unwritten--;
        if (this.unwritten === 0) this.drained();
      };
      this.unwritten++;
      this.settlers.add(settle);
      this.armStall();
      this.call.once('close', finish);
      try {
        this.call.write(buf, () => finish());
      } catch {
        finish();
      }
    });
  }

  private armStall(): void {
    if (this.stallTimer || this.stalled) return;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.closed || this.unwritten === 0) return;
      this.stalled = true;
      this.ctx.log('warn', `xds stream ${this.info.id} ${this.info.node?.id ?? this.info.peer}: client is not reading; its pushes are deferred`);
      for (const settle of [...this.settlers]) settle();
      this.dropTimer = setTimeout(() => this.drop(), Math.max(0, this.ctx.dropMs - this.ctx.stallMs));
      this.dropTimer.unref();
    }, this.ctx.stallMs);
    this.stallTimer.unref();
  }

  private drained(): void {
    clearTimeout(this.stallTimer);
    clearTimeout(this.dropTimer);
    this.stallTimer = undefined;
    this.dropTimer = undefined;
    this.stalled = false;
    const types = this.deferred;
    if (types === undefined || this.closed) return;
    this.deferred = undefined;
    void this.enqueue('deferred push', () => this.push(types === null ? undefined : [...types]));
  }

  /**
   * Drops a stream whose client has not read for dropMs: its HTTP/2 stream is reset
   * (ENHANCE_YOUR_CALM: a status in trailers would wait behind the unread data forever).
   */
  private drop(): void {
    if (this.closed || this.unwritten === 0) return;
    this.ctx.stats.dropped++;
    this.ctx.log('warn', `xds stream ${this.info.id} ${this.info.node?.id ?? this.info.peer}: dropped: its client has not read a response for ${this.ctx.dropMs} ms`);
    let c: any = (this.call as any).call;
    for (let i = 0; c && !c.stream && i < 10; i++) c = c.nextCall;
    const h2 = c?.stream as http2.ServerHttp2Stream | undefined;
    if (h2 && !h2.destroyed) h2.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    else this.call.destroy();
  }

  /** Timers of a stream that is gone. */
  dispose(): void {
    clearTimeout(this.stallTimer);
    clearTimeout(this.dropTimer);
    for (const settle of [...this.settlers]) settle();
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
