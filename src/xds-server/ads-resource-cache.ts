/**
 * Encoded-bytes caches shared by every stream. Many streams usually receive the very same resource
 * objects (one push context, many proxies), so each object is encoded once (WeakMap by identity)
 * and a SotW response for a given content version is built once and handed to every stream that
 * needs it, nonce included: a nonce only has to tell one stream's responses apart, so streams may
 * share one. Per-stream copies of a large response (100 proxies × a 300 KB RDS) were external
 * memory that made V8 run a full mark-compact on every push.
 */
import { createHash } from 'node:crypto';
import { encodeResource, type EnvoyResource } from '../xds/codec.js';
import { adsTypes } from './ads-messages.js';
import { XdsServerError } from './ads-types.js';

export interface EncodedResource {
  bytes: Uint8Array;
  /** content hash of bytes: the per-resource version of the delta protocol */
  hash: string;
}

export interface EncodedEntry extends EncodedResource {
  name: string;
}

export interface EncodedSet {
  /** content hash over names and bytes: the version_info of the set */
  version: string;
  /** sorted by name */
  entries: EncodedEntry[];
}

function shortHash(data: Uint8Array | string): string {
  return createHash('sha1').update(data).digest('hex').slice(0, 16);
}

const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
const RECENT_SETS = 8;

function sameEntries(a: EncodedEntry[], b: EncodedEntry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].bytes !== b[i].bytes || a[i].name !== b[i].name) return false;
  return true;
}

export class ResourceCache {
  private readonly byType = new Map<string, WeakMap<object, EncodedResource>>();
  /** `${typeUrl} ${version}` -> encoded `resources` and the last full response built on them (LRU) */
  private readonly blocks = new Map<string, SotwBlock>();
  private blockBytes = 0;
  private readonly recentSets = new Map<string, EncodedSet[]>();
  encodeCount = 0;

  encode(typeUrl: string, resource: EnvoyResource): EncodedResource {
    let cache = this.byType.get(typeUrl);
    if (!cache) this.byType.set(typeUrl, (cache = new WeakMap()));
    let hit = cache.get(resource);
    if (!hit) {
      let bytes: Uint8Array;
      try {
        bytes = encodeResource(typeUrl, resource);
      } catch (err) {
        throw new XdsServerError('XDS_ENCODE_FAILED', `cannot encode ${typeUrl} ${resource?.name ?? ''}: ${(err as Error).message}`, { cause: err });
      }
      this.encodeCount++;
      hit = { bytes, hash: shortHash(bytes) };
      cache.set(resource, hit);
    }
    return hit;
  }

  /** Encodes a set; names outside `only` (when given) are dropped. */
  encodeSet(typeUrl: string, resources: Map<string, EnvoyResource>, only?: ReadonlySet<string>): EncodedSet {
    const entries: EncodedEntry[] = [];
    for (const [name, res] of resources) {
      if (only && !only.has(name)) continue;
      const enc = this.encode(typeUrl, res);
      entries.push({ name, bytes: enc.bytes, hash: enc.hash });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // Streams usually receive identical sets: reuse a recent set's version when the entries are
    // the very same (same names, same cached encodings), instead of hashing again.
    let memos = this.recentSets.get(typeUrl);
    if (!memos) this.recentSets.set(typeUrl, (memos = []));
    for (const m of memos) {
      if (sameEntries(m.entries, entries)) return m;
    }
    const version = shortHash(entries.map((e) => `${e.name}\0${e.hash}`).join('\n'));
    const set = { version, entries };
    memos.unshift(set);
    if (memos.length > RECENT_SETS) memos.pop();
    return set;
  }

  /**
   * A SotW DiscoveryResponse of `set`, shared with the other streams that receive the same
   * version. `avoidNonce` (the stream's last nonce) is never reused: a stream sent the same version
   * again gets a response of its own with a fresh nonce.
   */
  sotwResponse(typeUrl: string, set: EncodedSet, avoidNonce: string | undefined, nextNonce: () => string): SotwResponse {
    const entry = this.block(typeUrl, set);
    const last = entry.response;
    if (last && last.nonce !== avoidNonce) return last;
    const nonce = nextNonce();
    const bytes = sotwResponse(entry.resources, typeUrl, set.version, nonce);
    entry.response = { nonce, bytes };
    // the resources now live inside the response: keep a view, not a second copy
    entry.resources = bytes.subarray(bytes.length - entry.resources.length);
    return entry.response;
  }

  /**
   * The `resources` field of a SotW DiscoveryResponse (bare Anys) as bytes, with the last response
   * built on them. Protobuf messages may be concatenated, so a response is a header (version,
   * nonce, type) followed by these bytes.
   */
  private block(typeUrl: string, set: EncodedSet): SotwBlock {
    const key = `${typeUrl} ${set.version}`;
    const hit = this.blocks.get(key);
    if (hit) {
      this.blocks.delete(key);
      this.blocks.set(key, hit);
      return hit;
    }
    const resources = set.entries.map((e) => ({ type_url: typeUrl, value: e.bytes }));
    const bytes = adsTypes().res.encode({ resources }).finish();
    const entry: SotwBlock = { resources: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    this.blocks.set(key, entry);
    this.blockBytes += entry.resources.length;
    for (const [k, b] of this.blocks) {
      if (this.blockBytes <= MAX_BLOCK_BYTES || this.blocks.size <= 1) break;
      this.blocks.delete(k);
      this.blockBytes -= b.resources.length;
    }
    return entry;
  }
}

export interface SotwResponse {
  nonce: string;
  /** the encoded DiscoveryResponse; shared, never to be modified */
  bytes: Buffer;
}

interface SotwBlock {
  resources: Buffer;
  response?: SotwResponse;
}

function sotwResponse(block: Buffer, typeUrl: string, version: string, nonce: string): Buffer {
  const head = adsTypes().res.encode({ version_info: version, type_url: typeUrl, nonce }).finish();
  return Buffer.concat([head, block]);
}

export function deltaResponse(
  typeUrl: string,
  systemVersion: string,
  nonce: string,
  resources: EncodedEntry[],
  removed: string[],
): Buffer {
  const msg = {
    system_version_info: systemVersion,
    type_url: typeUrl,
    nonce,
    resources: resources.map((e) => ({ name: e.name, version: e.hash, resource: { type_url: typeUrl, value: e.bytes } })),
    removed_resources: removed,
  };
  const bytes = adsTypes().dres.encode(msg).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
