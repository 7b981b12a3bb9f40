/**
 * The sidecar's DNS proxy (istio-agent's, on 15053 UDP and TCP; the capture rules send the pod's
 * port-53 traffic here, the proxy's own uid exempt): questions about mesh hosts (the NDS name
 * table, DnsTable) are answered here, authoritatively, with the service's virtual IPs; every
 * other question goes to the upstream resolvers of resolv.conf unchanged, and their answer back.
 * Before the first name table arrives questions get SERVFAIL (Istio's default). Wire format by
 * `dns-packet`.
 *
 * Names in the cluster domain (cluster.local) that the table does not have get NXDOMAIN here, as
 * the cluster's DNS would answer (search-list expansions of outside names end at once).
 *
 * Bounds: at most `maxPending` upstream questions in flight (more get SERVFAIL, counted), an
 * upstream answer waits at most `upstreamTimeoutMs`, a TCP client at most `maxTcpConnections`
 * connections and 64 KiB per message.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import dnsPacket from 'dns-packet';
import type { DnsTable } from './dns-table.js';

type Packet = dnsPacket.Packet;
type Answer = dnsPacket.Answer;

export interface DnsCounter {
  inc(n?: number): void;
}

export interface DnsProxyStats {
  requests: DnsCounter;
  /** answered from the name table */
  answered: DnsCounter;
  upstreamRequests: DnsCounter;
  upstreamFailures: DnsCounter;
  /** questions refused because too many were in flight */
  overflow: DnsCounter;
}

export interface DnsProxyOptions {
  table: DnsTable;
  /** upstream resolvers, `ip` or `ip:port` (default: resolv.conf's name servers) */
  upstreams?: string[];
  host?: string;
  port?: number;
  upstreamTimeoutMs?: number;
  maxPending?: number;
  maxTcpConnections?: number;
  stats?: DnsProxyStats;
  /** names under this domain that are not in the table get NXDOMAIN (default cluster.local; '' forwards them) */
  clusterDomain?: string;
  log?(msg: string): void;
}

/** TTL of the answers we give (Istio's: short, so a changed VIP is picked up soon). */
const TTL = 30;
const NOOP: DnsCounter = { inc: () => undefined };

export interface ResolvConf {
  servers: string[];
  search: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const servers: string[] = [];
  let search: string[] = [];
  for (const line of text.split('\n')) {
    const [key, ...rest] = line.trim().split(/\s+/);
    if (key === 'nameserver' && rest[0]) servers.push(rest[0]);
    else if (key === 'search' || key === 'domain') search = rest;
  }
  return { servers, search };
}

export function readResolvConf(file = '/etc/resolv.conf'): ResolvConf {
  try {
    return parseResolvConf(readFileSync(file, 'utf8'));
  } catch {
    return { servers: [], search: [] };
  }
}

function hostPort(s: string): { host: string; port: number } {
  if (net.isIP(s)) return { host: s, port: 53 };
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  return m ? { host: m[1], port: Number(m[2]) } : { host: s, port: 53 };
}

export class DnsProxy {
  private udp4: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  /** upstream questions in flight (each on its own socket) */
  private inFlight = 0;
  private readonly sockets = new Set<dgram.Socket>();
  private readonly upstreams: Array<{ host: string; port: number }>;
  private readonly stats: DnsProxyStats;
  private readonly tcpConns = new Set<net.Socket>();
  port = 0;

  constructor(private readonly opts: DnsProxyOptions) {
    this.upstreams = (opts.upstreams ?? readResolvConf().servers).map(hostPort);
    this.stats = opts.stats ?? { requests: NOOP, answered: NOOP, upstreamRequests: NOOP, upstreamFailures: NOOP, overflow: NOOP };
  }

  /** Binds UDP and TCP on the same port (port 0: a free one for both, retried if TCP finds it taken). */
  async start(): Promise<number> {
    const wanted = this.opts.port ?? 15053;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.bindBoth(wanted);
      } catch (err) {
        this.udp4?.close();
        this.udp4 = undefined;
        if (wanted !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
      }
    }
  }

  private async bindBoth(wanted: number): Promise<number> {
    const host = this.opts.host ?? '127.0.0.1';
    const udp = dgram.createSocket(net.isIP(host) === 6 ? 'udp6' : 'udp4');
    this.udp4 = udp;
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(wanted, host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => this.opts.log?.(`dns proxy udp: ${err.message}`));
    udp.on('message', (msg, rinfo) => {
      void this.answer(msg, 'udp').then((res) => {
        if (res) udp.send(res, rinfo.port, rinfo.address, () => undefined);
      });
    });
    const port = udp.address().port;
    const tcp = net.createServer((s) => this.onTcp(s));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => this.opts.log?.(`dns proxy tcp: ${err.message}`));
    this.tcp = tcp;
    this.port = port;
    return port;
  }

  async close(): Promise<void> {
    for (const s of this.tcpConns) s.destroy();
    for (const sock of this.sockets) sock.emit('error', new Error('closed'));
    this.udp4?.close();
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
  }

  private onTcp(s: net.Socket): void {
    if (this.tcpConns.size >= (this.opts.maxTcpConnections ?? 256)) {
      s.destroy();
      return;
    }
    this.tcpConns.add(s);
    s.on('close', () => this.tcpConns.delete(s));
    s.on('error', () => undefined);
    s.setTimeout(30_000, () => s.destroy());
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        void this.answer(Buffer.from(msg), 'tcp').then((res) => {
          if (!res || s.destroyed) return;
          const frame = Buffer.allocUnsafe(2 + res.length);
          frame.writeUInt16BE(res.length, 0);
          res.copy(frame, 2);
          s.write(frame);
        });
      }
    });
  }

  /** The response to one query (undefined: not even a header to answer to). */
  async answer(msg: Buffer, proto: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    this.stats.requests.inc();
    let q: Packet;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return msg.length >= 12 ? failure(msg.readUInt16BE(0), undefined) : undefined;
    }
    const question = q.questions?.[0];
    if (!question) return failure(q.id ?? 0, q);
    if (!this.opts.table.ready) return failure(q.id ?? 0, q);
    if (question.type === 'A' || question.type === 'AAAA') {
      const r = this.opts.table.lookup(question.name, question.type === 'A' ? 4 : 6);
      if (r.found) {
        this.stats.answered.inc();
        const answers: Answer[] = [];
        let name = question.name;
        if (r.cname) {
          answers.push({ name, type: 'CNAME', class: 'IN', ttl: TTL, data: r.cname.replace(/\.$/, '') });
          name = r.cname.replace(/\.$/, '');
        }
        for (const a of shuffle(r.addresses)) answers.push({ name, type: question.type, class: 'IN', ttl: TTL, data: a } as Answer);
        // NOERROR even without a record of this type (an A-only service asked for AAAA):
        // NXDOMAIN would make resolvers give up on the A answer too
        return dnsPacket.encode({
          type: 'response', id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE,
          questions: q.questions, answers,
        });
      }
    }
    // the cluster domain is ours (kube-dns' role): a name there that is not in the table does not
    // exist; search-list expansions of other names end here at once instead of going upstream
    if (this.opts.clusterDomain !== '' && isInZone(question.name, this.opts.clusterDomain ?? 'cluster.local')) {
      return dnsPacket.encode({
        type: 'response', id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | 3 /* NXDOMAIN */,
        questions: q.questions,
      });
    }
    return this.forward(msg, q, proto);
  }

  /** Sends the question to the upstream resolvers in turn; their answer is returned as is (our id). */
  private async forward(msg: Buffer, q: Packet, proto: 'udp' | 'tcp'): Promise<Buffer> {
    const id = q.id ?? 0;
    if (this.upstreams.length === 0) return failure(id, q);
    for (const up of this.upstreams) {
      this.stats.upstreamRequests.inc();
      const res = proto === 'tcp' ? await this.askTcp(msg, up) : await this.askUdp(msg, up);
      if (res) {
        res.writeUInt16BE(id, 0);
        return res;
      }
      this.stats.upstreamFailures.inc();
    }
    return failure(id, q);
  }

  /**
   * One question on its own connected UDP socket: an upstream that is not there answers with
   * ICMP port unreachable, which a connected socket reports at once (ECONNREFUSED), so the app's
   * resolver is told SERVFAIL now rather than after the timeout.
   */
  private askUdp(msg: Buffer, up: { host: string; port: number }): Promise<Buffer | undefined> {
    if (this.inFlight >= (this.opts.maxPending ?? 1024)) {
      this.stats.overflow.inc();
      return Promise.resolve(undefined);
    }
    this.inFlight++;
    const sock = dgram.createSocket(net.isIP(up.host) === 6 ? 'udp6' : 'udp4');
    this.sockets.add(sock);
    const id = msg.readUInt16BE(0);
    return new Promise<Buffer | undefined>((resolve) => {
      let settled = false;
      const done = (r: Buffer | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight--;
        this.sockets.delete(sock);
        try {
          sock.close();
        } catch {
          /* closed already */
        }
        resolve(r);
      };
      const timer = setTimeout(() => done(undefined), this.opts.upstreamTimeoutMs ?? 5000);
      sock.on('error', () => done(undefined));
      sock.on('message', (res) => {
        if (res.length >= 12 && res.readUInt16BE(0) === id) done(Buffer.from(res));
      });
      sock.connect(up.port, up.host, () => sock.send(msg, (err) => err && done(undefined)));
    });
  }

  private askTcp(msg: Buffer, up: { host: string; port: number }): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const s = net.connect(up.port, up.host);
      let buf: Buffer = Buffer.alloc(0);
      const done = (r: Buffer | undefined): void => {
        s.destroy();
        resolve(r);
      };
      s.setTimeout(this.opts.upstreamTimeoutMs ?? 5000, () => done(undefined));
      s.on('error', () => done(undefined));
      s.on('connect', () => {
        const frame = Buffer.allocUnsafe(2 + msg.length);
        frame.writeUInt16BE(msg.length, 0);
        msg.copy(frame, 2);
        s.write(frame);
      });
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length > 66_000) return done(undefined);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      });
      s.on('end', () => done(undefined));
    });
  }
}

function isInZone(name: string, zone: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const z = zone.toLowerCase().replace(/\.$/, '');
  return n === z || n.endsWith(`.${z}`);
}

function failure(id: number, q: Packet | undefined): Buffer {
  return dnsPacket.encode({ type: 'response', id, flags: dnsPacket.RECURSION_AVAILABLE | 2 /* SERVFAIL */, questions: q?.questions ?? [] });
}

function shuffle<T>(list: T[]): T[] {
  if (list.length < 2) return list;
  const a = [...list];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
