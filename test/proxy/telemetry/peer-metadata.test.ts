import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupType } from '../../../src/xds/proto-root.js';
import {
  encodePeerMetadata,
  decodePeerMetadataStruct,
  PeerMetadataDecoder,
  PEER_METADATA_HEADER,
  PEER_METADATA_ID_HEADER,
  stripPeerMetadata,
} from '../../../src/proxy/telemetry/peer-metadata.js';
import { REVIEWS } from './telemetry-fixtures.js';

test('encodes a base64 google.protobuf.Struct with Istio keys, and the node id', () => {
  const h = encodePeerMetadata(REVIEWS);
  assert.equal(h[PEER_METADATA_ID_HEADER], 'sidecar~127.0.1.3~reviews-v2.default~default.svc.cluster.local');
  // decode independently with protobufjs to check the wire form
  const S = lookupType('google.protobuf.Struct');
  const obj = S.toObject(S.decode(Buffer.from(h[PEER_METADATA_HEADER], 'base64'))) as { fields: Record<string, Record<string, unknown>> };
  const str = (k: string) => Object.values(obj.fields[k])[0];
  assert.equal(str('NAME'), 'reviews-v2');
  assert.equal(str('NAMESPACE'), 'default');
  assert.equal(str('WORKLOAD_NAME'), 'reviews-v2');
  assert.equal(str('CLUSTER_ID'), 'Kubernetes');
  assert.equal(str('SERVICE_ACCOUNT'), 'bookinfo-reviews');
  const labels = Object.values(obj.fields.LABELS)[0] as { fields: Record<string, Record<string, unknown>> };
  assert.equal(Object.values(labels.fields.app)[0], 'reviews');
  assert.equal(Object.values(labels.fields.version)[0], 'v2');
  assert.deepEqual(decodePeerMetadataStruct(h[PEER_METADATA_HEADER])?.LABELS, { app: 'reviews', version: 'v2' });
});

test('round trip to PeerInfo; decoder caches by header value and returns the same object', () => {
  const h = encodePeerMetadata({ ...REVIEWS, labels: { ...REVIEWS.labels, 'service.istio.io/canonical-name': 'reviews-svc' } }, { clusterId: 'east' });
  const d = new PeerMetadataDecoder();
  const p = d.decode(h[PEER_METADATA_HEADER]);
  assert.deepEqual(p, {
    workload: 'reviews-v2',
    namespace: 'default',
    app: 'reviews',
    version: 'v2',
    canonicalService: 'reviews-svc',
    canonicalRevision: 'v2',
    principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews',
    cluster: 'east',
  });
  assert.equal(d.decode(h[PEER_METADATA_HEADER]), p);
  assert.ok(Object.isFrozen(p));
});

test('garbage and missing headers decode to undefined; takeFrom strips both headers', () => {
  const d = new PeerMetadataDecoder();
  assert.equal(d.decode(undefined), undefined);
  assert.equal(d.decode('!!!not-base64-struct'), undefined);
  assert.equal(d.decode(Buffer.from([0xff, 0xff, 0xff]).toString('base64')), undefined);
  const headers: Record<string, string | undefined> = { ...encodePeerMetadata(REVIEWS), accept: '*/*' };
  const p = d.takeFrom(headers);
  assert.equal(p?.workload, 'reviews-v2');
  // cleared to undefined (the object keeps its shape; codecs and header copies skip undefined)
  assert.deepEqual(Object.entries(headers).filter(([, v]) => v !== undefined), [['accept', '*/*']]);
  const h2: Record<string, unknown> = { ...encodePeerMetadata(REVIEWS) };
  stripPeerMetadata(h2);
  assert.deepEqual(h2, {});
});
