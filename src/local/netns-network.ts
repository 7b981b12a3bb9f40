/**
 * The network of the network-namespace local mode (`clew run --netns`, `clew demo --netns`):
 * "machines" and "pods" as Linux network namespaces on this one machine, shared by every clew
 * process that uses the same prefix and state dir.
 *
 *   root namespace ── <prefix>0 (10.R.255.1) ═══ veth ═══ root0 (10.R.255.2)  <prefix>-net (router)
 *                                                          h<i> (10.R.254.2i) ═══ up0 (…2i+1)  <prefix>-host-<name>
 *                                                                                        br0 (10.R.i.1/24)
 *                                                        pod: eth0 10.R.i.(9+n) ═══ p<n> ─┘  <prefix>-pod-<name>.<ns>
 *
 * Each host ("machine") has its own bridge and /24 of the pod CIDR; the router namespace routes
 * between hosts and to the root namespace, which only gains one veth and one route (so the CLI,
 * the control plane and a gateway on the root namespace reach every pod). Nothing is forwarded
 * or NATed by the root namespace itself.
 *
 * State lives in <state dir>/netns/<prefix>/ (network.json, pods/*.json) under a lock; a pod
 * whose owner process is gone is removed by gc(), and the whole network once no pod is left.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from './local-address.js';
import { LocalError } from './local-errors.js';
import { localStateDir } from './local-state-dir.js';
import { cmd, deleteNetns, execIn, ip, ipIn, linkName, netnsExists, sleepMs } from './netns-ip.js';

export interface NetnsNetworkOptions {
  /** name prefix of namespaces and of the root link (letters, digits; at most 10) */
  prefix?: string;
  /** the pod CIDR, a /16: hosts get a /24 each */
  podCidr?: string;
  stateDir?: string;
}

export interface HostInfo {
  name: string;
  index: number;
  ns: string;
  subnet: string;
  gateway: string;
}

export interface PodNet {
  name: string;
  namespace: string;
  host: string;
  ns: string;
  ip: string;
  /** pod index on its host */
  index: number;
  ownerPid: number;
}

interface NetworkState {
  version: 1;
  prefix: string;
  podCidr: string;
  hosts: Record<string, number>;
}

export const DEFAULT_PREFIX = 'clew';
export const DEFAULT_POD_CIDR = '10.47.0.0/16';
export const DEFAULT_HOST = 'local';

export function netnsRootCheck(): void {
  if (process.getuid?.() !== 0) {
    throw new LocalError('CLEW_LOCAL_NETNS', 'network namespaces, veths and iptables need root: run clew with --netns as root (or drop --netns for loopback local mode)');
  }
}

export class NetnsNetwork {
  readonly prefix: string;
  readonly podCidr: string;
  readonly stateDir: string;
  readonly dir: string;
  private readonly octets: [number, number];

  constructor(opts: NetnsNetworkOptions = {}) {
    this.prefix = opts.prefix ?? process.env.CLEW_NETNS_PREFIX ?? DEFAULT_PREFIX;
    if (!/^[a-z][a-z0-9]{0,9}$/.test(this.prefix)) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `netns prefix ${JSON.stringify(this.prefix)}: 1-10 lower-case letters and digits, starting with a letter`);
    this.podCidr = opts.podCidr ?? process.env.CLEW_POD_CIDR ?? DEFAULT_POD_CIDR;
    const m = /^(\d{1,3})\.(\d{1,3})\.0\.0\/16$/.exec(this.podCidr);
    if (!m || Number(m[1]) > 255 || Number(m[2]) > 255) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `pod CIDR ${JSON.stringify(this.podCidr)}: expected a /16 such as 10.47.0.0/16`);
    this.octets = [Number(m[1]), Number(m[2])];
    this.stateDir = opts.stateDir ?? localStateDir();
    this.dir = join(this.stateDir, 'netns', this.prefix);
  }

  private addr(third: number, fourth: number): string {
    return `${this.octets[0]}.${this.octets[1]}.${third}.${fourth}`;
  }

  get routerNs(): string {
    return `${this.prefix}-net`;
  }

  get rootLink(): string {
    return linkName(`${this.prefix}0`);
  }

  /** The root namespace's address on the network (the control plane listens here). */
  get rootAddress(): string {
    return this.addr(255, 1);
  }

  hostNs(host: string): string {
    return `${this.prefix}-host-${host}`;
  }

  podNs(name: string, namespace: string): string {
    return `${this.prefix}-pod-${name}.${namespace}`;
  }

  // ------------------------------------------------------------------ state and lock

  private stateFile(): string {
    return join(this.dir, 'network.json');
  }

  private podsDir(): string {
    return join(this.dir, 'pods');
  }

  private readState(): NetworkState {
    try {
      const s = JSON.parse(readFileSync(this.stateFile(), 'utf8')) as NetworkState;
      if (s.version === 1) return s;
    } catch {
      /* none yet */
    }
    return { version: 1, prefix: this.prefix, podCidr: this.podCidr, hosts: {} };
  }

  private writeState(s: NetworkState): void {
    atomicWrite(this.stateFile(), s);
  }

  pods(): PodNet[] {
    let files: string[] = [];
    try {
      files = readdirSync(this.podsDir()).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    const out: PodNet[] = [];
    for (const f of files) {
      try {
        out.push(JSON.parse(readFileSync(join(this.podsDir(), f), 'utf8')) as PodNet);
      } catch {
        /* a half-written record is skipped (writes are atomic; this is a foreign file) */
      }
    }
    return out;
  }

  private podFile(name: string, namespace: string): string {
    return join(this.podsDir(), `${name}.${namespace}.json`);
  }

  /** Runs `fn` holding the network's lock (a directory; a dead holder's lock is taken over). */
  withLock<T>(fn: () => T): T {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const lock = join(this.dir, 'lock');
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        mkdirSync(lock);
        writeFileSync(join(lock, 'pid'), String(process.pid));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        let holder = 0;
        try {
          holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
        } catch {
          /* being created or removed */
        }
        if (holder > 0 && !pidAlive(holder)) rmSync(lock, { recursive: true, force: true });
        else if (Date.now() > deadline) throw new LocalError('CLEW_LOCAL_NETNS', `the network ${this.prefix} is locked by pid ${holder} (${lock})`);
        else sleepMs(20);
      }
    }
    try {
      return fn();
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }

  // ------------------------------------------------------------------ topology

  /** The router namespace and the root namespace's link to it. */
  private ensureBase(): void {
    const r = this.routerNs;
    if (!netnsExists(r)) {
      ip(['netns', 'add', r]);
      ipIn(r, ['link', 'set', 'lo', 'up']);
      cmd('ip', ['netns', 'exec', r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }
    if (ip(['link', 'show', this.rootLink], true).code !== 0) {
      ip(['link', 'add', this.rootLink, 'type', 'veth', 'peer', 'name', 'root0', 'netns', r]);
      ip(['addr', 'add', `${this.rootAddress}/30`, 'dev', this.rootLink]);
      ip(['link', 'set', this.rootLink, 'up']);
      ipIn(r, ['addr', 'add', `${this.addr(255, 2)}/30`, 'dev', 'root0']);
      ipIn(r, ['link', 'set', 'root0', 'up']);
      ip(['route', 'replace', this.podCidr, 'via', this.addr(255, 2), 'dev', this.rootLink]);
    }
  }

  private hostInfo(name: string, index: number): HostInfo {
    return { name, index, ns: this.hostNs(name), subnet: `${this.addr(index, 0)}/24`, gateway: this.addr(index, 1) };
  }

  /** A host ("machine"): its namespace, bridge and /24, routed through the router. */
  private ensureHost(state: NetworkState, name: string): HostInfo {
    if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(name)) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `host name ${JSON.stringify(name)}: 1-20 lower-case letters, digits and dashes`);
    let index = state.hosts[name];
    if (index === undefined) {
      const used = new Set(Object.values(state.hosts));
      index = 1;
      while (used.has(index)) index++;
      if (index > 126) throw new LocalError('CLEW_LOCAL_NETNS', `too many hosts in network ${this.prefix}`);
      state.hosts[name] = index;
      this.writeState(state);
    }
    const h = this.hostInfo(name, index);
    if (!netnsExists(h.ns)) {
      const r = this.routerNs;
      const routerSide = this.addr(254, 2 * index);
      const hostSide = this.addr(254, 2 * index + 1);
      ip(['netns', 'add', h.ns]);
      ipIn(h.ns, ['link', 'set', 'lo', 'up']);
      cmd('ip', ['netns', 'exec', h.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      ipIn(h.ns, ['link', 'add', 'br0', 'type', 'bridge']);
      ipIn(h.ns, ['addr', 'add', `${h.gateway}/24`, 'dev', 'br0']);
      ipIn(h.ns, ['link', 'set', 'br0', 'up']);
      ipIn(r, ['link', 'del', `h${index}`], true);
      ipIn(r, ['link', 'add', `h${index}`, 'type', 'veth', 'peer', 'name', 'up0', 'netns', h.ns]);
      ipIn(r, ['addr', 'add', `${routerSide}/31`, 'dev', `h${index}`]);
      ipIn(r, ['link', 'set', `h${index}`, 'up']);
      ipIn(h.ns, ['addr', 'add', `${hostSide}/31`, 'dev', 'up0']);
      ipIn(h.ns, ['link', 'set', 'up0', 'up']);
      ipIn(h.ns, ['route', 'add', 'default', 'via', routerSide]);
      ipIn(r, ['route', 'replace', h.subnet, 'via', hostSide]);
    }
    return h;
  }

  host(name: string): HostInfo | undefined {
    const index = this.readState().hosts[name];
    return index === undefined ? undefined : this.hostInfo(name, index);
  }

  /**
   * Creates a pod's namespace on `host`: eth0 on the host's bridge, the next free address of the
   * host's /24, a default route through the bridge, and the resolv.conf `ip netns exec` mounts.
   */
  addPod(spec: { name: string; namespace: string; host?: string; ownerPid?: number; resolvConf?: string }): PodNet {
    netnsRootCheck();
    return this.withLock(() => {
      this.gcLocked();
      const state = this.readState();
      this.ensureBase();
      const h = this.ensureHost(state, spec.host ?? DEFAULT_HOST);
      const ns = this.podNs(spec.name, spec.namespace);
      const existing = this.pods().find((p) => p.ns === ns);
      if (existing && pidAlive(existing.ownerPid)) {
        throw new LocalError('CLEW_LOCAL_NETNS', `pod ${spec.name}.${spec.namespace} already runs (owner pid ${existing.ownerPid}, ${existing.ip})`);
      }
      if (existing) this.removePodLocked(existing);
      const used = new Set(this.pods().filter((p) => p.host === h.name).map((p) => p.index));
      let index = 1;
      while (used.has(index)) index++;
      if (index > 240) throw new LocalError('CLEW_LOCAL_NETNS', `host ${h.name} has no free pod address`);
      const pod: PodNet = {
        name: spec.name, namespace: spec.namespace, host: h.name, ns, ip: this.addr(h.index, 9 + index), index, ownerPid: spec.ownerPid ?? process.pid,
      };
      // recorded first: a crash half way leaves something gc() can find
      atomicWrite(this.podFile(spec.name, spec.namespace), pod);
      deleteNetns(ns);
      ip(['netns', 'add', ns]);
      ipIn(ns, ['link', 'set', 'lo', 'up']);
      ipIn(h.ns, ['link', 'del', `p${index}`], true);
      ipIn(h.ns, ['link', 'add', `p${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ipIn(h.ns, ['link', 'set', `p${index}`, 'master', 'br0']);
      ipIn(h.ns, ['link', 'set', `p${index}`, 'up']);
      ipIn(ns, ['addr', 'add', `${pod.ip}/24`, 'dev', 'eth0']);
      ipIn(ns, ['link', 'set', 'eth0', 'up']);
      ipIn(ns, ['route', 'add', 'default', 'via', h.gateway]);
      if (spec.resolvConf !== undefined) {
        const etc = join('/etc/netns', ns);
        mkdirSync(etc, { recursive: true });
        writeFileSync(join(etc, 'resolv.conf'), spec.resolvConf);
      }
      return pod;
    });
  }

  /**
   * Keeps the network (router and root link) up for `ownerPid` without a pod: e.g. a control
   * plane listening on rootAddress before any pod exists (or, with `host`, on that host's bridge
   * address, the host being created). Returns the address. Released by removePod(name, '').
   */
  reserve(name: string, ownerPid = process.pid, host?: string): string {
    netnsRootCheck();
    return this.withLock(() => {
      this.gcLocked();
      this.ensureBase();
      const address = host ? this.ensureHost(this.readState(), host).gateway : this.rootAddress;
      atomicWrite(this.podFile(name, ''), { name, namespace: '', host: host ?? '', ns: '', ip: address, index: 0, ownerPid } satisfies PodNet);
      return address;
    });
  }

  private removePodLocked(p: PodNet): void {
    if (p.ns === '') {
      rmSync(this.podFile(p.name, p.namespace), { force: true });
      return;
    }
    deleteNetns(p.ns);
    rmSync(join('/etc/netns', p.ns), { recursive: true, force: true });
    const h = this.host(p.host);
    if (h) ipIn(h.ns, ['link', 'del', `p${p.index}`], true);
    rmSync(this.podFile(p.name, p.namespace), { force: true });
  }

  /** Removes a pod (its processes are ended), and the network when it was the last one. */
  removePod(name: string, namespace: string): void {
    this.withLock(() => {
      const p = this.pods().find((x) => x.name === name && x.namespace === namespace);
      if (p) this.removePodLocked(p);
      this.teardownIfUnused();
    });
  }

  private gcLocked(): PodNet[] {
    const dead = this.pods().filter((p) => !pidAlive(p.ownerPid));
    for (const p of dead) this.removePodLocked(p);
    return dead;
  }

  /** Removes pods whose owner process is gone (a killed run), and the network if none is left. */
  gc(): PodNet[] {
    return this.withLock(() => {
      const dead = this.gcLocked();
      this.teardownIfUnused();
      return dead;
    });
  }

  private teardownIfUnused(): void {
    if (this.pods().length > 0) return;
    const state = this.readState();
    for (const name of Object.keys(state.hosts)) deleteNetns(this.hostNs(name));
    deleteNetns(this.routerNs);
    ip(['link', 'del', this.rootLink], true);
    ip(['route', 'del', this.podCidr], true);
    rmSync(this.stateFile(), { force: true });
  }

  /** Cuts (or restores) a host's link to the rest of the network: `ip link set down` on its uplink. */
  setHostLink(host: string, up: boolean): void {
    const h = this.host(host);
    if (!h) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `no host ${host} in network ${this.prefix}`);
    ipIn(h.ns, ['link', 'set', 'up0', up ? 'up' : 'down']);
    ipIn(this.routerNs, ['link', 'set', `h${h.index}`, up ? 'up' : 'down']);
    if (up) {
      // the routes through a link that went down are gone: put them back
      ipIn(h.ns, ['route', 'replace', 'default', 'via', this.addr(254, 2 * h.index)]);
      ipIn(this.routerNs, ['route', 'replace', h.subnet, 'via', this.addr(254, 2 * h.index + 1)]);
    }
  }

  /**
   * Drops (or stops dropping) every packet to and from a host while its link stays up: what a
   * black-holing network does (no ICMP, SYNs vanish, callers meet their connect timeouts; a cut
   * link is refused at once). Rules in the router namespace's filter table only, gone with it.
   * (`tc netem loss 100%` has the same effect where the kernel has sch_netem.)
   */
  setHostDrop(host: string, drop: boolean): void {
    const h = this.host(host);
    if (!h) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `no host ${host} in network ${this.prefix}`);
    for (const dir of ['-i', '-o']) {
      const rule = ['FORWARD', dir, `h${h.index}`, '-j', 'DROP'];
      const present = execIn(this.routerNs, 'iptables', ['-w', '-C', ...rule], true).code === 0;
      if (drop && !present) execIn(this.routerNs, 'iptables', ['-w', '-I', ...rule]);
      if (!drop && present) execIn(this.routerNs, 'iptables', ['-w', '-D', ...rule]);
    }
  }
}

function atomicWrite(file: string, value: unknown): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** `clew demo stop` after a killed supervisor: pods with a dead owner go, the network once empty. */
export function removeNetnsLeftovers(n: { prefix: string; podCidr: string; stateDir: string; guardPid?: number }): void {
  // a guard still at work finishes first (it holds the network's lock while removing)
  const deadline = Date.now() + 10_000;
  while (n.guardPid && pidAlive(n.guardPid) && Date.now() < deadline) sleepMs(50);
  new NetnsNetwork({ prefix: n.prefix, podCidr: n.podCidr, stateDir: n.stateDir }).gc();
}
