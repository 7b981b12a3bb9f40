/**
 * Virtual IPs for services, as Kubernetes allocates ClusterIPs and Istio auto-allocates
 * ServiceEntry addresses:
 * - a Service without `clusterIP` gets one from the service CIDR (default 10.96.0.0/12, the
 *   Kubernetes default); `clusterIP: None` (headless) gets none; a given clusterIP is kept;
 * - a ServiceEntry host without `addresses`, not a wildcard and with a resolution other than NONE
 *   gets one from 240.240.0.0/16 (Istio's auto-allocation range).
 * An allocation is stable: the first choice is a hash of the key (kind/namespace/name or host),
 * taken slots move it along, and allocations are kept in a store (the control plane persists
 * them in its state dir) so a restart gives every service the address it had. A deleted
 * service's address is released.
 */
import { isIP } from 'node:net';
import type { MeshService } from './types.js';

export const DEFAULT_SERVICE_CIDR = '10.96.0.0/12';
export const AUTO_ALLOCATE_CIDR = '240.240.0.0/16';

export interface VipStore {
  load(): Record<string, string>;
  save(allocations: Record<string, string>): void;
}

export const MEMORY_VIP_STORE: VipStore = { load: () => ({}), save: () => undefined };

interface Range {
  base: number;
  size: number;
}

export function parseCidr4(cidr: string): Range {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m || isIP(m[1]) !== 4 || Number(m[2]) < 8 || Number(m[2]) > 28) throw new Error(`invalid service CIDR ${JSON.stringify(cidr)} (an IPv4 range from /8 to /28)`);
  const len = Number(m[2]);
  const base = (toInt(m[1]) & ((~0 << (32 - len)) >>> 0)) >>> 0;
  return { base, size: 2 ** (32 - len) };
}

function toInt(ip: string): number {
  return ip.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0);
}

function toIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** FNV-1a (32 bit): Istio hashes service keys the same way for its auto-allocation. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function vipKey(svc: MeshService): string {
  return svc.origin === 'Service' ? `Service/${svc.namespace}/${svc.name}` : `ServiceEntry/${svc.namespace}/${svc.hostname}`;
}

/** Whether a service gets an allocated address, and from which range. */
function wants(svc: MeshService): 'service' | 'auto' | undefined {
  if (svc.addresses.length > 0) return undefined;
  if (svc.origin === 'Service') return svc.headless ? undefined : 'service';
  if (svc.resolution === 'NONE' || svc.hostname.includes('*')) return undefined;
  return 'auto';
}

export class VipAllocator {
  private readonly ranges: Record<'service' | 'auto', Range>;
  private allocations: Record<string, string>;

  constructor(private readonly store: VipStore = MEMORY_VIP_STORE, serviceCidr = DEFAULT_SERVICE_CIDR) {
    this.ranges = { service: parseCidr4(serviceCidr), auto: parseCidr4(AUTO_ALLOCATE_CIDR) };
    this.allocations = { ...store.load() };
  }

  /** Gives every service that needs one its virtual IP (in place); releases those of removed services. */
  assign(services: MeshService[]): void {
    const wanted = new Map<string, { svc: MeshService; range: 'service' | 'auto' }>();
    const taken = new Set<string>();
    for (const s of services) {
      const r = wants(s);
      if (r) wanted.set(vipKey(s), { svc: s, range: r });
      else for (const a of s.addresses) taken.add(a);
    }
    let changed = false;
    const next: Record<string, string> = {};
    // keep what is still wanted and still free (an explicit clusterIP may have claimed it)
    for (const [key, ip] of Object.entries(this.allocations)) {
      const w = wanted.get(key);
      if (!w || taken.has(ip) || !this.inRange(ip, w.range)) {
        changed = true;
        continue;
      }
      next[key] = ip;
      taken.add(ip);
    }
    for (const [key, w] of [...wanted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      let ip = next[key];
      if (!ip) {
        ip = this.pick(key, w.range, taken);
        next[key] = ip;
        taken.add(ip);
        changed = true;
      }
      w.svc.addresses = [ip];
      w.svc.vipAllocated = true;
    }
    this.allocations = next;
    if (changed) this.store.save(next);
  }

  private inRange(ip: string, range: 'service' | 'auto'): boolean {
    if (isIP(ip) !== 4) return false;
    const r = this.ranges[range];
    const n = toInt(ip);
    return n > r.base && n < r.base + r.size - 1;
  }

  /** hash slot, then the next free one (network and broadcast addresses, and .0/.255, skipped) */
  private pick(key: string, range: 'service' | 'auto', taken: Set<string>): string {
    const r = this.ranges[range];
    const usable = r.size - 2;
    const start = fnv1a(key) % usable;
    for (let i = 0; i < usable; i++) {
      const n = r.base + 1 + ((start + i) % usable);
      const last = n & 255;
      if (last === 0 || last === 255) continue;
      const ip = toIp(n);
      if (!taken.has(ip)) return ip;
    }
    throw new Error(`no free address left in ${range === 'service' ? 'the service CIDR' : AUTO_ALLOCATE_CIDR}`);
  }
}
