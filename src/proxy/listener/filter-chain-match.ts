/**
 * Envoy's FilterChainMatch: parsed once per LDS update, and the selection of a connection's
 * filter chain in Envoy's order of criteria: destination port, destination IP (longest prefix),
 * server names (exact, then the longest wildcard), transport protocol, application protocols,
 * direct source IP, source type, source IP, source port. At each step the chains that set the
 * criterion and match it win over those that leave it unset; a chain that sets it and does not
 * match is out. No chain left: the listener's default chain (or none: the connection closes).
 */
import * as net from 'node:net';
import { fail } from '../core/errors.js';
import { onlyKnown } from '../transport/tls-config.js';

interface PrefixRange {
  list: net.BlockList;
  len: number;
}

export interface FilterChainMatch {
  destinationPort: number | undefined;
  prefixRanges: PrefixRange[];
  serverNames: string[];
  transportProtocol: string | undefined;
  applicationProtocols: string[];
  directSourcePrefixRanges: PrefixRange[];
  sourceType: 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';
  sourcePrefixRanges: PrefixRange[];
  sourcePorts: number[];
}

/** What is known of a connection when its chain is chosen. */
export interface ChainQuery {
  destinationPort: number | undefined;
  /** destination address; a hostname (local mode routes by Host) matches every range */
  destinationHost: string | undefined;
  serverName: string | undefined;
  /** 'tls' or 'raw_buffer' */
  transportProtocol: string;
  applicationProtocols: readonly string[];
  sourceAddress: string | undefined;
  sourcePort: number | undefined;
  localAddress: string | undefined;
}

const FIELDS = [
  'destination_port',
  'prefix_ranges',
  'server_names',
  'transport_protocol',
  'application_protocols',
  'direct_source_prefix_ranges',
  'source_type',
  'source_prefix_ranges',
  'source_ports',
];

function u32(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'object' ? Number((v as { value?: number }).value) : Number(v);
}

function ranges(list: unknown, where: string): PrefixRange[] {
  return ((list ?? []) as Array<Record<string, any>>).map((r, i) => {
    const addr = String(r.address_prefix ?? '');
    const family = net.isIP(addr);
    if (family === 0) fail(`${where}[${i}].address_prefix: not an IP address: ${JSON.stringify(addr)}`);
    const max = family === 4 ? 32 : 128;
    const len = u32(r.prefix_len) ?? max;
    if (!(len >= 0 && len <= max)) fail(`${where}[${i}].prefix_len: ${len} is out of range for ${addr}`);
    const blockList = new net.BlockList();
    blockList.addSubnet(addr, len, family === 4 ? 'ipv4' : 'ipv6');
    return { list: blockList, len };
  });
}

export function parseFilterChainMatch(m: Record<string, any> | undefined, where: string): FilterChainMatch {
  const o = m ?? {};
  onlyKnown(o, FIELDS, where);
  const st = String(o.source_type ?? 'ANY');
  if (st !== 'ANY' && st !== 'SAME_IP_OR_LOOPBACK' && st !== 'EXTERNAL') fail(`${where}.source_type: unknown ${st}`);
  return {
    destinationPort: u32(o.destination_port),
    prefixRanges: ranges(o.prefix_ranges, `${where}.prefix_ranges`),
    serverNames: ((o.server_names ?? []) as string[]).map((s) => String(s).toLowerCase()),
    transportProtocol: o.transport_protocol ? String(o.transport_protocol) : undefined,
    applicationProtocols: ((o.application_protocols ?? []) as string[]).map(String),
    directSourcePrefixRanges: ranges(o.direct_source_prefix_ranges, `${where}.direct_source_prefix_ranges`),
    sourceType: st,
    sourcePrefixRanges: ranges(o.source_prefix_ranges, `${where}.source_prefix_ranges`),
    sourcePorts: ((o.source_ports ?? []) as unknown[]).map((p) => Number(u32(p))),
  };
}

/** score of one criterion: NO = excluded, UNSET = the chain does not set it, else higher is more specific */
const NO = -2;
const UNSET = -1;

function ipScore(rs: PrefixRange[], ip: string | undefined): number {
  if (rs.length === 0) return UNSET;
  const family = ip === undefined ? 0 : net.isIP(ip);
  if (family === 0) return 0; // unknown (or a hostname): every range matches alike
  let best = NO;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const r of rs) if (r.len > best && r.list.check(ip!, type)) best = r.len;
  return best;
}

function serverNameScore(names: string[], sni: string | undefined): number {
  if (names.length === 0) return UNSET;
  if (!sni) return NO;
  let best = NO;
  for (const n of names) {
    if (n === sni) return 100_000;
    // `*.example.com` (or `.example.com`) matches any name ending so; the longest suffix wins
    const suffix = n.startsWith('*.') ? n.slice(1) : n.startsWith('.') ? n : undefined;
    if (suffix !== undefined && sni.endsWith(suffix) && sni.length > suffix.length && suffix.length > best) best = suffix.length;
  }
  return best;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.');
}

type Criterion = (m: FilterChainMatch, q: ChainQuery) => number;

const CRITERIA: Criterion[] = [
  (m, q) => (m.destinationPort === undefined ? UNSET : m.destinationPort === q.destinationPort ? 0 : NO),
  (m, q) => ipScore(m.prefixRanges, q.destinationHost),
  (m, q) => serverNameScore(m.serverNames, q.serverName),
  (m, q) => (m.transportProtocol === undefined ? UNSET : m.transportProtocol === q.transportProtocol ? 0 : NO),
  (m, q) => (m.applicationProtocols.length === 0 ? UNSET : m.applicationProtocols.some((p) => q.applicationProtocols.includes(p)) ? 0 : NO),
  (m, q) => ipScore(m.directSourcePrefixRanges, q.sourceAddress),
  (m, q) => {
    if (m.sourceType === 'ANY') return UNSET;
    const src = q.sourceAddress;
    if (src === undefined) return NO;
    const local = isLoopback(src) || src === q.localAddress;
    return (m.sourceType === 'SAME_IP_OR_LOOPBACK') === local ? 0 : NO;
  },
  (m, q) => ipScore(m.sourcePrefixRanges, q.sourceAddress),
  (m, q) => (m.sourcePorts.length === 0 ? UNSET : q.sourcePort !== undefined && m.sourcePorts.includes(q.sourcePort) ? 0 : NO),
];

/** The chain for a connection among `chains` (first in order on a tie), or undefined. */
export function selectByMatch<C extends { match: FilterChainMatch }>(chains: readonly C[], q: ChainQuery): C | undefined {
  let cands: readonly C[] = chains;
  for (const crit of CRITERIA) {
    let best = NO;
    let next: C[] = [];
    for (const c of cands) {
      const s = crit(c.match, q);
      if (s === NO) continue;
      if (s > best) {
        best = s;
        next = [c];
      } else if (s === best) next.push(c);
    }
    if (next.length === 0) return undefined;
    cands = next;
  }
  return cands[0];
}

/** Whether any chain depends on what the TLS inspector finds (then it runs even if not configured, as Envoy does). */
export function needsTlsInspection(matches: readonly FilterChainMatch[]): boolean {
  return matches.some((m) => m.transportProtocol === 'tls' || m.serverNames.length > 0);
}

/** Whether any chain depends on the application protocol (then the first bytes are read). */
export function needsAppProtocols(matches: readonly FilterChainMatch[]): boolean {
  return matches.some((m) => m.applicationProtocols.length > 0);
}
