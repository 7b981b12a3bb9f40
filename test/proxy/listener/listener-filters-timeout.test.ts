/**
 * listener_filters_timeout (issue 23: a partial ClientHello on a port with the TLS inspector held
 * its connection for ever). The inspectors wait at most the listener's listener_filters_timeout
 * (Envoy's default 15 s; 0 = no limit) for the first bytes; then the connection is closed and
 * counted in listener.<name>.downstream_pre_cx_timeout, or, with
 * continue_on_listener_filters_timeout, handed to a chain as plaintext with the bytes read so far.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { parseListener, DEFAULT_LISTENER_FILTERS_TIMEOUT_MS, type ListenerParseContext } from '../../../src/proxy/listener/listener-config.js';
import { NOOP_OBSERVER } from '../../../src/proxy/core/observer.js';
import { parsePerRouteFilterConfig } from '../../../src/proxy/filters/registry.js';
import { socketAddress, staticCluster, tcpProxy } from '../helpers/resources.js';
import { startHarness, withTimeout, type Harness } from '../helpers/harness.js';
import { startTcpEcho } from '../helpers/upstreams.js';

const TLS_INSPECTOR = { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } };
/** a TLS record header announcing a 512-byte handshake, and only the first bytes of it */
const PARTIAL_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01]);

let echo: { port: number; close(): Promise<void> };
let h: Harness;
const clients: net.Socket[] = [];

function listener(name: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    name, stat_prefix: name, address: socketAddress('127.0.0.1', 0), listener_filters: [TLS_INSPECTOR],
    filter_chains: [
      { filter_chain_match: { transport_protocol: 'tls' }, filters: [tcpProxy('echo')] },
      { filter_chain_match: { transport_protocol: 'raw_buffer' }, filters: [tcpProxy('echo')] },
    ],
    ...extra,
  };
}

before(async () => {
  echo = await startTcpEcho('echo:');
  h = await startHarness({
    clusters: [staticCluster('echo', [['127.0.0.1', echo.port]])],
    listeners: [
      listener('closes', { listener_filters_timeout: { nanos: 300_000_000 } }),
      listener('continues', { listener_filters_timeout: { nanos: 300_000_000 }, continue_on_listener_filters_timeout: true }),
      listener('unlimited', { listener_filters_timeout: { seconds: 0 } }),
    ],
  });
});

after(async () => {
  for (const c of clients) c.destroy();
  await h?.close();
  await echo?.close();
});

async function stat(name: string): Promise<number> {
  const line = (await h.admin('/stats')).body.split('\n').find((l) => l.startsWith(`${name}: `));
  return line ? Number(line.slice(name.length + 2)) : 0;
}

function open(name: string): { sock: net.Socket; received: () => Buffer; closed: Promise<number> } {
  const sock = net.connect(h.proxy.listenerPort(name)!, '127.0.0.1');
  clients.push(sock);
  const got: Buffer[] = [];
  sock.on('data', (d: Buffer) => got.push(d));
  sock.on('error', () => undefined);
  const closed = new Promise<number>((r) => sock.on('close', () => r(Date.now())));
  sock.write(PARTIAL_HELLO);
  return { sock, received: () => Buffer.concat(got), closed };
}

test('a partial ClientHello is closed after listener_filters_timeout and counted', async () => {
  const t0 = Date.now();
  const c = open('closes');
  const at = await withTimeout(c.closed, 5000, 'the half-sent ClientHello was never closed');
  assert.ok(at - t0 >= 250, `closed after ${at - t0} ms, before the timeout`);
  assert.equal(c.received().length, 0, 'nothing was forwarded');
  assert.equal(await stat('listener.closes.downstream_pre_cx_timeout'), 1);
});

test('continue_on_listener_filters_timeout: the connection goes on as plaintext with the bytes read so far', async () => {
  const c = open('continues');
  const deadline = Date.now() + 5000;
  while (!c.received().toString('latin1').startsWith('echo:') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(c.received(), Buffer.concat([Buffer.from('echo:'), PARTIAL_HELLO]), 'the echo got the inspected bytes');
  c.sock.write('more');
  await new Promise((r) => setTimeout(r, 200));
  assert.match(c.received().toString('latin1'), /more$/);
  assert.equal(await stat('listener.continues.downstream_pre_cx_timeout'), 1);
});

test('listener_filters_timeout 0: no limit; unset: Envoy\'s 15 s', async () => {
  const c = open('unlimited');
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(c.sock.destroyed, false, 'a listener without a limit closed the connection');
  assert.equal(await stat('listener.unlimited.downstream_pre_cx_timeout'), 0);
  const ctx: ListenerParseContext = {
    rdsProvider: (name) => ({ name, config: undefined, version: '', raw: undefined, lastUpdated: undefined }),
    resolveCluster: (name) => ({ name, cluster: undefined }),
    perFilterParser: parsePerRouteFilterConfig,
    observer: NOOP_OBSERVER,
    bindOverride: (_n, address, port) => ({ address, port }),
    proxyAddress: '127.0.0.2',
  };
  const unset = parseListener({ name: 'x', address: socketAddress('127.0.0.1', 1), filter_chains: [{ filters: [tcpProxy('echo')] }] }, ctx);
  assert.equal(unset.listenerFiltersTimeoutMs, DEFAULT_LISTENER_FILTERS_TIMEOUT_MS);
  assert.equal(DEFAULT_LISTENER_FILTERS_TIMEOUT_MS, 15_000);
  assert.equal(unset.continueOnListenerFiltersTimeout, false);
});
