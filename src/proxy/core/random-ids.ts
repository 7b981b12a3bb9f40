/**
 * Random identifiers on the request path (x-request-id UUIDs, trace and span ids) from one
 * refilled pool of random bytes: one randomFillSync per 4 KiB instead of one per id, and each id
 * is built as one flat string (no per-character concatenation).
 */
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.alloc(4096);
let poolPos = POOL.length;

function take(bytes: number): number {
  if (poolPos + bytes > POOL.length) {
    randomFillSync(POOL);
    poolPos = 0;
  }
  const at = poolPos;
  poolPos += bytes;
  return at;
}

/** `bytes` random bytes as lower-case hex */
export function randomHex(bytes: number): string {
  const at = take(bytes);
  return POOL.toString('hex', at, at + bytes);
}

const HEX = Buffer.from('0123456789abcdef');
const UUID = Buffer.alloc(36);

/** An RFC 9562 version 4 UUID, as Envoy generates for x-request-id. */
export function newUuid(): string {
  const at = take(16);
  POOL[at + 6] = (POOL[at + 6] & 0x0f) | 0x40; // version 4
  POOL[at + 8] = (POOL[at + 8] & 0x3f) | 0x80; // variant 10
  let o = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) UUID[o++] = 45; // '-'
    const b = POOL[at + i];
    UUID[o++] = HEX[b >> 4];
    UUID[o++] = HEX[b & 15];
  }
  return UUID.toString('latin1', 0, 36);
}
