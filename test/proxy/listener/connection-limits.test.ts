/**
 * Downstream connection limits (issue 23 item 9: ~20k idle connections used up the descriptors
 * and every new client was reset). The global limit (Envoy's overload manager
 * `downstream_connections`, `--max-downstream-connections`) closes a connection over it before a
 * byte is read and counts it in `listener.<name>.downstream_global_cx_overflow`, unless an
 * HTTP/1.1 connection idle for a second or more can be closed to make room
 * (`downstream_cx_idle_evicted`); `ignore_global_conn_limit` listeners are exempt. The
 * `envoy.filters.network.connection_limit` filter limits one filter chain. Connections no
 * listener or chain takes are counted (`no_filter_chain_match`) and reported with flag NR.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONNECTION_LIMIT_TYPE } from '../../../src/xds/type-urls.js';
import type { StreamInfo } from '../../../src/proxy/core/stream-info.js';
import { hcm, route, routeConfig, socketAddress, staticCluster, vhost } from '../helpers/resources.js';
import { httpRequest, startHarness, waitFor, withTimeout, type Harness } from '../helpers/harness.js';

const C = 'backend';
const LIMIT = 4;
let upstream: http.Server;
/** responses the upstream holds back (GET /hold) until released */
const held: http.ServerResponse[] = [];
let h: Harness;
const infos: StreamInfo[] = [];
const clients: net.Socket[] = [];
const dir = mkdtempSync(join(tmpdir(), 'clew-connlimit-'));
const NR_LOG = join(dir, 'nr.log');
const FILE_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';

function listener(name: string, extra: Record<string, unknown> = {}, chainFilters: unknown[] = []): Record<string, unknown> {
  return { name, stat_prefix: name, address: socketAddress('127.0.0.1', 0), filter_chains: [{ filters: [...chainFilters, hcm('r')] }], ...extra };
}

before(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/hold') held.push(res);
    else res.end(`ok ${req.url}`);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const port = (upstream.address() as net.AddressInfo).port;
  h = await startHarness(
    {
      clusters: [staticCluster(C, [['127.0.0.1', port]])],
      listeners: [
        listener('main'),
        listener('exempt', { ignore_global_conn_limit: true }),
        listener('limited', {}, [
          { name: 'envoy.filters.network.connection_limit', typed_config: { '@type': CONNECTION_LIMIT_TYPE, stat_prefix: 'lim', max_connections: { value: 2 }, delay: { seconds: 0, nanos: 300_000_000 } } },
        ]),
        // a listener whose only chain takes TLS connections: a plaintext client matches no chain
        { name: 'tlsonly', stat_prefix: 'tlsonly', address: socketAddress('127.0.0.1', 0), listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }], filter_chains: [{ filter_chain_match: { transport_protocol: 'tls' }, filters: [hcm('r')] }],
          access_log: [{ name: 'envoy.access_loggers.file', filter: { response_flag_filter: { flags: ['NR'] } }, typed_config: { '@type': FILE_LOG, path: NR_LOG, log_format: { text_format_source: { inline_string: '%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %DOWNSTREAM_REMOTE_ADDRESS%\n' } } } }] },
      ],
      routes: [routeConfig('r', [vhost('all', ['*'], [route({ prefix: '/' }, C)])])],
    },
    { maxDownstreamConnections: LIMIT, observer: { onRequestComplete: (i) => infos.push(i) } },
  );
});

after(async () => {
  for (const c of clients) c.destroy();
  for (const r of held) r.destroy();
  await h?.close();
  upstream?.closeAllConnections();
  upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

function port(name: string): number {
  const p = h.proxy.listenerPort(name);
  assert.ok(p, `listener ${name} has no port`);
  return p;
}

async function stat(name: string): Promise<number> {
  const text = (await h.admin('/stats')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}: `));
  return line ? Number(line.slice(name.length + 2)) : 0;
}

/** a connection that sends `data` and collects what comes back; `closed` resolves at its end */
function connect(p: number, data?: string): { sock: net.Socket; text: () => string; closed: Promise<number> } {
  const sock = net.connect(p, '127.0.0.1');
  clients.push(sock);
  let text = '';
  sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
  sock.on('error', () => undefined);
  const closed = new Promise<number>((r) => sock.on('close', () => r(Date.now())));
  if (data !== undefined) sock.write(data);
  return { sock, text: () => text, closed };
}

const HOLD = 'GET /hold HTTP/1.1\r\nHost: x\r\n\r\n';

test('the global limit: a connection over it is closed unread and counted; an exempt listener still serves; idle connections make room', async () => {
  // four connections, each with a request under way: none may be closed to make room
  const busy = Array.from({ length: LIMIT }, () => connect(port('main'), HOLD));
  await waitFor(() => held.length === LIMIT, 5000, 'four held requests');
  const over = connect(port('main'), 'GET /over HTTP/1.1\r\nHost: x\r\n\r\n');
  await withTimeout(over.closed, 3000, 'the connection over the limit was not closed');
  assert.equal(over.text(), '', 'a connection over the limit got an answer');
  assert.equal(await stat('listener.main.downstream_global_cx_overflow'), 1);
  assert.equal(await stat('listener.main.downstream_cx_active'), LIMIT);
  for (const b of busy) assert.equal(b.sock.destroyed, false, 'a busy connection was closed to make room');

  // ignore_global_conn_limit: served while the limit is reached
  const exempt = await httpRequest({ port: port('exempt'), path: '/exempt' });
  assert.equal(exempt.status, 200);
  assert.equal(exempt.body, 'ok /exempt');

  // the held requests end; their connections stay open, idle (keep-alive)
  for (const r of held.splice(0)) r.end('released');
  await waitFor(() => busy.every((b) => b.text().endsWith('released')), 5000, 'released responses');
  // idle for less than a second: not closed to make room
  const early = connect(port('main'), 'GET /early HTTP/1.1\r\nHost: x\r\n\r\n');
  await withTimeout(early.closed, 3000, 'a connection over the limit (all others idle < 1 s) was not closed');
  assert.equal(early.text(), '');
  assert.equal(await stat('listener.main.downstream_global_cx_overflow'), 2);

  await new Promise((r) => setTimeout(r, 1200));
  // one idle connection is closed to make room: the new client is served
  const fresh = await httpRequest({ port: port('main'), path: '/fresh' });
  assert.equal(fresh.status, 200);
  assert.equal(fresh.body, 'ok /fresh');
  assert.equal(await stat('listener.main.downstream_cx_idle_evicted'), 1);
  await waitFor(() => busy.filter((b) => b.sock.destroyed || b.sock.readableEnded).length === 1, 3000, 'one idle connection closed');
  for (const b of busy) b.sock.destroy();
  await waitFor(async () => (await stat('listener.main.downstream_cx_active')) === 0, 3000, 'no connection left');
});

test('connection_limit filter: the third connection on a chain limited to two is closed after the delay and counted', async () => {
  const a = connect(port('limited'), HOLD);
  const b = connect(port('limited'), HOLD);
  await waitFor(() => held.length === 2, 5000, 'two held requests');
  assert.equal(await stat('connection_limit.lim.active_connections'), 2);
  const t0 = Date.now();
  const c = connect(port('limited'), 'GET /third HTTP/1.1\r\nHost: x\r\n\r\n');
  const closedAt = await withTimeout(c.closed, 3000, 'the third connection was not closed');
  assert.ok(closedAt - t0 >= 250, `closed after ${closedAt - t0} ms, before the 0.3 s delay`);
  assert.equal(c.text(), '');
  assert.equal(await stat('connection_limit.lim.limited_connections'), 1);
  for (const r of held.splice(0)) r.end('released');
  a.sock.destroy();
  await waitFor(async () => (await stat('connection_limit.lim.active_connections')) === 1, 3000, 'one connection left');
  // room again
  const d = await httpRequest({ port: port('limited'), path: '/again' });
  assert.equal(d.status, 200);
  b.sock.destroy();
});

test('a connection no filter chain takes: closed, counted as no_filter_chain_match, reported with flag NR', async () => {
  const before = infos.length;
  const c = connect(port('tlsonly'), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await withTimeout(c.closed, 3000, 'a connection without a chain was not closed');
  assert.equal(c.text(), '');
  assert.equal(await stat('listener.tlsonly.no_filter_chain_match'), 1);
  const nr = infos.slice(before).find((i) => i.listenerName === 'tlsonly');
  assert.ok(nr, 'no report for the refused connection');
  assert.ok(nr.responseFlags.has('NR'));
  assert.equal(nr.responseCodeDetails, 'filter_chain_not_found');
  // the listener's own access log has the line
  await waitFor(() => { try { return /^NR filter_chain_not_found 127\.0\.0\.1:\d+$/m.test(readFileSync(NR_LOG, 'utf8')); } catch { return false; } }, 3000, 'an NR line in the listener access log');
});
