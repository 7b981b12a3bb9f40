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
  return (ip) => {
    const p = plainIp(ip);
    const f = isIP(p);
    if (f === 0) return false;
    return f === family && list.check(p, type);
  };
}
