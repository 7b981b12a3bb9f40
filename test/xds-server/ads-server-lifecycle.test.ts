import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { AdsServer } from '../../src/xds-server/ads-server.js';
import { XdsServerError, type XdsStreamInfo } from '../../src/xds-server/ads-types.js';
import { LISTENER_TYPE, CLUSTER_TYPE } from '../../src/xds/type-urls.js';
import { TestAdsStream, TestSource, listener, newClient, sotwNames, until } from './ads-test-client.js';

const NODE = { id: 'sidecar~127.0.1.9~x.default~default.svc.cluster.local', locality: {} };

test('close() ends open streams with OK, emits disconnect, and later pushes are refused', async () => {
  const source = new TestSource();
  source.set(LISTENER_TYPE, [listener('l1')]);
  const server = new AdsServer(source);
  const gone: number[] = [];
  server.on('disconnect', (s: XdsStreamInfo) => gone.push(s.id));
  const client = newClient(await server.listen('127.0.0.1', 0));
  const s = new TestAdsStream(client, false);
  s.send({ node: NODE, type_url: LISTENER_TYPE });
  await s.next();
  const id = server.streams()[0].stream.id;
  const t0 = Date.now();
  await server.close();
  assert.ok(Date.now() - t0 < 3000);
  const status = (await s.ended) as grpc.StatusObject;
  assert.equal(status.code, 0);
  await until(() => gone.includes(id));
  assert.deepEqual(server.streams(), []);
  await assert.rejects(server.push(), (e: unknown) => e instanceof XdsServerError && e.code === 'XDS_SERVER_CLOSED');
  client.close();
});

test('listening on a taken port fails with XDS_LISTEN_FAILED', async () => {
  const a = new AdsServer(new TestSource());
  const port = await a.listen('127.0.0.1', 0);
  const b = new AdsServer(new TestSource());
  await assert.rejects(b.listen('127.0.0.1', port), (e: unknown) => e instanceof XdsServerError && e.code === 'XDS_LISTEN_FAILED');
  await a.close();
  await b.close();
});

test('a failing source or an unencodable resource is logged, not sent, and a later push recovers', async () => {
  const source = new TestSource();
  let fail = true;
  const logs: string[] = [];
  const server = new AdsServer({
    resources: async (s, t, n) => {
      if (fail) throw new Error('registry not ready');
      return source.resources(s, t, n);
    },
  }, { logger: (level, msg) => { if (level === 'warn') logs.push(msg); } });
  const client = newClient(await server.listen('127.0.0.1', 0));
  const s = new TestAdsStream(client, false);
  s.send({ node: NODE, type_url: LISTENER_TYPE });
  await s.expectNone(150);
  assert.ok(logs.some((m) => m.includes('registry not ready')), logs.join('\n'));
  fail = false;
  // Nothing was sent on this stream, so a nonce (from an earlier server) is not stale: answered.
  source.set(LISTENER_TYPE, [listener('l0')]);
  s.send({ type_url: LISTENER_TYPE, version_info: 'old', response_nonce: 'earlier-server', resource_names: ['l0'] });
  const first = await s.next();
  assert.deepEqual(sotwNames(first), ['l0']);
  s.send({ type_url: LISTENER_TYPE, version_info: first.version_info, response_nonce: first.nonce });
  await until(() => server.streams()[0].types[0].ackedNonce === first.nonce);
  s.send({ type_url: LISTENER_TYPE, version_info: first.version_info, response_nonce: first.nonce, resource_names: [] });
  assert.deepEqual(sotwNames(await s.next()), ['l0'], 'back to wildcard');
  source.set(LISTENER_TYPE, [listener('l1'), { name: 'bad', address: 'not-an-address' }]);
  await server.push();
  await s.expectNone(150);
  assert.ok(logs.some((m) => m.includes('cannot encode') && m.includes('bad')), logs.join('\n'));
  source.remove(LISTENER_TYPE, 'bad');
  await server.push();
  assert.deepEqual(sotwNames(await s.next()), ['l1']);
  // A stream without a node still works (connect is only emitted once a node arrives).
  const anon = new TestAdsStream(client, false);
  source.set(CLUSTER_TYPE, []);
  anon.send({ type_url: CLUSTER_TYPE });
  const empty = await anon.next();
  assert.equal(empty.resources.length, 0, 'an empty wildcard CDS set is still answered');
  assert.ok(server.streams().some((x) => x.stream.node === undefined));
  s.cancel();
  anon.cancel();
  client.close();
  await server.close();
});
