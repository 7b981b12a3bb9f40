/** envoy.config.core.v3.CidrRange compiled once (node's BlockList: IPv4 and IPv6, prefix match). */
import { BlockList, isIP } from 'node:net';
import { fail } from './errors.js';

export type IpPredicate = (ip: string) => boolean;

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket reports) as IPv4. */
export function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** `{address_prefix, prefix_len: {value}}`; `where` names the field in the NACK message. */
export function compileCidr(c: Record<string, any> | undefined, where: string): IpPredicate {
  const addr = String(c?.address_prefix ?? '');
  const family = isIP(addr);
  if (family === 0) fail(`${where}: address_prefix ${JSON.stringify(addr)} is not an IP address`);
  const max = family === 4 ? 32 : 128;
  const raw = c?.prefix_len?.value ?? c?.prefix_len;
  const len = raw === undefined || raw === null ? max : Number(raw);
  if (!Number.isInteger(len) || len < 0 || len > max) fail(`${where}: prefix_len ${String(raw)} is out of range 0..${max}`);
  const list = new BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  list.addSubnet(addr, len, type);
  const slow = (ip: string): boolean => {
    const p = plainIp(ip);
    const f = isIP(p);
    if (f === 0) return false;
    return f === family && list.check(p, type);
  };
  // BlockList.check builds a SocketAddress per call (about 4 µs): a dotted-quad IPv4 address,
  // the common case, is compared as a number instead; anything else takes the BlockList, with
  // the last answer kept (a connection asks about the same address on every request)
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const net = family === 4 ? (ipv4Number(addr)! & mask) >>> 0 : 0;
  let lastIp = '';
  let lastResult = false;
  return (ip) => {
    const v4 = ipv4Number(ip.startsWith('::ffff:') ? ip.slice(7) : ip);
    if (v4 !== undefined) return family === 4 && ((v4 & mask) >>> 0) === net;
    if (ip !== lastIp) {
      lastResult = slow(ip);
      lastIp = ip;
    }
    return lastResult;
  };
}

const DOT = 46;
const ZERO = 48;

/**
 * A dotted-quad IPv4 address in the form node's isIP accepts (four decimal parts 0-255 without
 * leading zeros) as an unsigned 32-bit number; undefined for anything else.
 */
export function ipv4Number(s: string): number | undefined {
  const n = s.length;
  if (n < 7 || n > 15) return undefined;
  let out = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : DOT;
    if (c === DOT) {
      if (digits === 0) return undefined;
      out = out * 256 + part;
      parts++;
      part = 0;
      digits = 0;
      continue;
    }
    const d = c - ZERO;
    if (d < 0 || d > 9) return undefined;
    // a leading zero is only a part of its own ("0")
    if (digits === 1 && part === 0) return undefined;
    part = part * 10 + d;
    if (part > 255) return undefined;
    digits++;
  }
  return parts === 4 ? out : undefined;
}
