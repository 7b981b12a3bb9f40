/**
 * Control-plane fairness (issue 23 item 8): one ADS client that never reads added 2 s to every
 * push for every proxy. A stream that does not keep up is skipped (its pushes coalesced to the
 * latest version, sent when it reads) or dropped; nobody waits on it. A 1 MB node id is refused
 * with a clear gRPC status and never registered.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { AdsServer } from '../../src/xds-server/ads-server.js';
import type { XdsStreamInfo } from '../../src/xds-server/ads-types.js';
import { lookupType } from '../../src/xds/proto-root.js';
import { LISTENER_TYPE } from '../../src/xds/type-urls.js';
import { TestAdsStream, TestSource, listener, newClient, until } from './ads-test-client.js';
import { nestedStructBytes } from '../fuzz/xds-bytes.js';

const NODE = (id: string) => ({ id, locality: {}, metadata: { NAMESPACE: 'default' } });

/** About 300 KB of listeners: more than a paused HTTP/2 client's flow-control window takes. */
function bigListeners(gen: number) {
  return Array.from({ length: 60 }, (_, i) => ({ ...listener(`l${i}`, 10000 + i), stat_prefix: `gen${gen}-${'x'.repeat(5000)}` }));
}

const carries = (res: any, text: string) => res.resources.some((r: any) => Buffer.from(r.value).toString('latin1').includes(text));

let server: AdsServer;
let source: TestSource;
let client: grpc.Client;
let port: number;
const connects: XdsStreamInfo[] = [];

before(async () => {
  source = new TestSource();
  source.set(LISTENER_TYPE, bigListeners(0));
  // a small write budget: before the fix a stuck client filled it and every push waited 2 s
  server = new AdsServer(source, { writeBudgetBytes: 1024 * 1024, stallMs: 300, dropMs: 4000 });
  server.on('connect', (s: XdsStreamInfo) => connects.push(s));
  port = await server.listen('127.0.0.1', 0);
  client = newClient(port);
});

after(async () => {
  client.close();
  await server.close();
});

/** A raw HTTP/2 gRPC client that subscribes to LDS and then never reads. */
function stuckClient(nodeId: string): { session: http2.ClientHttp2Session; stream: http2.ClientHttp2Stream } {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 65535 } });
  session.on('error', () => {});
  const stream = session.request({
    ':method': 'POST', ':path': '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    'content-type': 'application/grpc', te: 'trailers',
  });
  stream.on('error', () => {});
  const T = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const msg = Buffer.from(T.encode(T.fromObject({ node: { id: nodeId }, type_url: LISTENER_TYPE })).finish());
  const frame = Buffer.alloc(5 + msg.length);
  frame.writeUInt32BE(msg.length, 1);
  msg.copy(frame, 5);
  stream.write(frame);
  stream.pause(); // never read: the server's responses pile up against flow control
  return { session, stream };
}

test('a client that never reads delays no push and no other proxy; its pushes are coalesced, then it is dropped', async () => {
  const stuck = stuckClient('sidecar~10.0.0.9~stuck.default~default.svc.cluster.local');
  await until(() => connects.some((c) => c.node?.id.includes('stuck')));
  const healthy = new TestAdsStream(client, false);
  healthy.send({ node: NODE('sidecar~10.0.0.1~ok.default~default.svc.cluster.local'), type_url: LISTENER_TYPE });
  let res = await healthy.next();
  healthy.send({ node: NODE('x'), type_url: LISTENER_TYPE, version_info: res.version_info, response_nonce: res.nonce });
  const deferredBefore = server.stats.deferred;
  const delays: number[] = [];
  for (let gen = 1; gen <= 6; gen++) {
    source.set(LISTENER_TYPE, bigListeners(gen));
    const t0 = performance.now();
    const pushed = server.push({ typeUrls: [LISTENER_TYPE] });
    res = await healthy.next(5000);
    delays.push(performance.now() - t0);
    assert.ok(carries(res, `gen${gen}-`), `generation ${gen} reached the healthy client`);
    healthy.send({ node: NODE('x'), type_url: LISTENER_TYPE, version_info: res.version_info, response_nonce: res.nonce });
    await pushed; // a push resolves without the stuck client taking anything
  }
  assert.ok(Math.max(...delays) < 700, `push to a healthy client took ${delays.map((d) => d.toFixed(0)).join(', ')} ms`);
  assert.ok(server.stats.deferred - deferredBefore >= 4, `pushes to the stuck stream deferred: ${server.stats.deferred - deferredBefore}`);
  assert.ok(server.budget.bytesInFlight < 1024 * 1024, `budget held: ${server.budget.bytesInFlight}`);
  // still not reading after dropMs: the stream is reset and forgotten
  await until(() => server.stats.dropped === 1, 8000);
  await until(() => !server.streams().some((s) => s.stream.node?.id.includes('stuck')), 3000);
  const reset = await new Promise<number>((resolve) => {
    if (stuck.stream.rstCode !== undefined && stuck.stream.destroyed) resolve(stuck.stream.rstCode);
    stuck.stream.on('close', () => resolve(stuck.stream.rstCode ?? -1));
  });
  assert.equal(reset, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  stuck.session.destroy();
  healthy.cancel();
});

test('a client that reads slowly gets the latest version once it reads (coalesced), not every one', async () => {
  const slow = stuckClient('sidecar~10.0.0.8~slow.default~default.svc.cluster.local');
  await until(() => connects.some((c) => c.node?.id.includes('slow')));
  for (let gen = 10; gen <= 14; gen++) {
    source.set(LISTENER_TYPE, bigListeners(gen));
    await server.push({ typeUrls: [LISTENER_TYPE] });
  }
  // now read everything: the first response (gen 6 state) and then only the latest, gen 14
  const chunks: Buffer[] = [];
  slow.stream.on('data', (c: Buffer) => chunks.push(c));
  slow.stream.resume();
  await until(() => Buffer.concat(chunks).includes('gen14-'), 5000);
  const text = Buffer.concat(chunks).toString('latin1');
  for (const g of [11, 12, 13]) assert.ok(!text.includes(`gen${g}-`), `generation ${g} was coalesced away`);
  slow.session.destroy();
});

test('a 1 MB node id is refused with INVALID_ARGUMENT and never connects', async () => {
  const before = connects.length;
  const s = new TestAdsStream(client, false);
  s.send({ node: NODE(`sidecar~10.0.0.2~${'a'.repeat(1024 * 1024)}.default~default.svc.cluster.local`), type_url: LISTENER_TYPE });
  const status = (await s.ended) as grpc.StatusObject;
  assert.equal(status.code, 3);
  assert.match(status.details, /node id is \d+ bytes, at most 1024 are accepted/);
  const meta = new TestAdsStream(client, false);
  meta.send({ node: { id: 'sidecar~10.0.0.3~m.default~default.svc.cluster.local', metadata: { BIG: 'x'.repeat(100_000) } }, type_url: LISTENER_TYPE });
  const metaStatus = (await meta.ended) as grpc.StatusObject;
  assert.equal(metaStatus.code, 3);
  assert.match(metaStatus.details, /node metadata is \d+ bytes/);
  assert.equal(connects.length, before);
  assert.equal(server.stats.rejectedNodes, 2);
});

test('a request whose node metadata nests 20,000 deep ends with a gRPC status; the server keeps serving', async () => {
  const len = (n: number) => {
    const out: number[] = [];
    while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
    out.push(n);
    return Buffer.from(out);
  };
  const struct = nestedStructBytes(20_000);
  const id = Buffer.from('sidecar~10.0.0.4~deep.default~default.svc.cluster.local');
  const node = Buffer.concat([Buffer.from([0x0a]), len(id.length), id, Buffer.from([0x1a]), len(struct.length), struct]);
  const typeUrl = Buffer.from(LISTENER_TYPE);
  const msg = Buffer.concat([Buffer.from([0x12]), len(node.length), node, Buffer.from([0x22]), len(typeUrl.length), typeUrl]);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const stream = session.request({
    ':method': 'POST', ':path': '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    'content-type': 'application/grpc', te: 'trailers',
  });
  const frame = Buffer.alloc(5 + msg.length);
  frame.writeUInt32BE(msg.length, 1);
  msg.copy(frame, 5);
  stream.end(frame);
  stream.resume();
  const status = await new Promise<string>((resolve) => {
    stream.on('trailers', (t) => resolve(String(t['grpc-status'])));
    stream.on('response', (h) => { if (h['grpc-status'] !== undefined) resolve(String(h['grpc-status'])); });
    stream.on('close', () => resolve('closed'));
  });
  session.destroy();
  assert.notEqual(status, '0', 'refused');
  assert.ok(!connects.some((c) => c.node?.id.includes('deep')));
  // and the server still answers
  const ok = new TestAdsStream(client, false);
  ok.send({ node: NODE('sidecar~10.0.0.5~after.default~default.svc.cluster.local'), type_url: LISTENER_TYPE });
  assert.ok((await ok.next(5000)).resources.length > 0);
  ok.cancel();
});
