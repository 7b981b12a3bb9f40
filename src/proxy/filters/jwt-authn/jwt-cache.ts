/**
 * Verified tokens of one JWT provider (Envoy's jwt_cache: a token verified once is not verified
 * again while it is valid). The key is the raw token string: the same bytes carry the same
 * signature, so a hit is exactly what a new verification would accept, as long as the entry
 * honours the token's `exp` (jose's rule: valid while now < exp, in whole seconds) and the
 * provider's keys have not changed. Each provider has its own cache, created with its config: an
 * LDS update with new inline keys starts empty; remote keys may rotate within a config, so an
 * entry lives at most `maxAgeMs` (default 5 min, the default JWKS cache duration) even without
 * `exp`. Failures are never cached. Bounded: the oldest entries go first (first in, first out: a
 * lookup does not reorder the map, which would cost as much as the lookup; a token still in use
 * after its entry was evicted is verified once more), each eviction counted on
 * `clew.overflow.jwt_verified_cache`.
 */
import type { JWTPayload } from 'jose';
import { overflowCounter } from '../../../stats/stats-overflow.js';

export const JWT_CACHE_MAX_ENTRIES = 1000;
export const JWT_CACHE_MAX_AGE_MS = 5 * 60_000;

const OVERFLOW = overflowCounter('jwt_verified_cache');

export interface VerifiedJwt {
  /** the raw token */
  token: string;
  /** the payload as verified */
  payload: JWTPayload;
  /** the payload as it goes to dynamic metadata (space-delimited claims split), made once */
  metadata: Record<string, unknown>;
  /** `{ <payload_in_metadata>: metadata }`, what the filter hands to setDynamicMetadata, made on first use */
  metadataEntry?: Record<string, unknown>;
  /** the payload header value (forward_payload_header), made on first use */
  payloadHeader?: string;
  /** the entry is valid while Date.now() < validUntilMs */
  validUntilMs: number;
}

/**
 * The map key: a number hashed from the token's length and last 32 characters (its signature's
 * end), so a lookup neither builds a string nor hashes one; the entry keeps the whole token and a
 * hit needs it equal. Another token with the same key is a miss (verified, and never stored over
 * the entry unless it verifies).
 */
export function cacheKeyOf(token: string): number {
  const n = token.length;
  let h = n;
  for (let i = n > 32 ? n - 32 : 0; i < n; i++) h = (Math.imul(h, 31) + token.charCodeAt(i)) | 0;
  return h;
}

export class VerifiedJwtCache {
  private readonly entries = new Map<number, VerifiedJwt>();

  constructor(readonly maxEntries = JWT_CACHE_MAX_ENTRIES, readonly maxAgeMs = JWT_CACHE_MAX_AGE_MS) {}

  get size(): number {
    return this.entries.size;
  }

  /** The verified token, or undefined (never seen, evicted, or no longer valid). */
  get(token: string, nowMs = Date.now()): VerifiedJwt | undefined {
    const key = cacheKeyOf(token);
    const e = this.entries.get(key);
    if (e === undefined || e.token !== token) return undefined;
    if (nowMs >= e.validUntilMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** Remembers a token that has just been verified. */
  set(token: string, payload: JWTPayload, metadata: Record<string, unknown>, nowMs = Date.now()): VerifiedJwt {
    let validUntilMs = nowMs + this.maxAgeMs;
    if (typeof payload.exp === 'number') validUntilMs = Math.min(validUntilMs, payload.exp * 1000);
    const e: VerifiedJwt = { token, payload, metadata, validUntilMs };
    if (validUntilMs <= nowMs) return e;
    const key = cacheKeyOf(token);
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as number;
      this.entries.delete(oldest);
      OVERFLOW.inc();
    }
    this.entries.set(key, e);
    return e;
  }
}
