/**
 * State-of-the-world ADS stream: one DiscoveryResponse per type carries the whole subscribed set.
 *
 *  - latest nonce, same names, no error_detail  -> ACK (recorded, not answered)
 *  - latest nonce, same names, error_detail     -> NACK (recorded; the rejected version is not resent)
 *  - latest nonce, changed names                -> subscription change, answered
 *  - stale nonce                                -> ignored (the client will follow up on the latest)
 *  - no nonce / first request for the type      -> answered
 * Pushes answer only when the content version of the subscribed set changed.
 */
import { performance } from 'node:perf_hooks';
import type { DiscoveryRequest } from './ads-messages.js';
import { MAX_NACK_MESSAGE, truncate } from './ads-types.js';
import { AdsStream, WILDCARD_TYPES, yieldTurn, byTypeOrder, shortType } from './ads-stream.js';
import type { TypeProgress, TypeStatus } from './ads-types.js';

interface SotwTypeState extends TypeProgress {
  typeUrl: string;
  wildcard: boolean;
  /** sorted, unique; empty when wildcard */
  names: string[];
  sentMono?: number;
  resourceCount: number;
}

function normalizeNames(names: string[]): string[] {
  return [...new Set(names.filter((n) => n !== '*'))].sort();
}

function sameNames(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

export class SotwStream extends AdsStream<DiscoveryRequest> {
  private readonly types = new Map<string, SotwTypeState>();

  async handleRequest(req: DiscoveryRequest): Promise<void> {
    if (!this.acceptNode(req.node)) return;
    const typeUrl = req.type_url;
    if (!typeUrl) {
      this.ctx.log('warn', `xds stream ${this.info.id}: request without type_url ignored`);
      return;
    }
    this.ctx.emit('request', this.info, typeUrl, req.resource_names);
    const wildcard = req.resource_names.includes('*') || (req.resource_names.length === 0 && WILDCARD_TYPES.has(typeUrl));
    const names = wildcard ? [] : normalizeNames(req.resource_names);
    let st = this.types.get(typeUrl);

    // With nothing sent yet on this stream (e.g. the source failed), a nonce can only come from an
    // earlier server: treat the request as an initial one rather than as stale.
    if (st && req.response_nonce && st.sentNonce !== undefined) {
      if (req.response_nonce !== st.sentNonce) {
        this.ctx.log('debug', `xds stream ${this.info.id}: stale nonce ${req.response_nonce} for ${shortType(typeUrl)} ignored`);
        return;
      }
      const same = st.wildcard === wildcard && sameNames(st.names, names);
      if (req.error_detail) {
        const message = truncate(req.error_detail.message ?? '', MAX_NACK_MESSAGE);
        st.nack = { version: req.version_info, nonce: req.response_nonce, message, at: Date.now() };
        this.ctx.emit('nack', this.info, typeUrl, req.version_info, message);
        this.ctx.log('debug', `xds stream ${this.info.id} ${this.info.node?.id ?? ''}: NACK ${shortType(typeUrl)} version ${st.sentVersion}: ${message}`);
      } else {
        this.recordAck(st, req.version_info, req.response_nonce);
      }
      if (same) return;
    }

    if (!st) {
      st = { typeUrl, wildcard, names, resourceCount: 0 };
      this.types.set(typeUrl, st);
    }
    st.wildcard = wildcard;
    st.names = names;
    // The write is not awaited: the queue moves on once grpc has the bytes queued.
    await this.respond(st, true);
  }

  private recordAck(st: SotwTypeState, version: string, nonce: string): void {
    st.ackedVersion = version;
    st.ackedNonce = nonce;
    st.ackedAt = Date.now();
    st.nack = undefined;
    const latency = st.sentMono === undefined ? 0 : performance.now() - st.sentMono;
    this.ctx.emit('ack', this.info, st.typeUrl, version, latency);
    this.ctx.log('debug', `xds stream ${this.info.id}: ACK ${shortType(st.typeUrl)} ${version} after ${latency.toFixed(1)} ms`);
  }

  /**
   * Sends the current set if forced or changed; returns the pending write, if any (boxed, since an
   * async function would otherwise adopt the promise and wait for the flush).
   */
  private async respond(st: SotwTypeState, force: boolean): Promise<{ written: Promise<void> } | undefined> {
    if (!st.wildcard && st.names.length === 0) {
      // Non-wildcard type with nothing subscribed (e.g. an EDS unsubscribe-all): nothing to send.
      st.resourceCount = 0;
      return undefined;
    }
    const map = await this.ctx.source.resources(this.info, st.typeUrl, st.wildcard ? undefined : [...st.names]);
    if (this.closed) return undefined;
    const set = this.ctx.cache.encodeSet(st.typeUrl, map, st.wildcard ? undefined : new Set(st.names));
    if (!force && set.version === st.sentVersion) return undefined;
    const response = this.ctx.cache.sotwResponse(st.typeUrl, set, st.sentNonce, () => this.ctx.nextNonce());
    // grpc makes this stream's framed copy once the server's write budget has room for it
    const release = await this.ctx.budget.acquire(response.bytes.length);
    if (this.closed) {
      release();
      return undefined;
    }
    const nonce = response.nonce;
    st.sentVersion = set.version;
    st.sentNonce = nonce;
    st.sentAt = Date.now();
    st.sentMono = performance.now();
    st.resourceCount = set.entries.length;
    this.ctx.log('debug', `xds stream ${this.info.id}: send ${shortType(st.typeUrl)} version ${set.version} nonce ${nonce} (${set.entries.length} resources)`);
    return { written: this.write(response.bytes, release) };
  }

  async push(typeUrls: string[] | undefined): Promise<Promise<void>[]> {
    const writes: Promise<void>[] = [];
    const wanted = [...this.types.keys()].filter((t) => !typeUrls || typeUrls.includes(t)).sort(byTypeOrder);
    for (const t of wanted) {
      // a build can take a while (thousands of routes): let sockets and the debug API in between
      await yieldTurn();
      if (this.closed) break;
      const st = this.types.get(t)!;
      try {
        const w = await this.respond(st, false);
        if (w) writes.push(w.written);
      } catch (err) {
        this.ctx.log('warn', `xds stream ${this.info.id}: push of ${shortType(t)} failed: ${(err as Error).message}`);
      }
    }
    return writes;
  }

  status(): TypeStatus[] {
    return [...this.types.values()].sort((a, b) => byTypeOrder(a.typeUrl, b.typeUrl)).map((st) => ({
      typeUrl: st.typeUrl,
      subscribed: st.wildcard ? '*' : [...st.names],
      sentVersion: st.sentVersion,
      sentNonce: st.sentNonce,
      sentAt: st.sentAt,
      ackedVersion: st.ackedVersion,
      ackedNonce: st.ackedNonce,
      ackedAt: st.ackedAt,
      nack: st.nack ? { ...st.nack } : undefined,
      resourceCount: st.resourceCount,
    }));
  }
}
