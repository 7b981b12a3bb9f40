/**
 * The capture rules for a CaptureConfig, per IP family: a pure function with istio-iptables'
 * chains (ISTIO_INBOUND, ISTIO_REDIRECT, ISTIO_IN_REDIRECT, ISTIO_OUTPUT, and ISTIO_DIVERT /
 * ISTIO_TPROXY for TPROXY, ISTIO_OUTPUT_DNS for DNS capture, ISTIO_DROP) and its rules in its
 * order, so the restore text is the one istio-iptables prints for the same flags.
 *
 * What the rules do (REDIRECT, defaults):
 * - inbound: every TCP connection to the pod (PREROUTING) goes to 15006, except the tunnel port
 *   and the excluded ports (-d); with -b a list, only those ports.
 * - outbound: everything the pod sends (OUTPUT) goes to 15001, except: traffic of the proxy's
 *   uid/gid (its own upstream connections), traffic from 127.0.0.6 (the proxy's inbound
 *   passthrough), loopback traffic between local processes, excluded ports (-o) and CIDRs (-x).
 *   The proxy calling its own pod's address over `lo` (app -> sidecar -> same pod's service) goes
 *   back through the inbound capture port.
 */
import { DNS_PROXY_PORT, type CaptureConfig, type Cidr } from './capture-config.js';

export type IptTable = 'nat' | 'mangle' | 'raw';

export interface IptRule {
  table: IptTable;
  chain: string;
  /** `-A` appends; `-I` inserts at `position` */
  op: '-A' | '-I';
  position?: number;
  /** everything after the chain (matches and target) */
  spec: string[];
}

export interface FamilyRules {
  family: 4 | 6;
  rules: IptRule[];
}

export const ISTIO_INBOUND = 'ISTIO_INBOUND';
export const ISTIO_REDIRECT = 'ISTIO_REDIRECT';
export const ISTIO_IN_REDIRECT = 'ISTIO_IN_REDIRECT';
export const ISTIO_OUTPUT = 'ISTIO_OUTPUT';
export const ISTIO_OUTPUT_DNS = 'ISTIO_OUTPUT_DNS';
export const ISTIO_DIVERT = 'ISTIO_DIVERT';
export const ISTIO_TPROXY = 'ISTIO_TPROXY';
export const ISTIO_DROP = 'ISTIO_DROP';
/** the mark the proxy's packets to its own pod carry in TPROXY mode */
export const OUTBOUND_MARK = '1338';

export const BUILTIN_CHAINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

/** Rules for one family, appended in istio-iptables' order. */
class FamilyBuilder {
  readonly rules: IptRule[] = [];
  constructor(readonly family: 4 | 6) {}

  append(table: IptTable, chain: string, ...spec: string[]): void {
    this.rules.push({ table, chain, op: '-A', spec });
  }

  insert(table: IptTable, chain: string, position: number, ...spec: string[]): void {
    this.rules.push({ table, chain, op: '-I', position, spec });
  }
}

/** Both families at once (Istio's AppendRule), or one (AppendRuleV4/V6). */
class RuleBuilder {
  readonly v4 = new FamilyBuilder(4);
  readonly v6: FamilyBuilder | undefined;

  constructor(ipv6: boolean) {
    this.v6 = ipv6 ? new FamilyBuilder(6) : undefined;
  }

  private each(): FamilyBuilder[] {
    return this.v6 ? [this.v4, this.v6] : [this.v4];
  }

  append(table: IptTable, chain: string, ...spec: string[]): void {
    for (const f of this.each()) f.append(table, chain, ...spec);
  }

  insert(table: IptTable, chain: string, position: number, ...spec: string[]): void {
    for (const f of this.each()) f.insert(table, chain, position, ...spec);
  }

  /** the same rule with a family-specific address: `addr(4)` / `addr(6)` */
  appendVersioned(v4: string, v6: string, table: IptTable, chain: string, spec: (addr: string) => string[]): void {
    this.v4.append(table, chain, ...spec(v4));
    this.v6?.append(table, chain, ...spec(v6));
  }

  family(f: 4 | 6): FamilyBuilder | undefined {
    return f === 4 ? this.v4 : this.v6;
  }
}

const LOOPBACK6 = '::1/128';

function inboundRules(b: RuleBuilder, c: CaptureConfig): void {
  const include = c.inboundPorts;
  if (include !== '*' && include.length === 0) return;
  const tproxy = c.mode === 'TPROXY';
  const table: IptTable = tproxy ? 'mangle' : 'nat';
  const mark = String(c.tproxyMark);
  if (tproxy) {
    // a packet entering ISTIO_DIVERT is marked, so policy routing hands it to the local stack
    b.append('mangle', ISTIO_DIVERT, '-j', 'MARK', '--set-mark', mark);
    b.append('mangle', ISTIO_DIVERT, '-j', 'ACCEPT');
    b.appendVersioned(c.hostIpv4LoopbackCidr, LOOPBACK6, 'mangle', ISTIO_TPROXY, (lo) => [
      '!', '-d', lo, '-p', 'tcp', '-j', 'TPROXY', '--tproxy-mark', `${mark}/0xffffffff`, '--on-port', String(c.inboundCapturePort),
    ]);
  }
  b.append(table, 'PREROUTING', '-p', 'tcp', '-j', ISTIO_INBOUND);
  if (include === '*') {
    for (const p of c.inboundPortsExclude) b.append(table, ISTIO_INBOUND, '-p', 'tcp', '--dport', String(p), '-j', 'RETURN');
    if (tproxy) {
      // packets of connections already accepted by the proxy go straight to it
      b.append('mangle', ISTIO_INBOUND, '-p', 'tcp', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', ISTIO_DIVERT);
      b.append('mangle', ISTIO_INBOUND, '-p', 'tcp', '-j', ISTIO_TPROXY);
    } else {
      b.append('nat', ISTIO_INBOUND, '-p', 'tcp', '-j', ISTIO_IN_REDIRECT);
    }
    return;
  }
  for (const p of include) {
    const port = String(p);
    if (tproxy) {
      b.append('mangle', ISTIO_INBOUND, '-p', 'tcp', '--dport', port, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', ISTIO_DIVERT);
      b.append('mangle', ISTIO_INBOUND, '-p', 'tcp', '--dport', port, '-j', ISTIO_TPROXY);
    } else {
      b.append('nat', ISTIO_INBOUND, '-p', 'tcp', '--dport', port, '-j', ISTIO_IN_REDIRECT);
    }
  }
}

/** DNS capture (istio-agent's DNS proxy on 15053) and its conntrack zones. */
function dnsRules(b: RuleBuilder, c: CaptureConfig): void {
  const v4Servers = c.dnsServers.filter((s) => !s.includes(':'));
  const v6Servers = c.dnsServers.filter((s) => s.includes(':'));
  const to = String(DNS_PROXY_PORT);
  b.append('raw', 'OUTPUT', '-j', ISTIO_OUTPUT_DNS);
  if (c.captureAllDns || v4Servers.length > 0) b.v4.append('nat', ISTIO_OUTPUT, '-j', ISTIO_OUTPUT_DNS);
  if (c.captureAllDns || v6Servers.length > 0) b.v6?.append('nat', ISTIO_OUTPUT, '-j', ISTIO_OUTPUT_DNS);
  const perServer = (proto: 'tcp' | 'udp', target: string[]): void => {
    if (c.captureAllDns) {
      b.append('nat', ISTIO_OUTPUT_DNS, '-p', proto, '--dport', '53', '-j', 'REDIRECT', ...target);
      return;
    }
    for (const s of v4Servers) b.v4.append('nat', ISTIO_OUTPUT_DNS, '-p', proto, '--dport', '53', '-d', `${s}/32`, '-j', 'REDIRECT', ...target);
    for (const s of v6Servers) b.v6?.append('nat', ISTIO_OUTPUT_DNS, '-p', proto, '--dport', '53', '-d', `${s}/128`, '-j', 'REDIRECT', ...target);
  };
  perServer('tcp', ['--to-ports', to]);
  perServer('udp', ['--to-port', to]);
  // UDP DNS in two conntrack zones: proxy <-> upstream servers (1), app <-> proxy (2)
  for (const uid of c.proxyUids) {
    b.append('raw', ISTIO_OUTPUT_DNS, '-p', 'udp', '--dport', '53', '-m', 'owner', '--uid-owner', uid, '-j', 'CT', '--zone', '1');
    b.append('raw', ISTIO_OUTPUT_DNS, '-p', 'udp', '--sport', to, '-m', 'owner', '--uid-owner', uid, '-j', 'CT', '--zone', '2');
  }
  for (const gid of c.proxyGids) {
    b.append('raw', ISTIO_OUTPUT_DNS, '-p', 'udp', '--dport', '53', '-m', 'owner', '--gid-owner', gid, '-j', 'CT', '--zone', '1');
    b.append('raw', ISTIO_OUTPUT_DNS, '-p', 'udp', '--sport', to, '-m', 'owner', '--gid-owner', gid, '-j', 'CT', '--zone', '2');
  }
  if (c.captureAllDns) {
    b.append('raw', 'PREROUTING', '-j', ISTIO_INBOUND);
    b.append('raw', ISTIO_OUTPUT_DNS, '-p', 'udp', '--dport', '53', '-j', 'CT', '--zone', '2');
    b.append('raw', ISTIO_INBOUND, '-p', 'udp', '--sport', '53', '-j', 'CT', '--zone', '1');
    return;
  }
  if (v4Servers.length > 0) b.v4.append('raw', 'PREROUTING', '-j', ISTIO_INBOUND);
  for (const s of v4Servers) {
    b.v4.append('raw', ISTIO_OUTPUT_DNS, '-p', 'udp', '--dport', '53', '-d', `${s}/32`, '-j', 'CT', '--zone', '2');
    b.v4.append('raw', ISTIO_INBOUND, '-p', 'udp', '--sport', '53', '-s', `${s}/32`, '-j', 'CT', '--zone', '1');
  }
  if (v6Servers.length > 0) b.v6?.append('raw', 'PREROUTING', '-j', ISTIO_INBOUND);
  for (const s of v6Servers) {
    b.v6?.append('raw', ISTIO_OUTPUT_DNS, '-p', 'udp', '--dport', '53', '-d', `${s}/128`, '-j', 'CT', '--zone', '2');
    b.v6?.append('raw', ISTIO_INBOUND, '-p', 'udp', '--sport', '53', '-s', `${s}/128`, '-j', 'CT', '--zone', '1');
  }
}

function outboundIncludeRules(b: RuleBuilder, c: CaptureConfig, family: 4 | 6): void {
  const f = b.family(family);
  if (!f) return;
  const range = c.outboundIpRanges;
  if (range.wildcard) {
    f.append('nat', ISTIO_OUTPUT, '-j', ISTIO_REDIRECT);
    for (const i of c.kubeVirtInterfaces) f.insert('nat', 'PREROUTING', 1, '-i', i, '-j', ISTIO_REDIRECT);
    return;
  }
  for (const cidr of range.cidrs.filter((x) => x.family === family)) {
    for (const i of c.kubeVirtInterfaces) f.insert('nat', 'PREROUTING', 1, '-i', i, '-d', cidr.text, '-j', ISTIO_REDIRECT);
    f.append('nat', ISTIO_OUTPUT, '-d', cidr.text, '-j', ISTIO_REDIRECT);
  }
}

function tproxyOutputRules(b: RuleBuilder, c: CaptureConfig): void {
  const mark = String(c.tproxyMark);
  // the mark the original_src filter sets becomes the connection's mark
  b.append('mangle', 'PREROUTING', '-p', 'tcp', '-m', 'mark', '--mark', mark, '-j', 'CONNMARK', '--save-mark');
  // proxy -> app packets already marked are not marked again
  b.append('mangle', 'OUTPUT', '-p', 'tcp', '-o', 'lo', '-m', 'mark', '--mark', mark, '-j', 'RETURN');
  for (const uid of c.proxyUids) {
    b.appendVersioned(c.hostIpv4LoopbackCidr, LOOPBACK6, 'mangle', 'OUTPUT', (lo) => [
      '!', '-d', lo, '-p', 'tcp', '-o', 'lo', '-m', 'owner', '--uid-owner', uid, '-j', 'MARK', '--set-mark', OUTBOUND_MARK,
    ]);
  }
  for (const gid of c.proxyGids) {
    b.appendVersioned(c.hostIpv4LoopbackCidr, LOOPBACK6, 'mangle', 'OUTPUT', (lo) => [
      '!', '-d', lo, '-p', 'tcp', '-o', 'lo', '-m', 'owner', '--gid-owner', gid, '-j', 'MARK', '--set-mark', OUTBOUND_MARK,
    ]);
  }
  b.append('mangle', 'OUTPUT', '-p', 'tcp', '-m', 'connmark', '--mark', mark, '-j', 'CONNMARK', '--restore-mark');
  b.insert('mangle', ISTIO_INBOUND, 1, '-p', 'tcp', '-m', 'mark', '--mark', mark, '-j', 'RETURN');
  b.v4.insert('mangle', ISTIO_INBOUND, 2, '-p', 'tcp', '-s', '127.0.0.6/32', '-i', 'lo', '-j', 'RETURN');
  b.v6?.insert('mangle', ISTIO_INBOUND, 2, '-p', 'tcp', '-s', '::6/128', '-i', 'lo', '-j', 'RETURN');
  b.insert('mangle', ISTIO_INBOUND, 3, '-p', 'tcp', '-i', 'lo', '-m', 'mark', '!', '--mark', OUTBOUND_MARK, '-j', 'RETURN');
}

/** The rules istio-iptables adds for `c`, per family (IPv6 only when c.ipv6). */
export function buildCaptureRules(c: CaptureConfig): FamilyRules[] {
  const b = new RuleBuilder(c.ipv6);
  const tunnel = String(c.inboundTunnelPort);
  for (const i of c.excludeInterfaces) {
    b.append('nat', 'PREROUTING', '-i', i, '-j', 'RETURN');
    b.append('nat', 'OUTPUT', '-o', i, '-j', 'RETURN');
  }
  if (c.mode === 'TPROXY') {
    for (const i of c.excludeInterfaces) {
      b.append('mangle', 'PREROUTING', '-i', i, '-j', 'RETURN');
      b.append('mangle', 'OUTPUT', '-o', i, '-j', 'RETURN');
    }
  }
  for (const i of c.kubeVirtInterfaces) b.insert('nat', 'PREROUTING', 1, '-i', i, '-j', 'RETURN');
  if (c.dropInvalid) {
    b.append('mangle', 'PREROUTING', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', ISTIO_DROP);
    b.append('mangle', ISTIO_DROP, '-j', 'DROP');
  }
  b.append('nat', ISTIO_INBOUND, '-p', 'tcp', '--dport', tunnel, '-j', 'RETURN');
  b.append('nat', ISTIO_REDIRECT, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(c.proxyPort));
  b.append('nat', ISTIO_IN_REDIRECT, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(c.inboundCapturePort));
  inboundRules(b, c);

  b.append('nat', 'OUTPUT', '-j', ISTIO_OUTPUT);
  for (const p of c.outboundPortsExclude) {
    b.append('nat', ISTIO_OUTPUT, '-p', 'tcp', '--dport', String(p), '-j', 'RETURN');
    b.append('nat', ISTIO_OUTPUT, '-p', 'udp', '--dport', String(p), '-j', 'RETURN');
  }
  // connections the proxy opens from 127.0.0.6 (inbound passthrough) are never captured
  b.appendVersioned('127.0.0.6/32', '::6/128', 'nat', ISTIO_OUTPUT, (src) => ['-o', 'lo', '-s', src, '-j', 'RETURN']);
  const includesLoopback = c.outboundIpRanges.cidrs.some((x: Cidr) => x.loopback);
  const dns = c.redirectDns && (c.captureAllDns || c.dnsServers.length > 0);
  for (const uid of c.proxyUids) {
    // the proxy calling this pod's own address over lo (app -> VIP -> own pod) enters inbound
    b.appendVersioned(c.hostIpv4LoopbackCidr, LOOPBACK6, 'nat', ISTIO_OUTPUT, (lo) => dns
      ? ['-o', 'lo', '!', '-d', lo, '-p', 'tcp', '-m', 'multiport', '!', '--dports', `53,${tunnel}`, '-m', 'owner', '--uid-owner', uid, '-j', ISTIO_IN_REDIRECT]
      : ['-o', 'lo', '!', '-d', lo, '-p', 'tcp', '!', '--dport', tunnel, '-m', 'owner', '--uid-owner', uid, '-j', ISTIO_IN_REDIRECT]);
    // app -> own pod address over lo stays direct
    if (!includesLoopback) {
      if (dns) b.append('nat', ISTIO_OUTPUT, '-o', 'lo', '-p', 'tcp', '!', '--dport', '53', '-m', 'owner', '!', '--uid-owner', uid, '-j', 'RETURN');
      else b.append('nat', ISTIO_OUTPUT, '-o', 'lo', '-m', 'owner', '!', '--uid-owner', uid, '-j', 'RETURN');
    }
    // the proxy's own connections leave as they are (no loop)
    b.append('nat', ISTIO_OUTPUT, '-m', 'owner', '--uid-owner', uid, '-j', 'RETURN');
  }
  for (const gid of c.proxyGids) {
    b.appendVersioned(c.hostIpv4LoopbackCidr, LOOPBACK6, 'nat', ISTIO_OUTPUT, (lo) => [
      '-o', 'lo', '!', '-d', lo, '-p', 'tcp', '!', '--dport', tunnel, '-m', 'owner', '--gid-owner', gid, '-j', ISTIO_IN_REDIRECT,
    ]);
    if (!includesLoopback) {
      if (dns) b.append('nat', ISTIO_OUTPUT, '-o', 'lo', '-p', 'tcp', '!', '--dport', '53', '-m', 'owner', '!', '--gid-owner', gid, '-j', 'RETURN');
      else b.append('nat', ISTIO_OUTPUT, '-o', 'lo', '-m', 'owner', '!', '--gid-owner', gid, '-j', 'RETURN');
    }
    b.append('nat', ISTIO_OUTPUT, '-m', 'owner', '--gid-owner', gid, '-j', 'RETURN');
  }
  if (dns) dnsRules(b, c);
  // local processes talking over localhost are never captured
  b.appendVersioned(c.hostIpv4LoopbackCidr, LOOPBACK6, 'nat', ISTIO_OUTPUT, (lo) => ['-d', lo, '-j', 'RETURN']);
  for (const cidr of c.outboundIpRangesExclude) b.family(cidr.family)?.append('nat', ISTIO_OUTPUT, '-d', cidr.text, '-j', 'RETURN');
  for (const p of c.outboundPortsInclude) b.append('nat', ISTIO_OUTPUT, '-p', 'tcp', '--dport', String(p), '-j', ISTIO_REDIRECT);
  outboundIncludeRules(b, c, 4);
  outboundIncludeRules(b, c, 6);
  if (c.mode === 'TPROXY') tproxyOutputRules(b, c);
  const out: FamilyRules[] = [{ family: 4, rules: b.v4.rules }];
  if (b.v6) out.push({ family: 6, rules: b.v6.rules });
  return out;
}

/** The user chains the rules use (created or jumped to), per table, in first-use order. */
export function chainsOf(rules: IptRule[]): Map<IptTable, string[]> {
  const out = new Map<IptTable, string[]>();
  const add = (table: IptTable, chain: string): void => {
    if (BUILTIN_CHAINS.has(chain)) return;
    const list = out.get(table) ?? [];
    if (!list.includes(chain)) list.push(chain);
    out.set(table, list);
  };
  for (const r of rules) add(r.table, r.chain);
  for (const r of rules) {
    const j = r.spec.indexOf('-j');
    const target = j >= 0 ? r.spec[j + 1] : undefined;
    if (target?.startsWith('ISTIO_') && j === r.spec.length - 2) add(r.table, target);
  }
  return out;
}

export function ruleLine(r: IptRule): string {
  return [r.op, r.chain, ...(r.op === '-I' ? [String(r.position ?? 1)] : []), ...r.spec].join(' ');
}

/**
 * iptables-restore input in istio-iptables' layout: tables in alphabetical order, each with its
 * `-N` chain declarations first, then the rules in order, then COMMIT.
 */
export function restoreText(rules: IptRule[]): string {
  const chains = chainsOf(rules);
  const tables = [...new Set(rules.map((r) => r.table))].sort();
  const lines: string[] = [];
  for (const t of tables) {
    lines.push(`* ${t}`);
    for (const c of chains.get(t) ?? []) lines.push(`-N ${c}`);
    for (const r of rules) if (r.table === t) lines.push(ruleLine(r));
    lines.push('COMMIT');
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
