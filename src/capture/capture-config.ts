/**
 * What istio-iptables is told (its flags and their defaults as the sidecar injector passes them),
 * parsed and checked once: ports are numbers, CIDRs are split by family, uids/gids are lists.
 * Bad values are a CaptureError naming the flag.
 *
 *   -p 15001  -z 15006  -e 15008  -u 1337  -g (= -u)  -m REDIRECT  -b '*'  -d 15090,15021,15020
 *   -i '*'  -x ''  -o ''  -q ''  -c ''  -k ''  -t 1337  -r 133
 */
import { isIP } from 'node:net';
import { CaptureError } from './capture-errors.js';

export type InterceptionMode = 'REDIRECT' | 'TPROXY';

/** A CIDR split into family and text (`10.0.0.0/8`, `2001:db8::/32`). */
export interface Cidr {
  family: 4 | 6;
  text: string;
  /** the address written is a loopback address (127.x.y.z, ::1) */
  loopback: boolean;
}

export interface CidrRange {
  wildcard: boolean;
  cidrs: Cidr[];
}

export interface CaptureConfig {
  /** -p: outbound capture port (virtualOutbound) */
  proxyPort: number;
  /** -z: inbound capture port (virtualInbound) */
  inboundCapturePort: number;
  /** -e: HBONE tunnel port, never captured inbound */
  inboundTunnelPort: number;
  /** -u: uids whose traffic is not captured (the proxy's) */
  proxyUids: string[];
  /** -g: gids whose traffic is not captured (default: the uids) */
  proxyGids: string[];
  /** -m */
  mode: InterceptionMode;
  /** -b: '*' (all), a list, or none (empty list: inbound capture off) */
  inboundPorts: '*' | number[];
  /** -d: inbound ports left alone when -b is '*' */
  inboundPortsExclude: number[];
  /** -i: outbound destinations captured: '*' or CIDRs (none: outbound capture off) */
  outboundIpRanges: CidrRange;
  /** -x: outbound destinations never captured */
  outboundIpRangesExclude: Cidr[];
  /** -q: outbound ports always captured (even outside -i) */
  outboundPortsInclude: number[];
  /** -o: outbound ports never captured */
  outboundPortsExclude: number[];
  /** -c: interfaces whose traffic is never captured */
  excludeInterfaces: string[];
  /** -k: virtual interfaces whose inbound traffic is treated as outbound */
  kubeVirtInterfaces: string[];
  /** -t: TPROXY mark */
  tproxyMark: number;
  /** -r: TPROXY route table */
  tproxyRouteTable: number;
  /** --redirect-dns: UDP/TCP 53 to the DNS proxy (15053) */
  redirectDns: boolean;
  /** --capture-all-dns: every destination on port 53, not only the resolv.conf servers */
  captureAllDns: boolean;
  /** the resolv.conf name servers (DNS capture without --capture-all-dns) */
  dnsServers: string[];
  /** IPv6 rules too (ip6tables) */
  ipv6: boolean;
  /** --drop-invalid: drop conntrack INVALID packets instead of resetting connections */
  dropInvalid: boolean;
  /** the IPv4 loopback range that is never captured (ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR) */
  hostIpv4LoopbackCidr: string;
}

/** The flags as strings, istio-iptables' way (every field optional; defaults as injected). */
export interface CaptureFlags {
  proxyPort?: string;
  inboundCapturePort?: string;
  inboundTunnelPort?: string;
  proxyUid?: string;
  proxyGid?: string;
  mode?: string;
  inboundPorts?: string;
  inboundPortsExclude?: string;
  outboundIpRanges?: string;
  outboundIpRangesExclude?: string;
  outboundPortsInclude?: string;
  outboundPortsExclude?: string;
  excludeInterfaces?: string;
  kubeVirtInterfaces?: string;
  tproxyMark?: string;
  tproxyRouteTable?: string;
  redirectDns?: boolean;
  captureAllDns?: boolean;
  dnsServers?: string;
  ipv6?: boolean;
  dropInvalid?: boolean;
  /** Istio's ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR (default 127.0.0.1/32) */
  hostIpv4LoopbackCidr?: string;
}

/** The injector's defaults (the facts file's table): what `clew iptables` with no flags applies. */
export const CAPTURE_DEFAULTS: Readonly<Required<Omit<CaptureFlags, 'proxyGid' | 'dnsServers' | 'ipv6'>>> = Object.freeze({
  proxyPort: '15001',
  inboundCapturePort: '15006',
  inboundTunnelPort: '15008',
  proxyUid: '1337',
  mode: 'REDIRECT',
  inboundPorts: '*',
  inboundPortsExclude: '15090,15021,15020',
  outboundIpRanges: '*',
  outboundIpRangesExclude: '',
  outboundPortsInclude: '',
  outboundPortsExclude: '',
  excludeInterfaces: '',
  kubeVirtInterfaces: '',
  tproxyMark: '1337',
  tproxyRouteTable: '133',
  redirectDns: false,
  captureAllDns: false,
  dropInvalid: false,
  hostIpv4LoopbackCidr: '127.0.0.1/32',
});

export const DNS_PROXY_PORT = 15053;

function bad(flag: string, message: string): never {
  throw new CaptureError('CLEW_CAPTURE_BAD_OPTION', `${flag}: ${message}`);
}

/** Istio's split: empty string = empty list; empty items (a trailing comma) are dropped. */
export function splitList(v: string | undefined): string[] {
  if (!v) return [];
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function port(v: string, flag: string): number {
  if (!/^\d+$/.test(v)) bad(flag, `invalid port ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n < 1 || n > 65535) bad(flag, `port ${v} out of range 1-65535`);
  return n;
}

function ports(v: string | undefined, flag: string): number[] {
  return [...new Set(splitList(v).map((p) => port(p, flag)))];
}

function integer(v: string, flag: string, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) > max) bad(flag, `invalid number ${JSON.stringify(v)}`);
  return Number(v);
}

/** `10.0.0.0/8`, `2001:db8::/32`; a bare address is a host route (/32, /128). */
export function parseCidr(text: string, flag: string): Cidr {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(addr);
  if (family !== 4 && family !== 6) bad(flag, `invalid CIDR ${JSON.stringify(text)}`);
  const max = family === 4 ? 32 : 128;
  const len = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0 || len > max || (slash >= 0 && !/^\d+$/.test(text.slice(slash + 1)))) {
    bad(flag, `invalid prefix length in ${JSON.stringify(text)}`);
  }
  const network = maskAddress(addr, family, len);
  // Istio's test: the address written is a loopback address (not: the range contains one)
  const loopback = family === 4 ? addr.startsWith('127.') : compressV6(expandV6(addr)) === '::1';
  return { family, text: `${network}/${len}`, loopback };
}

/** The network address of addr/len in canonical text (as iptables prints it). */
function maskAddress(addr: string, family: 4 | 6, len: number): string {
  if (family === 4) {
    const parts = addr.split('.').map(Number);
    let n = ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
    n = len === 0 ? 0 : (n & ((~0 << (32 - len)) >>> 0)) >>> 0;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  }
  const words = expandV6(addr);
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, len - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    out.push(words[i] & mask);
  }
  return compressV6(out);
}

export function expandV6(addr: string): number[] {
  let text = addr;
  // an embedded IPv4 tail (::ffff:1.2.3.4, ::127.0.0.53)
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const p = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  return [...h, ...Array(fill).fill('0'), ...t].map((w) => parseInt(w, 16));
}

/** RFC 5952 text: lower case, the longest run of zero words (2+) as `::`. */
export function compressV6(words: number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function cidrRange(v: string | undefined, flag: string): CidrRange {
  if (v?.trim() === '*') return { wildcard: true, cidrs: [] };
  return { wildcard: false, cidrs: splitList(v).map((c) => parseCidr(c, flag)) };
}

function ownerIds(v: string, flag: string): string[] {
  const ids = splitList(v);
  for (const id of ids) {
    // iptables' owner match takes a number or a user/group name (resolved when the rule is added)
    if (!/^\d+$/.test(id) && !/^[a-z_][a-z0-9_-]*\$?$/i.test(id)) bad(flag, `invalid user or group ${JSON.stringify(id)}`);
  }
  return ids;
}

function interfaces(v: string | undefined, flag: string): string[] {
  const out = splitList(v);
  for (const i of out) if (!/^[A-Za-z0-9_.@+-]{1,15}$/.test(i)) bad(flag, `invalid interface name ${JSON.stringify(i)}`);
  return out;
}

/** Flags (strings, istio-iptables' meaning) -> a checked CaptureConfig. */
export function parseCaptureFlags(f: CaptureFlags = {}): CaptureConfig {
  const d = CAPTURE_DEFAULTS;
  const mode = String(f.mode ?? d.mode).toUpperCase();
  if (mode !== 'REDIRECT' && mode !== 'TPROXY') bad('-m', `must be REDIRECT or TPROXY, got ${JSON.stringify(f.mode)}`);
  const proxyUids = ownerIds(f.proxyUid ?? d.proxyUid, '-u');
  if (proxyUids.length === 0) bad('-u', 'at least one uid is needed (the proxy\'s traffic must not be captured again)');
  const proxyGids = f.proxyGid !== undefined && f.proxyGid !== '' ? ownerIds(f.proxyGid, '-g') : proxyUids;
  const inboundRaw = (f.inboundPorts ?? d.inboundPorts).trim();
  const exclude = (f.outboundIpRangesExclude ?? d.outboundIpRangesExclude).trim();
  if (exclude === '*') bad('-x', "'*' is not allowed (it would exclude everything; use -i '' to disable outbound capture)");
  const dnsServers = splitList(f.dnsServers);
  for (const s of dnsServers) if (!isIP(s)) bad('--dns-servers', `invalid address ${JSON.stringify(s)}`);
  const loop = parseCidr(f.hostIpv4LoopbackCidr ?? d.hostIpv4LoopbackCidr, 'ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR');
  if (loop.family !== 4 || !loop.loopback) bad('ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR', `must be an IPv4 range in 127.0.0.0/8, got ${JSON.stringify(f.hostIpv4LoopbackCidr)}`);
  return {
    proxyPort: port(f.proxyPort ?? d.proxyPort, '-p'),
    inboundCapturePort: port(f.inboundCapturePort ?? d.inboundCapturePort, '-z'),
    inboundTunnelPort: port(f.inboundTunnelPort ?? d.inboundTunnelPort, '-e'),
    proxyUids,
    proxyGids,
    mode: mode as InterceptionMode,
    inboundPorts: inboundRaw === '*' ? '*' : ports(inboundRaw, '-b'),
    inboundPortsExclude: ports(f.inboundPortsExclude ?? d.inboundPortsExclude, '-d'),
    outboundIpRanges: cidrRange(f.outboundIpRanges ?? d.outboundIpRanges, '-i'),
    outboundIpRangesExclude: splitList(exclude).map((c) => parseCidr(c, '-x')),
    outboundPortsInclude: ports(f.outboundPortsInclude ?? d.outboundPortsInclude, '-q'),
    outboundPortsExclude: ports(f.outboundPortsExclude ?? d.outboundPortsExclude, '-o'),
    excludeInterfaces: interfaces(f.excludeInterfaces ?? d.excludeInterfaces, '-c'),
    kubeVirtInterfaces: interfaces(f.kubeVirtInterfaces ?? d.kubeVirtInterfaces, '-k'),
    tproxyMark: integer(f.tproxyMark ?? d.tproxyMark, '-t', 0xffffffff),
    tproxyRouteTable: integer(f.tproxyRouteTable ?? d.tproxyRouteTable, '-r', 0xffffffff),
    redirectDns: f.redirectDns ?? d.redirectDns,
    captureAllDns: f.captureAllDns ?? d.captureAllDns,
    dnsServers,
    ipv6: f.ipv6 ?? true,
    dropInvalid: f.dropInvalid ?? d.dropInvalid,
    hostIpv4LoopbackCidr: loop.text,
  };
}
