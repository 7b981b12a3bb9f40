/**
 * Fuzz targets of the xDS decoders (src/xds codec, Struct; the ADS server's request decoder):
 * bytes from anywhere (random, or real resources and requests with bytes flipped, cut or
 * inserted) must decode or fail with an Error, quickly; nothing may hang or take the process
 * down. Struct <-> JSON must round-trip any JSON. Corpus: test/fixtures/fuzz/xds/*.hex (one
 * input per file, hex), replayed every run, plus encodings of the Bookinfo resources.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildClusters, buildListeners, buildRoutes } from '../../src/control-plane/builders/index.js';
import { decodeDiscoveryRequest, decodeDeltaDiscoveryRequest } from '../../src/xds-server/ads-messages.js';
import { decodeResource, encodeResource } from '../../src/xds/codec.js';
import { lookupType } from '../../src/xds/proto-root.js';
import { jsonToStruct, structToJson } from '../../src/xds/struct.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../src/xds/type-urls.js';
import { BOOKINFO_SERVICES, BOOKINFO_WORKLOADS, makePc, proxy, vs } from '../control-plane/builders/fixtures.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { fuzzParams, FuzzStats } from './fuzz-params.js';
import { nestedStructBytes } from './xds-bytes.js';

const TYPES = [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE];
const CORPUS_DIR = join(REPO_ROOT, 'test/fixtures/fuzz/xds');
const corpus = readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.hex'))
  .map((f) => ({ file: f, bytes: Buffer.from(readFileSync(join(CORPUS_DIR, f), 'utf8').replace(/\s+/g, ''), 'hex') }));

/** Real encodings to mutate: Bookinfo's clusters, listeners and routes, and discovery requests. */
function seeds(): { typeUrl: string; bytes: Uint8Array }[] {
  const pc = makePc([...BOOKINFO_SERVICES, vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] })], BOOKINFO_WORKLOADS);
  const p = proxy();
  const out: { typeUrl: string; bytes: Uint8Array }[] = [];
  for (const c of buildClusters(pc, p).slice(0, 4)) out.push({ typeUrl: CLUSTER_TYPE, bytes: encodeResource(CLUSTER_TYPE, c) });
  for (const l of buildListeners(pc, p).slice(0, 4)) out.push({ typeUrl: LISTENER_TYPE, bytes: encodeResource(LISTENER_TYPE, l) });
  for (const r of buildRoutes(pc, p, ['9080'])) out.push({ typeUrl: ROUTE_TYPE, bytes: encodeResource(ROUTE_TYPE, r) });
  const req = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  out.push({
    typeUrl: 'request',
    bytes: req.encode(req.fromObject({
      node: { id: 'sidecar~10.0.0.1~a.default~default.svc.cluster.local', metadata: jsonToStruct({ NAMESPACE: 'default', LABELS: { app: 'a' }, LIST: [1, 'x', null, true] }) },
      type_url: LISTENER_TYPE, resource_names: ['a', 'b'], error_detail: { code: 3, message: 'bad' },
    })).finish(),
  });
  return out;
}

function decodeAll(bytes: Uint8Array): void {
  for (const t of TYPES) {
    try {
      decodeResource(t, bytes);
    } catch (err) {
      assert.ok(err instanceof Error, `decodeResource threw a non-Error: ${String(err)}`);
    }
  }
  for (const decode of [decodeDiscoveryRequest, decodeDeltaDiscoveryRequest]) {
    try {
      const r = decode(Buffer.from(bytes));
      if (r.node?.metadata) structToJson(r.node.metadata);
    } catch (err) {
      assert.ok(err instanceof Error, `request decoder threw a non-Error: ${String(err)}`);
    }
  }
}

function timed(stats: FuzzStats, bytes: Uint8Array): void {
  stats.time(() => decodeAll(bytes));
  assert.ok(stats.lastMs < 1000, `one input took ${stats.lastMs.toFixed(0)} ms of CPU (${bytes.length} bytes)`);
}

test('corpus and deep nesting: every input decodes or fails with an Error, quickly', () => {
  const stats = new FuzzStats();
  decodeAll(new Uint8Array(0)); // loads the descriptor and compiles the decoders (not timed)
  for (const { bytes } of corpus) timed(stats, bytes);
  for (const depth of [10, 1000, 20_000]) {
    const s = nestedStructBytes(depth);
    timed(stats, s);
    const T = lookupType('google.protobuf.Struct');
    try {
      structToJson(T.toObject(T.decode(s), { longs: Number }));
    } catch (err) {
      assert.ok(err instanceof Error);
    }
  }
  assert.ok(corpus.length >= 3, 'the corpus is there');
});

test('fuzz: mutated and random bytes never crash or hang the xDS decoders', () => {
  const stats = new FuzzStats();
  const base = seeds();
  const mutated = fc.tuple(fc.constantFrom(...base), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.constantFrom('flip', 'cut', 'insert', 'set')), { minLength: 1, maxLength: 8 }))
    .map(([seed, edits]) => {
      let b = Buffer.from(seed.bytes);
      for (const [at, v, op] of edits) {
        const i = b.length === 0 ? 0 : at % b.length;
        if (op === 'flip') b[i] ^= 1 << (v % 8);
        else if (op === 'set') b[i] = v;
        else if (op === 'cut') b = Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + 1 + (v % 16)))]);
        else b = Buffer.concat([b.subarray(0, i), Buffer.from([v, 0xff, 0xff, 0xff, 0x0f].slice(0, 1 + (v % 5))), b.subarray(i)]);
      }
      return new Uint8Array(b);
    });
  const input = fc.oneof(mutated, fc.uint8Array({ maxLength: 512 }));
  fc.assert(fc.property(input, (bytes) => timed(stats, bytes)), fuzzParams(400));
  stats.report('xds-decode');
});

test('fuzz: Struct <-> JSON round-trips any JSON through the wire encoding', () => {
  const stats = new FuzzStats();
  const T = lookupType('google.protobuf.Struct');
  const json = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 });
  fc.assert(fc.property(json, (obj) => stats.time(() => {
    // `__proto__` keys are dropped on purpose (src/xds/struct.ts), so they are left out here
    const clean = JSON.parse(JSON.stringify(obj), (k, v) => (k === '__proto__' ? undefined : v)) as Record<string, unknown>;
    const wire = T.encode(T.fromObject(jsonToStruct(clean))).finish();
    const back = structToJson(T.toObject(T.decode(wire), { longs: Number }));
    assert.equal(Object.getPrototypeOf(back), Object.prototype, 'no key changed a prototype');
    // -0 has no JSON form of its own; protobuf keeps it, JSON.stringify does not
    assert.deepEqual(JSON.parse(JSON.stringify(back)), clean);
  })), fuzzParams(300));
  stats.report('xds-struct');
});
