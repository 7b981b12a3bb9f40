import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { AdsServer } from '../../src/xds-server/ads-server.js';
import type { XdsStreamInfo } from '../../src/xds-server/ads-types.js';
import { decodeResource } from '../../src/xds/codec.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../../src/xds/type-urls.js';
import { TestAdsStream, TestSource, cluster, newClient, endpoints, resourceName, until } from './ads-test-client.js';

const NODE = { id: 'sidecar~127.0.1.3~ratings-v1.default~default.svc.cluster.local', locality: {} };

let server: AdsServer;
let source: TestSource;
let client: grpc.Client;
const events: { name: string; args: unknown[] }[] = [];

before(async () => {
  source = new TestSource();
  server = new AdsServer(source);
  for (const name of ['connect', 'disconnect', 'ack', 'nack']) server.on(name, (...args: unknown[]) => events.push({ name, args }));
  client = newClient(await server.listen('127.0.0.1', 0));
});

after(async () => {
  client.close();
  await server.close();
});

function lastConnected(): number {
  return Math.max(...events.filter((e) => e.name === 'connect').map((e) => (e.args[0] as XdsStreamInfo).id));
}

function typeStatus(id: number, typeUrl: string) {
  const s = server.streams().find((x) => x.stream.id === id);
  assert.ok(s);
  assert.equal(s.stream.delta, true);
  return s.types.find((t) => t.typeUrl === typeUrl)!;
}

/** name -> version of the resources in a delta response, checking each is a Resource with an Any of the type. */
function held(res: any): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of res.resources) {
    assert.equal(r.resource.type_url, res.type_url);
    assert.equal(resourceName(decodeResource(r.resource.type_url, r.resource.value)), r.name);
    assert.ok(r.version.length > 0);
    out[r.name] = r.version;
  }
  return out;
}

test('delta wildcard CDS: everything first, then only changes and removals; ACK recorded', async () => {
  source.set(CLUSTER_TYPE, [cluster('c1'), cluster('c2')]);
  const s = new TestAdsStream(client, true);
  s.send({ node: NODE, type_url: CLUSTER_TYPE });
  const r1 = await s.next();
  const id = lastConnected();
  assert.deepEqual(Object.keys(held(r1)).sort(), ['c1', 'c2']);
  assert.ok(r1.system_version_info.length > 0);
  assert.deepEqual(r1.removed_resources, []);
  assert.equal(typeStatus(id, CLUSTER_TYPE).subscribed, '*');
  s.send({ type_url: CLUSTER_TYPE, response_nonce: r1.nonce });
  await until(() => typeStatus(id, CLUSTER_TYPE).ackedNonce === r1.nonce);
  assert.equal(typeStatus(id, CLUSTER_TYPE).ackedVersion, r1.system_version_info);
  assert.equal(events.filter((e) => e.name === 'ack' && (e.args[0] as XdsStreamInfo).id === id).length, 1);
  await s.expectNone();

  await server.push({ filter: (x) => x.id === id });
  await s.expectNone();

  source.put(CLUSTER_TYPE, cluster('c3'));
  source.put(CLUSTER_TYPE, cluster('c2', 4000));
  source.remove(CLUSTER_TYPE, 'c1');
  await server.push({ filter: (x) => x.id === id });
  const r2 = await s.next();
  const v2 = held(r2);
  assert.deepEqual(Object.keys(v2).sort(), ['c2', 'c3']);
  assert.notEqual(v2.c2, held(r1).c2, 'per-resource version follows content');
  assert.deepEqual(r2.removed_resources, ['c1']);
  assert.notEqual(r2.system_version_info, r1.system_version_info);
  assert.equal(typeStatus(id, CLUSTER_TYPE).resourceCount, 2);
  s.cancel();
  await until(() => events.some((e) => e.name === 'disconnect' && (e.args[0] as XdsStreamInfo).id === id));
});

test('delta named EDS: subscribe, subscribe a missing name, unsubscribe', async () => {
  source.set(ENDPOINT_TYPE, [endpoints('a', 1), endpoints('b', 2), endpoints('c', 3)]);
  const s = new TestAdsStream(client, true);
  s.send({ node: NODE, type_url: ENDPOINT_TYPE, resource_names_subscribe: ['a'] });
  const r1 = await s.next();
  const id = lastConnected();
  assert.deepEqual(Object.keys(held(r1)), ['a']);
  s.send({ type_url: ENDPOINT_TYPE, response_nonce: r1.nonce, resource_names_subscribe: ['b', 'nope'] });
  const r2 = await s.next();
  assert.deepEqual(Object.keys(held(r2)), ['b'], 'only the newly subscribed resource');
  assert.deepEqual(r2.removed_resources, ['nope'], 'a missing name is reported as removed');
  assert.deepEqual(typeStatus(id, ENDPOINT_TYPE).subscribed, ['a', 'b', 'nope']);
  s.send({ type_url: ENDPOINT_TYPE, response_nonce: r2.nonce, resource_names_unsubscribe: ['a'] });
  await s.expectNone();
  source.put(ENDPOINT_TYPE, endpoints('a', 11));
  source.put(ENDPOINT_TYPE, endpoints('c', 33));
  await server.push({ filter: (x) => x.id === id });
  await s.expectNone();
  source.put(ENDPOINT_TYPE, endpoints('b', 22));
  await server.push({ filter: (x) => x.id === id });
  const r3 = await s.next();
  assert.deepEqual(Object.keys(held(r3)), ['b']);
  assert.deepEqual(r3.removed_resources, []);
  s.cancel();
});

test('delta NACK is recorded and the rejected content is not resent', async () => {
  source.set(CLUSTER_TYPE, [cluster('c1')]);
  const s = new TestAdsStream(client, true);
  s.send({ node: NODE, type_url: CLUSTER_TYPE });
  const r1 = await s.next();
  const id = lastConnected();
  s.send({ type_url: CLUSTER_TYPE, response_nonce: r1.nonce });
  await until(() => typeStatus(id, CLUSTER_TYPE).ackedNonce === r1.nonce);
  source.put(CLUSTER_TYPE, cluster('c1', 9000));
  await server.push({ filter: (x) => x.id === id });
  const r2 = await s.next();
  s.send({ type_url: CLUSTER_TYPE, response_nonce: r2.nonce, error_detail: { code: 3, message: 'timeout too long' } });
  await until(() => typeStatus(id, CLUSTER_TYPE).nack !== undefined);
  const st = typeStatus(id, CLUSTER_TYPE);
  assert.equal(st.nack!.message, 'timeout too long');
  assert.equal(st.nack!.nonce, r2.nonce);
  assert.equal(st.nack!.version, r1.system_version_info, 'the client kept the previous version');
  assert.equal(st.ackedVersion, r1.system_version_info);
  const nack = events.find((e) => e.name === 'nack' && (e.args[0] as XdsStreamInfo).id === id)!;
  assert.deepEqual(nack.args.slice(1), [CLUSTER_TYPE, r1.system_version_info, 'timeout too long']);
  await server.push({ filter: (x) => x.id === id });
  await s.expectNone();
  s.cancel();
});

test('delta initial_resource_versions: what the client already holds is not resent', async () => {
  source.set(CLUSTER_TYPE, [cluster('c1'), cluster('c2')]);
  const s1 = new TestAdsStream(client, true);
  s1.send({ node: NODE, type_url: CLUSTER_TYPE });
  const full = held(await s1.next());
  s1.cancel();
  const s = new TestAdsStream(client, true);
  s.send({ node: NODE, type_url: CLUSTER_TYPE, initial_resource_versions: { c1: full.c1, c2: 'old', gone: 'x' } });
  const r = await s.next();
  assert.deepEqual(Object.keys(held(r)), ['c2']);
  assert.deepEqual(r.removed_resources, ['gone']);
  s.cancel();
});
