/**
 * Where a JWT provider's keys come from: inline (`local_jwks.inline_string`, parsed once: a JWKS
 * that does not parse is a NACK) or remote (`remote_jwks.http_uri`, fetched by the proxy with the
 * configured timeout, cached for `cache_duration`, default 5 min as Envoy). A failed fetch is
 * logged once per outage with its reason and retried on the next request after a backoff (1 s
 * doubling to 30 s), so a JWKS server that was down starts working again without a restart
 * (Istio's #37456, #27097: a first failure that stayed cached). Remote sets are kept across
 * listener updates by URI (shared filter resources), so an LDS push does not refetch.
 */
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { durationToMs } from '../../../xds/codec.js';
import { fail } from '../../core/errors.js';
import type { SharedFilterResources } from '../../filter-api/http-filter.js';

export const DEFAULT_CACHE_MS = 5 * 60_000;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

export class JwksFetchError extends Error {
  readonly code = 'CLEW_JWKS_FETCH';
}

/** A remote JWKS with failure backoff; one per URI for the proxy's life. */
export class RemoteJwks {
  private set: ReturnType<typeof createRemoteJWKSet>;
  private failures = 0;
  private retryAt = 0;
  private lastError = '';
  /** fetch failures (the admin stats show them through the filter) */
  fetchFailures = 0;

  constructor(readonly uri: string, timeoutMs: number, cacheMs: number, private readonly log: (msg: string) => void) {
    this.set = createRemoteJWKSet(new URL(uri), { timeoutDuration: timeoutMs, cacheMaxAge: cacheMs, cooldownDuration: 1000 });
  }

  /** jose's key lookup, failing fast while a failed fetch backs off */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.failures > 0 && Date.now() < this.retryAt) throw new JwksFetchError(`Jwks remote fetch is failed (${this.lastError}; next try in ${this.retryAt - Date.now()} ms)`);
    try {
      const key = await this.set(header, token);
      if (this.failures > 0) this.log(`jwks ${this.uri}: fetched again after ${this.failures} failure(s)`);
      this.failures = 0;
      return key;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      // a key that is not in a set we did fetch is the token's fault, not the server's
      if (e.code === 'ERR_JWKS_NO_MATCHING_KEY' || e.code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw err;
      this.fetchFailures++;
      this.lastError = e.message ?? String(err);
      if (this.failures === 0) this.log(`jwks ${this.uri}: fetch failed: ${this.lastError} (retrying with backoff)`);
      this.retryAt = Date.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.failures);
      this.failures++;
      throw new JwksFetchError(`Jwks remote fetch is failed (${this.lastError})`);
    }
  };
}

/** Parses a provider's key source once; `where` names it in the NACK. */
export function parseJwksSource(p: Record<string, any>, where: string, shared: SharedFilterResources, log: (msg: string) => void): JWTVerifyGetKey {
  if (p.local_jwks !== undefined && p.remote_jwks !== undefined) fail(`${where}: local_jwks and remote_jwks are exclusive`);
  if (p.local_jwks !== undefined) {
    const ds = p.local_jwks as Record<string, any>;
    for (const k of Object.keys(ds)) if (k !== 'inline_string') fail(`${where}.local_jwks.${k} is not implemented by this proxy`);
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(String(ds.inline_string ?? '')) as JSONWebKeySet;
      if (!jwks || !Array.isArray(jwks.keys)) throw new Error('no "keys" array');
      return createLocalJWKSet(jwks);
    } catch (err) {
      fail(`${where}.local_jwks: the JWKS does not parse: ${(err as Error).message}`);
    }
  }
  if (p.remote_jwks !== undefined) {
    const r = p.remote_jwks as Record<string, any>;
    for (const k of Object.keys(r)) if (!['http_uri', 'cache_duration'].includes(k)) fail(`${where}.remote_jwks.${k} is not implemented by this proxy`);
    const uri = String(r.http_uri?.uri ?? '');
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      fail(`${where}.remote_jwks.http_uri.uri: ${JSON.stringify(uri)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`${where}.remote_jwks.http_uri.uri: only http and https are supported`);
    const timeoutMs = durationToMs(r.http_uri?.timeout) ?? 5000;
    const cacheMs = durationToMs(r.cache_duration) ?? DEFAULT_CACHE_MS;
    const jwks = shared.get(`jwks:${uri}:${timeoutMs}:${cacheMs}`, () => new RemoteJwks(uri, timeoutMs, cacheMs, log));
    return jwks.getKey;
  }
  fail(`${where}: local_jwks or remote_jwks is required`);
}
