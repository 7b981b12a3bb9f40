/**
 * The request body through the decoder filters' decodeData/decodeTrailers hooks (only for chains
 * with a filter that implements them; other chains hand the codec's body straight to the router).
 *
 * Data reaches a filter once that filter's decodeHeaders has run, in the listener's order, and
 * reaches the router (the terminal, which reads `output()`) once every filter before it passed it
 * on. A chunk that cannot go further yet (a filter before it has not continued its headers, or a
 * filter answered 'stop-and-buffer') is held; the filter holding it sees each later chunk and
 * releases everything held by answering 'continue' or by calling continueDecoding(). More held
 * than the buffer limit is refused with 413 (Envoy's `request_payload_too_large`).
 */
import { PassThrough, type Readable } from 'node:stream';
import type { HeaderMap } from '../core/header-map.js';
import type { HttpFilter, HttpFilterCallbacks } from '../filter-api/http-filter.js';

/** Envoy's per_connection_buffer_limit_bytes default */
export const DEFAULT_DECODER_BUFFER_LIMIT = 1024 * 1024;

export interface BodyGateOwner {
  readonly filters: readonly HttpFilter[];
  /** index of the next filter whose decodeHeaders has not run yet */
  readonly filterIndex: number;
  readonly routerIndex: number;
  readonly cb: HttpFilterCallbacks;
  onBodyOverflow(): void;
}

export class RequestBodyGate {
  /** the first filter that has not let data through (held data waits there) */
  private frontier = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** the frontier filter answered 'stop-and-buffer': it has seen everything held and sees each new chunk */
  private holding = false;
  private ended = false;
  private endDelivered = false;
  private out: PassThrough | undefined;
  private closed = false;
  limit = DEFAULT_DECODER_BUFFER_LIMIT;

  constructor(private readonly owner: BodyGateOwner, private readonly src: Readable) {
    src.on('data', (c: Buffer) => this.onChunk(c));
    src.on('end', () => this.onEnd());
    // H2 request trailers (node:http2 emits them on the stream)
    src.on('trailers', (t: HeaderMap) => this.onTrailers(t));
    src.on('error', () => this.close());
  }

  /** the body as the router reads it */
  output(): Readable {
    if (!this.out) {
      const out = new PassThrough();
      out.on('error', () => undefined);
      out.on('drain', () => {
        if (!this.closed) this.src.resume();
      });
      this.out = out;
      // the router asks from its decodeHeaders: what is held reaches it right after
      queueMicrotask(() => this.advance());
    }
    return this.out;
  }

  /** what the frontier filter holds so far */
  get buffered(): Buffer | undefined {
    if (this.heldBytes === 0) return undefined;
    if (this.held.length > 1) this.held = [Buffer.concat(this.held, this.heldBytes)];
    return this.held[0];
  }

  /**
   * The filters moved on: headers iteration went further (continueDecoding), or the filter at
   * `fromFilter` released what it held.
   */
  resume(fromFilter: number | undefined): void {
    if (this.closed) return;
    if (fromFilter !== undefined && this.holding && this.frontier === fromFilter) {
      this.holding = false;
      this.frontier++;
    }
    this.advance();
  }

  /** the stream answered or went away: stop reading */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.held = [];
    this.heldBytes = 0;
    this.src.removeAllListeners('data');
    this.out?.destroy();
  }

  /** a new chunk passes the filters that already let data through, then waits at the frontier */
  private onChunk(c: Buffer): void {
    if (this.closed) return;
    const o = this.owner;
    for (let i = 0; i < this.frontier; i++) {
      const f = o.filters[i];
      if (f.decodeData === undefined) continue;
      // a filter that let data through may take a later chunk ('stop'), but not hold it
      if (f.decodeData(o.cb, c, false) === 'stop' || this.closed) return;
    }
    this.held.push(c);
    this.heldBytes += c.length;
    if (this.heldBytes > this.limit) return this.overflow();
    if (this.holding) {
      const st = o.filters[this.frontier].decodeData!(o.cb, c, false);
      if (this.closed || st !== 'continue') return;
      this.holding = false;
      this.frontier++;
    }
    this.advance();
  }

  private onEnd(): void {
    if (this.closed) return;
    this.ended = true;
    const o = this.owner;
    for (let i = 0; i < this.frontier; i++) {
      o.filters[i].decodeData?.(o.cb, EMPTY, true);
      if (this.closed) return;
    }
    if (this.holding) {
      const st = o.filters[this.frontier].decodeData!(o.cb, EMPTY, true);
      if (this.closed || st !== 'continue') return;
      this.holding = false;
      this.frontier++;
    }
    this.advance();
  }

  private overflow(): void {
    this.close();
    this.owner.onBodyOverflow();
  }

  /** Moves what is held as far down the chain as it may go. */
  private advance(): void {
    const o = this.owner;
    while (!this.closed && !this.holding) {
      if (this.frontier >= o.routerIndex) {
        const out = this.out;
        if (o.filterIndex <= o.routerIndex || out === undefined) return; // the router has not asked yet
        if (this.heldBytes > 0) {
          const data = this.buffered!;
          this.held = [];
          this.heldBytes = 0;
          if (!out.write(data)) this.src.pause();
        }
        if (this.ended && !this.endDelivered) {
          this.endDelivered = true;
          out.end();
        }
        return;
      }
      if (this.frontier >= o.filterIndex) return; // this filter's headers have not run yet
      const f = o.filters[this.frontier];
      if (f.decodeData === undefined) {
        this.frontier++;
        continue;
      }
      if (this.heldBytes === 0 && !this.ended) return; // nothing for it yet
      const st = f.decodeData(o.cb, this.heldBytes > 0 ? this.buffered! : EMPTY, this.ended);
      if (this.closed) return;
      if (st === 'continue') this.frontier++;
      else if (st === 'stop-and-buffer') this.holding = true;
      else {
        // the filter took the data
        this.held = [];
        this.heldBytes = 0;
        return;
      }
    }
  }

  private onTrailers(t: HeaderMap): void {
    if (this.closed) return;
    const o = this.owner;
    for (let i = 0; i < o.filterIndex && i < o.routerIndex; i++) o.filters[i].decodeTrailers?.(o.cb, t);
  }
}

const EMPTY = Buffer.alloc(0);
