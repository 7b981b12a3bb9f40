import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceCache } from '../../src/xds-server/ads-resource-cache.js';
import { adsTypes } from '../../src/xds-server/ads-messages.js';
import { CLUSTER_TYPE } from '../../src/xds/type-urls.js';

function clusters(...names: string[]): Map<string, any> {
  return new Map(names.map((name) => [name, { name, type: 'EDS', connect_timeout: { seconds: 1 } }]));
}

function decode(bytes: Buffer): any {
  return adsTypes().res.toObject(adsTypes().res.decode(bytes), { longs: Number, enums: String });
}

test('streams receiving the same version share one SotW response; a stream sent that version again gets its own with a fresh nonce', () => {
  const cache = new ResourceCache();
  const set = cache.encodeSet(CLUSTER_TYPE, clusters('b', 'a'));
  let seq = 0;
  const nextNonce = () => `n${++seq}`;

  const first = cache.sotwResponse(CLUSTER_TYPE, set, undefined, nextNonce);
  const other = cache.sotwResponse(CLUSTER_TYPE, set, 'n0', nextNonce);
  assert.equal(other, first, 'a second stream reuses the response (no per-stream copy)');
  assert.equal(first.nonce, 'n1');
  const msg = decode(first.bytes);
  assert.equal(msg.version_info, set.version);
  assert.equal(msg.type_url, CLUSTER_TYPE);
  assert.equal(msg.nonce, 'n1');
  assert.deepEqual(msg.resources.map((r: any) => r.type_url), [CLUSTER_TYPE, CLUSTER_TYPE]);

  // the stream that was sent n1 must not see n1 again
  const again = cache.sotwResponse(CLUSTER_TYPE, set, 'n1', nextNonce);
  assert.notEqual(again.nonce, 'n1');
  const msg2 = decode(again.bytes);
  assert.equal(msg2.nonce, again.nonce);
  assert.equal(msg2.version_info, set.version);
  assert.deepEqual(msg2.resources, msg.resources, 'same resources under the new nonce');
  // the first response is not modified by building the second
  assert.equal(decode(first.bytes).nonce, 'n1');
  // a third response is built from the resources as they sit inside the second one
  const third = cache.sotwResponse(CLUSTER_TYPE, set, again.nonce, nextNonce);
  assert.notEqual(third.nonce, again.nonce);
  assert.deepEqual(decode(third.bytes).resources, msg.resources);
  const block = Buffer.from(adsTypes().res.encode({ resources: msg.resources }).finish());
  assert.deepEqual(third.bytes.subarray(third.bytes.length - block.length), block, 'the response ends with the resources block');
});

test('a new version gets a new response; resources are encoded once per object', () => {
  const cache = new ResourceCache();
  const objs = clusters('a');
  const v1 = cache.encodeSet(CLUSTER_TYPE, objs);
  let seq = 0;
  const r1 = cache.sotwResponse(CLUSTER_TYPE, v1, undefined, () => `n${++seq}`);
  objs.set('b', { name: 'b', type: 'EDS', connect_timeout: { seconds: 2 } });
  const v2 = cache.encodeSet(CLUSTER_TYPE, objs);
  assert.notEqual(v2.version, v1.version);
  const r2 = cache.sotwResponse(CLUSTER_TYPE, v2, r1.nonce, () => `n${++seq}`);
  assert.notEqual(r2, r1);
  assert.equal(decode(r2.bytes).resources.length, 2);
  assert.equal(cache.encodeCount, 2, 'cluster a was encoded once for both versions');
});
