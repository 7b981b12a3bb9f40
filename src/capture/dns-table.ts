/**
 * The lookup table of the sidecar's DNS proxy, built from Istio's name table (NDS) the way
 * istio-agent builds it: a Kubernetes service answers to its FQDN, `name.ns`, `name.ns.svc` and,
 * in the proxy's own namespace, `name`; other hosts to their name only. The first search domain
 * of resolv.conf is precomputed too (`reviews.default.svc.cluster.local` asked as
 * `<host>.<ns>.svc.cluster.local` gets a CNAME to the host), so a resolver walking its search list
 * stops at the first query instead of going upstream for each. Names are lower case with a
 * trailing dot.
 */
import { isIP } from 'node:net';

export interface NameTableEntry {
  ips?: string[];
  registry?: string;
  shortname?: string;
  namespace?: string;
  alt_hosts?: string[];
}

export interface DnsLookup {
  /** the name is ours (answer authoritatively, even with no record of the asked type) */
  found: boolean;
  /** the CNAME target when the name is a search-domain expansion */
  cname: string | undefined;
  /** addresses of the asked family */
  addresses: string[];
}

interface Entry {
  v4: string[];
  v6: string[];
}

const NOT_FOUND: DnsLookup = { found: false, cname: undefined, addresses: [] };

export class DnsTable {
  private names = new Map<string, Entry>();
  private cnames = new Map<string, string>();
  /** FQDN / alt name without the dot -> first IPv4 (the proxy's own hostname lookups) */
  private vips = new Map<string, string>();
  private loaded = false;
  private readonly domain: string;

  /**
   * @param namespace the proxy's namespace (short names resolve there)
   * @param searchDomains resolv.conf's search list (its first entry is precomputed)
   * @param clusterDomain the mesh's DNS domain after `<ns>.` (svc.cluster.local)
   */
  constructor(private readonly namespace: string, private readonly searchDomains: string[] = [], clusterDomain = 'svc.cluster.local') {
    this.domain = clusterDomain;
  }

  get ready(): boolean {
    return this.loaded;
  }

  get size(): number {
    return this.names.size;
  }

  /** Replaces the table (an NDS update). */
  update(table: Record<string, NameTableEntry>): void {
    const names = new Map<string, Entry>();
    const cnames = new Map<string, string>();
    const vips = new Map<string, string>();
    const search = this.searchDomains[0] ? `${this.searchDomains[0].replace(/\.$/, '').toLowerCase()}.` : undefined;
    for (const [hostname, info] of Object.entries(table)) {
      const ips = (info.ips ?? []).filter((ip) => isIP(ip) !== 0);
      const entry: Entry = { v4: ips.filter((ip) => isIP(ip) === 4), v6: ips.filter((ip) => isIP(ip) === 6) };
      if (entry.v4.length === 0 && entry.v6.length === 0) continue;
      for (const alt of this.altHosts(hostname.toLowerCase(), info)) {
        names.set(alt, entry);
        if (entry.v4[0]) vips.set(alt.slice(0, -1), entry.v4[0]);
        if (search && !alt.endsWith(`.${search}`)) cnames.set(`${alt}${search}`, alt);
      }
    }
    // an expansion that is itself a real name stays a real name
    for (const n of names.keys()) cnames.delete(n);
    this.names = names;
    this.cnames = cnames;
    this.vips = vips;
    this.loaded = true;
  }

  private altHosts(hostname: string, info: NameTableEntry): string[] {
    const fqdn = hostname.endsWith('.') ? hostname : `${hostname}.`;
    const out = new Set([fqdn]);
    if (info.registry !== 'Kubernetes' || !info.shortname || !info.namespace || !hostname.endsWith(this.domain)) return [...out];
    const short = info.shortname.toLowerCase();
    const ns = info.namespace.toLowerCase();
    out.add(`${short}.${ns}.`);
    if (ns === this.namespace.toLowerCase()) out.add(`${short}.`);
    out.add(`${short}.${ns}.${this.domain.split('.')[0]}.`);
    for (const alt of info.alt_hosts ?? []) out.add(`${alt.toLowerCase()}.`);
    return [...out];
  }

  /** An A (family 4) or AAAA (6) question; `name` as asked (any case, dot optional). */
  lookup(name: string, family: 4 | 6): DnsLookup {
    let q = name.toLowerCase();
    if (!q.endsWith('.')) q += '.';
    let cname: string | undefined;
    let entry = this.names.get(q);
    if (!entry) {
      const target = this.cnames.get(q) ?? this.wildcardTarget(q);
      if (target === undefined) return NOT_FOUND;
      entry = this.names.get(target);
      if (!entry) return NOT_FOUND;
      if (this.cnames.has(q)) cname = target;
    }
    return { found: true, cname, addresses: family === 4 ? entry.v4 : entry.v6 };
  }

  /** `*.example.com` entries answer for any name below them (ServiceEntry wildcard hosts). */
  private wildcardTarget(q: string): string | undefined {
    const labels = q.split('.');
    for (let i = 1; i < labels.length - 1; i++) {
      const w = `*.${labels.slice(i).join('.')}`;
      if (this.names.has(w)) return w;
    }
    return undefined;
  }

  /** The first IPv4 virtual IP of a service name (FQDN or a short form valid in this namespace). */
  vip(host: string): string | undefined {
    return this.vips.get(host.toLowerCase().replace(/\.$/, ''));
  }
}
