/**
 * Client-chosen keys other than passthrough Hosts (unique-hosts-bounded.test.ts) cannot grow a
 * sidecar without bound either (issue 22): every request carries a unique path and query, a
 * unique header name, a unique header value, a unique Host matched by a wildcard virtual host,
 * and its upstream answers with a unique x-envoy-peer-metadata. The proxy's heap (admin /memory)
 * and RSS stop growing after the first round, Istio's metrics stop at their bound of label sets
 * (destination_service falls back to the Host, as Istio's does, so unique Hosts are unique label
 * sets), and the overflow counters of every cache those keys reach move.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { httpRequest, setAll } from '../helpers/harness.js';
import { spawnProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { boundHttpListener, route, routeConfig, routerFilter, staticCluster, vhost } from '../helpers/resources.js';
import { StaticXds } from '../helpers/static-xds.js';
import { closedPort } from '../helpers/upstreams.js';

const STATS_FILTER = { name: 'istio.stats', typed_config: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct', type_url: 'type.googleapis.com/stats.PluginConfig', value: {} } };
const ROUND = 2000;

let upstream: http.Server;
let xds: StaticXds;
let proxy: ProxyProcess;
const ports = { listener: 0, admin: 0, stats: 0, ready: 0 };

before(async () => {
  // answers every request with the peer metadata the request asked for (unique per request)
  upstream = http.createServer((req, res) => {
    res.writeHead(200, { 'content-length': 2, 'x-envoy-peer-metadata': String(req.headers['x-peer'] ?? '') });
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upPort = (upstream.address() as AddressInfo).port;
  for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await closedPort();
  xds = new StaticXds();
  setAll(xds, {
    clusters: [staticCluster('keys-upstream', [['127.0.0.1', upPort]])],
    endpoints: [],
    listeners: [boundHttpListener('keys', '127.0.0.1', ports.listener, 'keys', [STATS_FILTER, routerFilter])],
    routes: [routeConfig('keys', [vhost('keys', ['*.keys.example'], [route({ prefix: '/' }, 'keys-upstream')])])],
  }, false);
  await xds.start();
  proxy = spawnProxy(['--xds-address', xds.address, '--id', 'client.default', '--admin-port', String(ports.admin),
    '--stats-port', String(ports.stats), '--ready-port', String(ports.ready), '--log-level', 'warn']);
  await proxy.waitReady(ports.ready);
});

after(async () => {
  proxy.child.kill('SIGINT');
  await proxy.exited;
  await xds.stop();
  await new Promise((r) => upstream.close(r));
});

function rssMb(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${proxy.child.pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

/** live objects: the admin's /memory after a full GC */
async function heapUsedMb(): Promise<number> {
  const r = await httpRequest({ port: ports.admin, path: '/memory?gc', method: 'POST' });
  assert.equal(r.status, 200);
  return Number((JSON.parse(r.body) as { allocated: string }).allocated) / 1048576;
}

async function stats(): Promise<Map<string, number>> {
  const body = (await httpRequest({ port: ports.admin, path: '/stats' })).body;
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    const i = line.lastIndexOf(': ');
    if (i > 0) out.set(line.slice(0, i), Number(line.slice(i + 2)));
  }
  return out;
}

/** ROUND requests numbered from `first`, every key unique, over 8 keep-alive connections; returns the 200s. */
async function flood(first: number): Promise<number> {
  let next = first;
  let ok = 0;
  const end = first + ROUND;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.connect(ports.listener, '127.0.0.1');
      let buf = '';
      const send = (): void => {
        if (next >= end) {
          s.end();
          resolve();
          return;
        }
        const i = next++;
        const peer = Buffer.from(`peer-${i}-${'p'.repeat(40)}`).toString('base64');
        s.write(`GET /p/${i}/${i.toString(36)}?q=${i * 7919} HTTP/1.1\r\nHost: h${i}.keys.example\r\nx-name-${i}: 1\r\nx-value: v${i}-${'v'.repeat(64)}\r\nx-peer: ${peer}\r\n\r\n`);
      };
      s.on('connect', send);
      s.on('error', reject);
      s.on('data', (d) => {
        buf += d.toString('latin1');
        for (;;) {
          const h = buf.indexOf('\r\n\r\n');
          if (h < 0) return;
          const len = Number(/\r\ncontent-length: (\d+)/i.exec(buf.slice(0, h))?.[1] ?? 0);
          if (buf.length < h + 4 + len) return;
          if (buf.startsWith('HTTP/1.1 200')) ok++;
          buf = buf.slice(h + 4 + len);
          send();
        }
      });
    });
  await Promise.all(Array.from({ length: 8 }, one));
  return ok;
}

test('unique paths, header names and values, Hosts and peer metadata: bounded heap and series, overflow counted', async (t) => {
  // the first round brings the caches to their bounds and the heap to its working size
  assert.equal(await flood(0), ROUND);
  const heap0 = await heapUsedMb();
  const rss0 = rssMb();
  const s0 = await stats();
  assert.equal(await flood(ROUND), ROUND);
  assert.equal(await flood(2 * ROUND), ROUND);
  const heapGrown = (await heapUsedMb()) - heap0;
  const rssGrown = rssMb() - rss0;
  const s = await stats();
  t.diagnostic(`after ${2 * ROUND} more unique keys: live heap ${heapGrown >= 0 ? '+' : ''}${heapGrown.toFixed(2)} MB, RSS ${rssGrown >= 0 ? '+' : ''}${rssGrown.toFixed(1)} MB`);
  const moved = (k: string) => (s.get(`clew.overflow.${k}`) ?? 0) - (s0.get(`clew.overflow.${k}`) ?? 0);
  // every key past a cache's bound is counted: 2048 header names, 4096 authorities, 1000 peers,
  // 1000 label sets (full after the first round: each later request is counted)
  assert.ok(moved('header_names') >= ROUND, `header_names overflow moved ${moved('header_names')}`);
  assert.ok(moved('route_vhost_cache') >= 1, `route_vhost_cache overflow moved ${moved('route_vhost_cache')}`);
  assert.ok(moved('peer_metadata_cache') >= 3, `peer_metadata_cache overflow moved ${moved('peer_metadata_cache')}`);
  assert.equal(moved('istio_label_sets'), 2 * ROUND);
  assert.equal(moved('stats_series'), 0);
  const scrape = (await httpRequest({ port: ports.stats, path: '/stats/prometheus' })).body;
  const series = scrape.split('\n').filter((l) => l.startsWith('istio_requests_total{'));
  assert.equal(series.length, 1000);
  // 4,000 more unique keys of each kind: a per-key leak of 1 KB would be 4 MB per kind
  assert.ok(heapGrown < 2, `live heap grew ${heapGrown.toFixed(1)} MB`);
  assert.ok(rssGrown < 40, `RSS grew ${rssGrown.toFixed(1)} MB`);
});
