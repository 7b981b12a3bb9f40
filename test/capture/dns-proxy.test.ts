/**
 * The sidecar's DNS proxy on loopback (no namespaces needed): Istio's alternative names per the
 * proxy's namespace, the search-domain CNAME, authoritative answers for mesh hosts (NOERROR with
 * no record of the other family), NXDOMAIN for unknown cluster.local names, forwarding of the rest
 * to a real upstream over UDP and TCP, SERVFAIL before the name table arrives and when no
 * upstream answers (at once when it refuses). Real dig-like queries through `dns-packet`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import dnsPacket from 'dns-packet';
import { DnsProxy, parseResolvConf } from '../../src/capture/dns-proxy.js';
import { DnsTable } from '../../src/capture/dns-table.js';
import { decodeResource, encodeResource } from '../../src/xds/codec.js';
import { NAME_TABLE_TYPE } from '../../src/xds/type-urls.js';

const TABLE = {
  'reviews.default.svc.cluster.local': { ips: ['10.96.0.20'], registry: 'Kubernetes', shortname: 'reviews', namespace: 'default' },
  'ratings.other.svc.cluster.local': { ips: ['10.96.0.21', 'fd00::21'], registry: 'Kubernetes', shortname: 'ratings', namespace: 'other' },
  'api.example.com': { ips: ['240.240.0.7'], registry: 'External' },
  '*.wild.example': { ips: ['240.240.0.8'], registry: 'External' },
};

test('alternative names follow the proxy\'s namespace; the first search domain gets a CNAME', () => {
  const t = new DnsTable('default', ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local']);
  assert.equal(t.ready, false);
  t.update(TABLE);
  const a = (name: string, f: 4 | 6 = 4) => t.lookup(name, f);
  for (const n of ['reviews', 'reviews.default', 'reviews.default.svc', 'reviews.default.svc.cluster.local', 'REVIEWS.default.svc.cluster.local.']) {
    assert.deepEqual(a(n).addresses, ['10.96.0.20'], n);
  }
  assert.equal(a('ratings').found, false, 'short names only in the own namespace');
  assert.deepEqual(a('ratings.other').addresses, ['10.96.0.21']);
  assert.deepEqual(a('ratings.other', 6).addresses, ['fd00::21']);
  assert.deepEqual(a('reviews', 6), { found: true, cname: undefined, addresses: [] }, 'ours, no IPv6 record');
  assert.deepEqual(a('reviews.default.default.svc.cluster.local'), { found: true, cname: 'reviews.default.', addresses: ['10.96.0.20'] });
  assert.deepEqual(a('api.example.com').addresses, ['240.240.0.7']);
  assert.equal(a('api').found, false, 'ServiceEntry hosts answer to their name only');
  assert.deepEqual(a('x.wild.example').addresses, ['240.240.0.8']);
  assert.equal(t.vip('reviews'), '10.96.0.20');
  assert.equal(t.vip('ratings.other.svc.cluster.local'), '10.96.0.21');
  assert.equal(t.vip('nope'), undefined);
});

test('the NameTable travels as Istio\'s NDS message', () => {
  const back = decodeResource(NAME_TABLE_TYPE, encodeResource(NAME_TABLE_TYPE, { table: TABLE }));
  assert.deepEqual(back.table['ratings.other.svc.cluster.local'], TABLE['ratings.other.svc.cluster.local']);
  // field 1 (table, a map entry: key 1, value 2) as in istio.networking.nds.v1
  const bytes = encodeResource(NAME_TABLE_TYPE, { table: { h: { ips: ['1.2.3.4'] } } });
  assert.equal(bytes[0], 0x0a);
});

test('resolv.conf: servers and search list', () => {
  assert.deepEqual(parseResolvConf('search a.svc.cluster.local svc.cluster.local\nnameserver 10.0.0.10\nnameserver 10.0.0.11\noptions ndots:5\n'), {
    servers: ['10.0.0.10', '10.0.0.11'], search: ['a.svc.cluster.local', 'svc.cluster.local'],
  });
});

/** what the tests read of a decoded answer (dns-packet's types leave rcode and data out) */
interface Reply {
  id?: number;
  rcode?: string;
  flag_aa?: boolean;
  answers?: Array<{ type: string; name: string; data: unknown }>;
}

let upstream: dgram.Socket;
let upstreamTcp: net.Server;
let upstreamPort: number;
let proxy: DnsProxy;
let port: number;
let table: DnsTable;
let upstreamSeen: string[] = [];

function upstreamAnswer(msg: Buffer): Buffer {
  const q = dnsPacket.decode(msg);
  const name = q.questions![0].name;
  upstreamSeen.push(name);
  return dnsPacket.encode({
    type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE, questions: q.questions,
    answers: name === 'outside.test' ? [{ name, type: 'A', class: 'IN', ttl: 60, data: '192.0.2.9' }] : [],
  });
}

before(async () => {
  // UDP and TCP on one port (as a resolver listens): retried while the TCP side finds it taken
  for (;;) {
    upstream = dgram.createSocket('udp4');
    upstream.on('message', (m, r) => upstream.send(upstreamAnswer(m), r.port, r.address));
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    upstreamPort = upstream.address().port;
    upstreamTcp = net.createServer((s) => {
      s.on('data', (d) => {
        const res = upstreamAnswer(d.subarray(2, 2 + d.readUInt16BE(0)));
        const f = Buffer.alloc(2 + res.length);
        f.writeUInt16BE(res.length);
        res.copy(f, 2);
        s.end(f);
      });
    });
    const ok = await new Promise<boolean>((r) => {
      upstreamTcp.once('error', () => r(false));
      upstreamTcp.listen(upstreamPort, '127.0.0.1', () => r(true));
    });
    if (ok) break;
    upstream.close();
  }
  table = new DnsTable('default', ['default.svc.cluster.local']);
  proxy = new DnsProxy({ table, upstreams: [`127.0.0.1:${upstreamPort}`], port: 0 });
  port = await proxy.start();
});

after(async () => {
  await proxy.close();
  upstream.close();
  upstreamTcp.close();
});

function queryUdp(name: string, type: 'A' | 'AAAA' | 'TXT' = 'A', to = port): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no answer for ${name}`));
    }, 8000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(dnsPacket.decode(m) as Reply);
    });
    s.send(dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), to, '127.0.0.1');
  });
}

function queryTcp(name: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const q = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
    const f = Buffer.alloc(2 + q.length);
    f.writeUInt16BE(q.length);
    q.copy(f, 2);
    let buf = Buffer.alloc(0);
    s.on('connect', () => s.write(f));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.end();
        resolve(dnsPacket.decode(buf.subarray(2)) as Reply);
      }
    });
    s.on('error', reject);
  });
}

test('before the first name table: SERVFAIL', async () => {
  const r = await queryUdp('reviews');
  assert.equal(r.rcode, 'SERVFAIL');
  assert.equal(r.id, 4242);
});

test('mesh names are answered here, authoritatively; unknown cluster.local names are NXDOMAIN; the rest goes upstream', async () => {
  table.update(TABLE);
  upstreamSeen = [];
  const a = await queryUdp('reviews');
  assert.equal(a.rcode, 'NOERROR');
  assert.equal(a.flag_aa, true);
  assert.deepEqual(a.answers!.map((x) => [x.type, x.data]), [['A', '10.96.0.20']]);
  const cname = await queryUdp('reviews.default.default.svc.cluster.local');
  assert.deepEqual(cname.answers!.map((x) => [x.type, x.name, x.data]), [
    ['CNAME', 'reviews.default.default.svc.cluster.local', 'reviews.default'],
    ['A', 'reviews.default', '10.96.0.20'],
  ]);
  const aaaa = await queryUdp('reviews', 'AAAA');
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.equal(aaaa.answers!.length, 0);
  const nx = await queryUdp('outside.test.default.svc.cluster.local');
  assert.equal(nx.rcode, 'NXDOMAIN');
  const out = await queryUdp('outside.test');
  assert.equal(out.rcode, 'NOERROR');
  assert.equal(out.id, 4242, 'the client\'s id, not ours');
  assert.deepEqual(out.answers!.map((x) => x.data), ['192.0.2.9']);
  const txt = await queryUdp('reviews', 'TXT');
  assert.equal(txt.rcode, 'NOERROR', 'other types of mesh names go upstream as Istio does');
  assert.deepEqual(upstreamSeen, ['outside.test', 'reviews']);
  const tcp = await queryTcp('outside.test');
  assert.deepEqual(tcp.answers!.map((x) => x.data), ['192.0.2.9']);
  const tcpMesh = await queryTcp('ratings.other.svc.cluster.local');
  assert.deepEqual(tcpMesh.answers!.map((x) => x.data), ['10.96.0.21']);
});

test('an upstream that is not there: SERVFAIL at once', async () => {
  const closed = dgram.createSocket('udp4');
  await new Promise<void>((r) => closed.bind(0, '127.0.0.1', () => r()));
  const deadPort = closed.address().port;
  closed.close();
  const t = new DnsTable('default');
  t.update({});
  const p = new DnsProxy({ table: t, upstreams: [`127.0.0.1:${deadPort}`], port: 0, upstreamTimeoutMs: 4000 });
  const pport = await p.start();
  try {
    const t0 = Date.now();
    const r = await queryUdp('example.org', 'A', pport);
    assert.equal(r.rcode, 'SERVFAIL');
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  } finally {
    await p.close();
  }
});
