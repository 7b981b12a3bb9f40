/**
 * Upgrade requests under the HCM's rules (issue 23 item 5): an Upgrade runs the whole HTTP filter
 * chain (a fault abort on a route is not bypassed by adding `Upgrade: websocket`); only the types
 * the HCM's `upgrade_configs` (or the route's) enable are carried, others get 403 and never reach
 * the upstream; `Upgrade: h2c` is stripped and the request served as plain HTTP/1.1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { FAULT_TYPE } from '../../src/xds/type-urls.js';
import { boundHttpListener, faultFilter, outboundHttpListener, passthroughCluster, route, routeConfig, routerFilter, staticCluster, virtualOutbound, vhost } from './helpers/resources.js';
import { startHarness, waitFor, withTimeout, type Harness } from './helpers/harness.js';

const C = 'outbound|8000||up.default.svc.cluster.local';
const fault = (f: Record<string, unknown>) => ({ 'envoy.filters.http.fault': { '@type': FAULT_TYPE, ...f } });
const ABORT_ALL = fault({ abort: { http_status: 418, percentage: { numerator: 100, denominator: 'HUNDRED' } } });

/** What the upstream received, per connection; it answers 101 to upgrades (then echoes), 200 to anything else. */
const received: string[] = [];
let upstream: net.Server;
let h: Harness;

function upgrade(path: string, host: string, type = 'websocket', extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: ${type}\r\n${extra}\r\n`;
}

/** writes `data`, reads until `until` matches or the proxy closes (or `ms` passes) */
function raw(port: number, data: string, until?: (t: string) => boolean, ms = 2000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve({ text, closed });
    };
    const t = setTimeout(done, ms);
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (until?.(text)) done();
    });
    s.on('end', () => {
      closed = true;
      done();
    });
    s.on('error', done);
    s.write(data);
  });
}

before(async () => {
  upstream = net.createServer((s) => {
    const i = received.push('') - 1;
    let tunnel = false;
    let at = 0;
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      received[i] += d.toString('latin1');
      if (tunnel) {
        s.write(`echo:${d.toString('latin1')}`);
        return;
      }
      for (let end = received[i].indexOf('\r\n\r\n', at); end >= 0; end = received[i].indexOf('\r\n\r\n', at)) {
        const head = received[i].slice(at, end);
        at = end + 4;
        if (/\r\nupgrade: /i.test(head)) {
          tunnel = true;
          s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nhello|');
          return;
        }
        const body = head.split('\r\n')[0];
        s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const port = (upstream.address() as net.AddressInfo).port;
  const routes = [
    route({ prefix: '/admin' }, C, {}, { typed_per_filter_config: ABORT_ALL }),
    route({ prefix: '/no-ws' }, C, { upgrade_configs: [{ upgrade_type: 'websocket', enabled: { value: false } }] }),
    route({ prefix: '/custom' }, C, { upgrade_configs: [{ upgrade_type: 'custom-proto' }] }),
    route({ prefix: '/' }, C),
  ];
  h = await startHarness({
    clusters: [staticCluster(C, [['127.0.0.1', port]]), passthroughCluster()],
    listeners: [
      virtualOutbound(0),
      outboundHttpListener(8000, [faultFilter, routerFilter]),
      // a gateway-style listener whose HCM carries no upgrade type at all
      boundHttpListener('plain', '127.0.0.1', 0, 'plain', [faultFilter, routerFilter], { upgrade_configs: [] }),
    ],
    routes: [routeConfig('8000', [vhost('up', ['up:8000'], routes)]), routeConfig('plain', [vhost('up', ['*'], [route({ prefix: '/' }, C)])])],
  });
});

after(async () => {
  await h?.close();
  upstream?.close();
});

function seenUpstream(path: string): boolean {
  return received.some((r) => r.includes(` ${path} HTTP/1.1`));
}

async function stat(name: string): Promise<number> {
  const text = (await h.admin('/stats')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}: `));
  return line ? Number(line.slice(name.length + 2)) : 0;
}

test('a fault abort on /admin applies to an Upgrade request too: the fault status, the upstream never sees it', async () => {
  const r = await raw(h.outbound, upgrade('/admin/ws', 'up:8000'));
  assert.match(r.text, /^HTTP\/1\.1 418 /);
  assert.match(r.text, /connection: close\r\n/);
  assert.ok(r.closed, 'the connection ends after the answer to an Upgrade request');
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(seenUpstream('/admin/ws'), false, 'the upgrade reached the upstream past the fault filter');
});

test('an enabled websocket upgrade still tunnels, through the filters, with the bytes sent early', async () => {
  const r = await raw(h.outbound, upgrade('/ws', 'up:8000') + 'early', (t) => t.includes('echo:early'));
  assert.match(r.text, /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*connection: upgrade\r\nupgrade: websocket\r\n/i);
  assert.match(r.text, /hello\|echo:early/);
});

test('an upgrade type the HCM does not enable gets 403 and never reaches the upstream; counted', async () => {
  const before = await stat('http.8000.downstream_rq_ws_on_non_ws_route');
  const r = await raw(h.outbound, upgrade('/other', 'up:8000', 'foo') + 'GET /smuggled HTTP/1.1\r\nHost: up:8000\r\n\r\n');
  assert.match(r.text, /^HTTP\/1\.1 403 Forbidden\r\n/);
  assert.ok(r.closed);
  assert.equal((r.text.match(/HTTP\/1\.1 /g) ?? []).length, 1);
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(seenUpstream('/other'), false);
  assert.equal(seenUpstream('/smuggled'), false);
  assert.equal(await stat('http.8000.downstream_rq_ws_on_non_ws_route'), before + 1);
});

test('upgrade_configs per route: a route disables websocket (403); another enables a type the HCM lacks (tunnel)', async () => {
  const off = await raw(h.outbound, upgrade('/no-ws', 'up:8000'));
  assert.match(off.text, /^HTTP\/1\.1 403 /);
  const custom = await raw(h.outbound, upgrade('/custom', 'up:8000', 'custom-proto') + 'x', (t) => t.includes('echo:x'));
  assert.match(custom.text, /^HTTP\/1\.1 101 /);
});

test('an HCM with no upgrade_configs refuses websocket (403); plain requests pass', async () => {
  const port = h.proxy.listenerPort('plain')!;
  const r = await raw(port, upgrade('/ws-plain', 'anything'));
  assert.match(r.text, /^HTTP\/1\.1 403 /);
  const ok = await raw(port, 'GET /plain-ok HTTP/1.1\r\nHost: anything\r\n\r\n', (t) => t.endsWith('/plain-ok HTTP/1.1'));
  assert.match(ok.text, /^HTTP\/1\.1 200 /);
  assert.equal(seenUpstream('/ws-plain'), false);
});

test('Upgrade: h2c is stripped: the upstream gets plain HTTP/1.1 (no Upgrade, HTTP2-Settings or connection tokens) and the connection goes on', async () => {
  const r = await withTimeout(
    raw(h.outbound, upgrade('/h2c', 'up:8000', 'h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n').replace('Connection: Upgrade', 'Connection: Upgrade, HTTP2-Settings') + 'GET /after-h2c HTTP/1.1\r\nHost: up:8000\r\n\r\n', (t) => t.includes('GET /after-h2c')),
    3000,
    'h2c',
  );
  assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n[^]*GET \/h2c HTTP\/1\.1HTTP\/1\.1 200 OK\r\n[^]*GET \/after-h2c HTTP\/1\.1$/);
  await waitFor(() => seenUpstream('/h2c'));
  const up = received.find((x) => x.includes('GET /h2c HTTP/1.1'))!;
  const head = up.slice(up.indexOf('GET /h2c'), up.indexOf('\r\n\r\n', up.indexOf('GET /h2c')));
  assert.doesNotMatch(head, /upgrade|http2-settings/i);
  assert.doesNotMatch(head, /\r\nconnection: .*upgrade/i);
});
