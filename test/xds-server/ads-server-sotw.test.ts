import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { AdsServer } from '../../src/xds-server/ads-server.js';
import type { XdsStreamInfo } from '../../src/xds-server/ads-types.js';
import { CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE, ENDPOINT_TYPE } from '../../src/xds/type-urls.js';
import { TestAdsStream, TestSource, cluster, listener, newClient, route, endpoints, sotwNames, until } from './ads-test-client.js';

const NODE = { id: 'sidecar~127.0.1.2~reviews-v1.default~default.svc.cluster.local', locality: {}, metadata: { NAMESPACE: 'default', LABELS: { app: 'reviews' } } };

let server: AdsServer;
let source: TestSource;
let client: grpc.Client;
let port: number;
const events: { name: string; args: unknown[] }[] = [];

before(async () => {
  source = new TestSource();
  server = new AdsServer(source);
  for (const name of ['connect', 'disconnect', 'ack', 'nack', 'request']) {
    server.on(name, (...args: unknown[]) => events.push({ name, args }));
  }
  port = await server.listen('127.0.0.1', 0);
  client = newClient(port);
});

after(async () => {
  client.close();
  await server.close();
});

function streamOf(id: number) {
  const s = server.streams().find((x) => x.stream.id === id);
  assert.ok(s, `stream ${id} is live`);
  return s;
}

function eventsFor(name: string, id: number) {
  return events.filter((e) => e.name === name && (e.args[0] as XdsStreamInfo).id === id);
}

/** Opens a stream, subscribes LDS wildcard, returns the stream and its first response. */
async function openLds(): Promise<{ s: TestAdsStream; res: any; id: number }> {
  const s = new TestAdsStream(client, false);
  s.send({ node: NODE, type_url: LISTENER_TYPE });
  const res = await s.next();
  const id = events.filter((e) => e.name === 'connect').map((e) => (e.args[0] as XdsStreamInfo).id).sort((a, b) => b - a)[0];
  return { s, res, id };
}

test('initial LDS wildcard request gets every listener as bare Anys, node kept per stream', async () => {
  source.set(LISTENER_TYPE, [listener('l1', 9080), listener('l2', 9090)]);
  const { s, res, id } = await openLds();
  assert.equal(res.type_url, LISTENER_TYPE);
  assert.ok(res.version_info.length > 0);
  assert.ok(res.nonce.length > 0);
  assert.ok(res.resources.every((a: any) => a.type_url === LISTENER_TYPE), 'bare Any of the Listener type');
  assert.deepEqual(sotwNames(res), ['l1', 'l2']);
  const st = streamOf(id);
  assert.equal(st.stream.node?.id, NODE.id);
  assert.deepEqual(st.stream.node?.metadata, NODE.metadata, 'Struct metadata is plain JSON');
  assert.equal(st.stream.delta, false);
  assert.match(st.stream.peer, /127\.0\.0\.1/);
  const lds = st.types.find((t) => t.typeUrl === LISTENER_TYPE)!;
  assert.equal(lds.subscribed, '*');
  assert.equal(lds.sentVersion, res.version_info);
  assert.equal(lds.sentNonce, res.nonce);
  assert.equal(lds.resourceCount, 2);
  // A later request without a node (as grpc-js-xds sends) keeps the node.
  s.send({ type_url: CLUSTER_TYPE });
  const cds = await s.next();
  assert.equal(cds.type_url, CLUSTER_TYPE);
  assert.equal(streamOf(id).stream.node?.id, NODE.id);
  assert.equal(eventsFor('connect', id).length, 1);
  s.cancel();
});

test('an ACK is recorded and not answered', async () => {
  source.set(LISTENER_TYPE, [listener('l1')]);
  const { s, res, id } = await openLds();
  s.send({ type_url: LISTENER_TYPE, version_info: res.version_info, response_nonce: res.nonce });
  await s.expectNone();
  const lds = streamOf(id).types.find((t) => t.typeUrl === LISTENER_TYPE)!;
  assert.equal(lds.ackedVersion, res.version_info);
  assert.equal(lds.ackedNonce, res.nonce);
  assert.ok(lds.ackedAt! >= lds.sentAt!);
  const ack = eventsFor('ack', id);
  assert.equal(ack.length, 1);
  assert.equal(ack[0].args[1], LISTENER_TYPE);
  assert.equal(ack[0].args[2], res.version_info);
  assert.equal(typeof ack[0].args[3], 'number');
  s.cancel();
});

test('a NACK is recorded with its message, the rejected version is not resent, a new one is', async () => {
  source.set(LISTENER_TYPE, [listener('l1')]);
  const { s, res: v1, id } = await openLds();
  s.send({ type_url: LISTENER_TYPE, version_info: v1.version_info, response_nonce: v1.nonce });
  // An ACK arriving after the next push would carry a stale nonce; let it land first.
  await until(() => streamOf(id).types[0].ackedVersion === v1.version_info);
  source.put(LISTENER_TYPE, listener('l1', 7777));
  await server.push({ filter: (x) => x.id === id });
  const v2 = await s.next();
  assert.notEqual(v2.version_info, v1.version_info);
  s.send({ type_url: LISTENER_TYPE, version_info: v1.version_info, response_nonce: v2.nonce, error_detail: { code: 3, message: 'bad port 7777' } });
  await s.expectNone();
  const lds = streamOf(id).types.find((t) => t.typeUrl === LISTENER_TYPE)!;
  assert.deepEqual({ ...lds.nack, at: 0 }, { version: v1.version_info, nonce: v2.nonce, message: 'bad port 7777', at: 0 });
  assert.equal(lds.ackedVersion, v1.version_info);
  const nack = eventsFor('nack', id);
  assert.deepEqual(nack.map((e) => e.args.slice(1)), [[LISTENER_TYPE, v1.version_info, 'bad port 7777']]);
  // Same content again: not resent.
  await server.push({ filter: (x) => x.id === id });
  await s.expectNone();
  // New content: sent, and its ACK clears the NACK.
  source.put(LISTENER_TYPE, listener('l1', 8888));
  await server.push({ filter: (x) => x.id === id });
  const v3 = await s.next();
  assert.ok(![v1.version_info, v2.version_info].includes(v3.version_info));
  s.send({ type_url: LISTENER_TYPE, version_info: v3.version_info, response_nonce: v3.nonce });
  await until(() => streamOf(id).types[0].ackedVersion === v3.version_info);
  assert.equal(streamOf(id).types.find((t) => t.typeUrl === LISTENER_TYPE)!.nack, undefined);
  s.cancel();
});

test('a push sends only the changed types; an unchanged push sends nothing', async () => {
  source.set(LISTENER_TYPE, [listener('l1')]);
  source.set(CLUSTER_TYPE, [cluster('c1'), cluster('c2')]);
  const { s, res: lds, id } = await openLds();
  s.send({ type_url: LISTENER_TYPE, version_info: lds.version_info, response_nonce: lds.nonce });
  s.send({ type_url: CLUSTER_TYPE });
  const cds = await s.next();
  assert.deepEqual(sotwNames(cds), ['c1', 'c2']);
  s.send({ type_url: CLUSTER_TYPE, version_info: cds.version_info, response_nonce: cds.nonce });
  const id1 = await server.push({ filter: (x) => x.id === id, reason: 'nothing changed' });
  await s.expectNone();
  source.put(CLUSTER_TYPE, cluster('c2', 2500));
  const id2 = await server.push({ filter: (x) => x.id === id });
  assert.ok(id2 > id1, 'push ids increase');
  const cds2 = await s.next();
  assert.equal(cds2.type_url, CLUSTER_TYPE);
  assert.deepEqual(sotwNames(cds2), ['c1', 'c2'], 'CDS carries the whole set');
  await s.expectNone();
  // typeUrls restricts the push.
  source.put(CLUSTER_TYPE, cluster('c3'));
  await server.push({ filter: (x) => x.id === id, typeUrls: [LISTENER_TYPE] });
  await s.expectNone();
  s.cancel();
});

test('RDS: named subscription, then a subscription change on the latest nonce is answered', async () => {
  source.set(ROUTE_TYPE, [route('a'), route('b'), route('c')]);
  const s = new TestAdsStream(client, false);
  s.send({ node: NODE, type_url: ROUTE_TYPE, resource_names: ['a', 'missing'] });
  const r1 = await s.next();
  assert.deepEqual(sotwNames(r1), ['a']);
  s.send({ type_url: ROUTE_TYPE, version_info: r1.version_info, response_nonce: r1.nonce, resource_names: ['a', 'b'] });
  const r2 = await s.next();
  assert.deepEqual(sotwNames(r2), ['a', 'b']);
  assert.notEqual(r2.nonce, r1.nonce);
  // Unsubscribing everything on a non-wildcard type needs no answer.
  s.send({ type_url: ROUTE_TYPE, version_info: r2.version_info, response_nonce: r2.nonce, resource_names: [] });
  await s.expectNone();
  // A push must not treat the empty RDS subscription as a wildcard.
  source.put(ROUTE_TYPE, route('a', 'other'));
  await server.push({ typeUrls: [ROUTE_TYPE] });
  await s.expectNone();
  s.cancel();
});

test('EDS: pushes carry only the requested, existing names', async () => {
  source.set(ENDPOINT_TYPE, [endpoints('e1', 1), endpoints('e2', 2)]);
  const s = new TestAdsStream(client, false);
  s.send({ node: NODE, type_url: ENDPOINT_TYPE, resource_names: ['e2'] });
  const r = await s.next();
  assert.deepEqual(sotwNames(r), ['e2']);
  s.send({ type_url: ENDPOINT_TYPE, version_info: r.version_info, response_nonce: r.nonce, resource_names: ['e2'] });
  source.put(ENDPOINT_TYPE, endpoints('e1', 11)); // not subscribed
  await server.push({ typeUrls: [ENDPOINT_TYPE] });
  await s.expectNone();
  source.put(ENDPOINT_TYPE, endpoints('e2', 22));
  await server.push({ typeUrls: [ENDPOINT_TYPE] });
  assert.deepEqual(sotwNames(await s.next()), ['e2']);
  s.cancel();
});

test('LDS: a listener gone from the source is absent from the next response', async () => {
  source.set(LISTENER_TYPE, [listener('l1'), listener('l2'), listener('l3')]);
  const { s, res, id } = await openLds();
  assert.deepEqual(sotwNames(res), ['l1', 'l2', 'l3']);
  s.send({ type_url: LISTENER_TYPE, version_info: res.version_info, response_nonce: res.nonce });
  source.remove(LISTENER_TYPE, 'l2');
  await server.push({ filter: (x) => x.id === id });
  const next = await s.next();
  assert.deepEqual(sotwNames(next), ['l1', 'l3']);
  assert.equal(streamOf(id).types[0].resourceCount, 2);
  s.cancel();
});

test('a request with a stale nonce is ignored', async () => {
  source.set(ROUTE_TYPE, [route('a'), route('b')]);
  const s = new TestAdsStream(client, false);
  s.send({ node: NODE, type_url: ROUTE_TYPE, resource_names: ['a'] });
  const r1 = await s.next();
  s.send({ type_url: ROUTE_TYPE, version_info: r1.version_info, response_nonce: r1.nonce, resource_names: ['a'] });
  source.put(ROUTE_TYPE, route('a', 'changed'));
  await server.push({ typeUrls: [ROUTE_TYPE] });
  const r2 = await s.next();
  // The client had not seen r2 yet when it asked for a new set with r1's nonce: ignored.
  s.send({ type_url: ROUTE_TYPE, version_info: r1.version_info, response_nonce: r1.nonce, resource_names: ['a', 'b'] });
  await s.expectNone();
  // The same change on the latest nonce is answered.
  s.send({ type_url: ROUTE_TYPE, version_info: r2.version_info, response_nonce: r2.nonce, resource_names: ['a', 'b'] });
  assert.deepEqual(sotwNames(await s.next()), ['a', 'b']);
  s.cancel();
});

test('closing the stream emits disconnect and drops it from streams()', async () => {
  source.set(LISTENER_TYPE, [listener('l1')]);
  const { s, id } = await openLds();
  assert.ok(server.streams().some((x) => x.stream.id === id));
  s.cancel();
  await until(() => eventsFor('disconnect', id).length === 1);
  assert.equal((eventsFor('disconnect', id)[0].args[0] as XdsStreamInfo).node?.id, NODE.id);
  assert.ok(!server.streams().some((x) => x.stream.id === id));
  // A half-close ends the stream too.
  const h = await openLds();
  h.s.end();
  const status = await h.s.ended;
  assert.equal((status as grpc.StatusObject).code, 0);
  await until(() => eventsFor('disconnect', h.id).length === 1);
});

test('a push to many streams encodes each shared resource once and reaches every stream', async () => {
  const clusters = Array.from({ length: 1000 }, (_, i) => cluster(`outbound|80||svc-${i}.default.svc.cluster.local`));
  source.set(CLUSTER_TYPE, clusters);
  const streams = Array.from({ length: 30 }, () => new TestAdsStream(client, false));
  const before = server.cache.encodeCount;
  for (const s of streams) s.send({ node: NODE, type_url: CLUSTER_TYPE });
  const first = await Promise.all(streams.map((s) => s.next(10000)));
  assert.ok(first.every((r) => r.resources.length === 1000));
  assert.equal(new Set(first.map((r) => r.version_info)).size, 1, 'same content, same version');
  assert.equal(server.cache.encodeCount - before, 1000, 'each resource encoded once');
  for (const [i, s] of streams.entries()) s.send({ type_url: CLUSTER_TYPE, version_info: first[i].version_info, response_nonce: first[i].nonce });
  source.put(CLUSTER_TYPE, cluster('outbound|80||svc-7.default.svc.cluster.local', 3000));
  const t0 = Date.now();
  await server.push({ typeUrls: [CLUSTER_TYPE] });
  const second = await Promise.all(streams.map((s) => s.next(10000)));
  const elapsed = Date.now() - t0;
  assert.ok(second.every((r) => r.resources.length === 1000 && r.version_info !== first[0].version_info));
  assert.equal(server.cache.encodeCount - before, 1001, 'only the changed cluster re-encoded');
  assert.ok(elapsed < 5000, `push took ${elapsed} ms`);
  for (const s of streams) s.cancel();
});
