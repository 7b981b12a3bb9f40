/**
 * Lower-case header names for the HTTP/1.1 codecs, from a cache keyed by the name as it came off
 * the wire. llhttp hands over a fresh string per field; lower-casing it and then using it as a
 * property key costs a case scan, often a new string, and an internalization (string table lookup)
 * per header. A hit here costs one Map probe and returns a name that is already a property key.
 *
 * Bounded: a client can send any number of distinct names, so past MAX_NAMES new ones are
 * lower-cased without being kept.
 */

import { overflowCounter } from '../../stats/stats-overflow.js';

const MAX_NAMES = 2048;

/** Names seen on the wire in any case, seeded with the common ones as literals (internalized). */
const LOWER = new Map<string, string>();
const HEADER_NAMES_OVERFLOW = overflowCounter('header_names');

const COMMON = [
  'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'content-type', 'content-length',
  'connection', 'keep-alive', 'date', 'server', 'transfer-encoding', 'cache-control', 'cookie', 'set-cookie',
  'authorization', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-envoy-attempt-count',
  'x-envoy-upstream-service-time', 'x-envoy-peer-metadata', 'x-envoy-peer-metadata-id', 'x-b3-traceid',
  'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'traceparent', 'tracestate', 'etag',
  'last-modified', 'location', 'vary', 'expect', 'upgrade', 'te', 'grpc-status', 'grpc-message',
];
for (const n of COMMON) {
  LOWER.set(n, n);
  // the capitalized spellings node:http, curl and most servers send
  LOWER.set(n.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase()), n);
}

/** `raw` in lower case. */
export function lowerHeaderName(raw: string): string {
  const hit = LOWER.get(raw);
  if (hit !== undefined) return hit;
  let k = raw.toLowerCase();
  if (LOWER.size < MAX_NAMES) {
    // the property-key (internalized) copy of the name, so later hits are ready-made keys
    k = Object.keys({ [k]: 0 })[0];
    // the lower-case spelling maps to itself too, so both spellings hit from now on
    LOWER.set(raw, k);
    if (k !== raw && !LOWER.has(k)) LOWER.set(k, k);
  } else HEADER_NAMES_OVERFLOW.inc();
  return k;
}
