/**
 * Incremental (delta) ADS stream. Per type it tracks what the client holds (name -> per-resource
 * version, the content hash of the encoded bytes) and sends only what differs: changed or new
 * resources in `resources`, vanished ones in `removed_resources`.
 *
 * Wildcard: "*" in resource_names_subscribe, or an empty first subscription on LDS/CDS.
 * ACK/NACK: a request's response_nonce names one of our recent responses; unlike SotW, a request
 * with an older nonce still carries subscription changes, so it is never ignored.
 */
import { performance } from 'node:perf_hooks';
import type { DeltaDiscoveryRequest } from './ads-messages.js';
import { deltaResponse, type EncodedEntry } from './ads-resource-cache.js';
import { MAX_NACK_MESSAGE, truncate } from './ads-types.js';
import { AdsStream, WILDCARD_TYPES, yieldTurn, byTypeOrder, shortType } from './ads-stream.js';
import type { TypeProgress, TypeStatus } from './ads-types.js';

const MAX_PENDING_NONCES = 32;

interface DeltaTypeState extends TypeProgress {
  typeUrl: string;
  wildcard: boolean;
  names: Set<string>;
  /** what the client holds: name -> version */
  client: Map<string, string>;
  /** responses sent and not yet ACKed/NACKed, in send order */
  pending: Map<string, { version: string; mono: number }>;
}

export class DeltaStream extends AdsStream<DeltaDiscoveryRequest> {
  private readonly types = new Map<string, DeltaTypeState>();

  async handleRequest(req: DeltaDiscoveryRequest): Promise<void> {
    if (!this.acceptNode(req.node)) return;
    const typeUrl = req.type_url;
    if (!typeUrl) {
      this.ctx.log('warn', `xds delta stream ${this.info.id}: request without type_url ignored`);
      return;
    }
    this.ctx.emit('request', this.info, typeUrl, req.resource_names_subscribe);
    let st = this.types.get(typeUrl);
    const first = !st;
    if (!st) {
      st = {
        typeUrl,
        wildcard: req.resource_names_subscribe.length === 0 && WILDCARD_TYPES.has(typeUrl),
        names: new Set(),
        client: new Map(Object.entries(req.initial_resource_versions)),
        pending: new Map(),
      };
      this.types.set(typeUrl, st);
    }
    if (req.response_nonce) this.ackOrNack(st, req);

    const added: string[] = [];
    let wildcardAdded = false;
    for (const n of req.resource_names_subscribe) {
      if (n === '*') {
        wildcardAdded = !st.wildcard;
        st.wildcard = true;
      } else if (!st.names.has(n)) {
        st.names.add(n);
        added.push(n);
      }
    }
    for (const n of req.resource_names_unsubscribe) {
      if (n === '*') {
        st.wildcard = false;
        // The client drops what it held through the wildcard only; forget those silently.
        for (const held of [...st.client.keys()]) if (!st.names.has(held)) st.client.delete(held);
      } else if (st.names.delete(n) && !st.wildcard) {
        st.client.delete(n);
      }
    }
    if (first || added.length > 0 || wildcardAdded) await this.respond(st, first, added);
  }

  private ackOrNack(st: DeltaTypeState, req: DeltaDiscoveryRequest): void {
    const nonce = req.response_nonce;
    const sent = st.pending.get(nonce);
    if (!sent) {
      this.ctx.log('debug', `xds delta stream ${this.info.id}: unknown nonce ${nonce} for ${shortType(st.typeUrl)}`);
      return;
    }
    // Responses are processed in order by the client: everything up to this nonce is answered.
    for (const k of [...st.pending.keys()]) {
      st.pending.delete(k);
      if (k === nonce) break;
    }
    if (req.error_detail) {
      const message = truncate(req.error_detail.message ?? '', MAX_NACK_MESSAGE);
      const kept = st.ackedVersion ?? '';
      st.nack = { version: kept, nonce, message, at: Date.now() };
      this.ctx.emit('nack', this.info, st.typeUrl, kept, message);
      this.ctx.log('debug', `xds delta stream ${this.info.id} ${this.info.node?.id ?? ''}: NACK ${shortType(st.typeUrl)} version ${sent.version}: ${message}`);
      return;
    }
    st.ackedVersion = sent.version;
    st.ackedNonce = nonce;
    st.ackedAt = Date.now();
    st.nack = undefined;
    const latency = performance.now() - sent.mono;
    this.ctx.emit('ack', this.info, st.typeUrl, sent.version, latency);
  }

  /**
   * Sends what the client lacks. `force` answers even with nothing to say (the first request of
   * a type, so the client's initialization can complete); `added` are names just subscribed, which
   * are reported in removed_resources when they do not exist.
   */
  private async respond(st: DeltaTypeState, force: boolean, added: string[]): Promise<{ written: Promise<void> } | undefined> {
    const map = st.wildcard || st.names.size > 0
      ? await this.ctx.source.resources(this.info, st.typeUrl, st.wildcard ? undefined : [...st.names])
      : new Map();
    if (this.closed) return undefined;
    const set = this.ctx.cache.encodeSet(st.typeUrl, map, st.wildcard ? undefined : st.names);
    const present = new Set(set.entries.map((e) => e.name));
    const changed: EncodedEntry[] = set.entries.filter((e) => st.client.get(e.name) !== e.hash);
    const removed = [...st.client.keys()].filter((n) => !present.has(n));
    for (const n of added) if (!present.has(n) && !st.client.has(n)) removed.push(n);
    if (!force && changed.length === 0 && removed.length === 0) return undefined;
    let bytes = 0;
    for (const e of changed) bytes += e.bytes.length + e.name.length + e.hash.length;
    const release = await this.ctx.budget.acquire(bytes);
    if (this.closed) {
      release();
      return undefined;
    }
    for (const e of changed) st.client.set(e.name, e.hash);
    for (const n of removed) st.client.delete(n);
    const nonce = this.ctx.nextNonce();
    st.sentVersion = set.version;
    st.sentNonce = nonce;
    st.sentAt = Date.now();
    st.pending.set(nonce, { version: set.version, mono: performance.now() });
    if (st.pending.size > MAX_PENDING_NONCES) st.pending.delete(st.pending.keys().next().value!);
    this.ctx.log('debug', `xds delta stream ${this.info.id}: send ${shortType(st.typeUrl)} ${set.version} nonce ${nonce} (+${changed.length} -${removed.length})`);
    return { written: this.write(deltaResponse(st.typeUrl, set.version, nonce, changed, removed), release) };
  }

  async push(typeUrls: string[] | undefined): Promise<Promise<void>[]> {
    const writes: Promise<void>[] = [];
    const wanted = [...this.types.keys()].filter((t) => !typeUrls || typeUrls.includes(t)).sort(byTypeOrder);
    for (const t of wanted) {
      // a build can take a while (thousands of routes): let sockets and the debug API in between
      await yieldTurn();
      if (this.closed) break;
      try {
        const w = await this.respond(this.types.get(t)!, false, []);
        if (w) writes.push(w.written);
      } catch (err) {
        this.ctx.log('warn', `xds delta stream ${this.info.id}: push of ${shortType(t)} failed: ${(err as Error).message}`);
      }
    }
    return writes;
  }

  status(): TypeStatus[] {
    return [...this.types.values()].sort((a, b) => byTypeOrder(a.typeUrl, b.typeUrl)).map((st) => ({
      typeUrl: st.typeUrl,
      subscribed: st.wildcard ? '*' : [...st.names].sort(),
      sentVersion: st.sentVersion,
      sentNonce: st.sentNonce,
      sentAt: st.sentAt,
      ackedVersion: st.ackedVersion,
      ackedNonce: st.ackedNonce,
      ackedAt: st.ackedAt,
      nack: st.nack ? { ...st.nack } : undefined,
      resourceCount: st.client.size,
    }));
  }
}
