/**
 * The compact descriptor (src/xds/envoy-descriptor.json) against the .proto files it is generated
 * from: in sync, the same types with the same fields, the same bytes on the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import protobuf from 'protobufjs';
import { DESCRIPTOR_FILE, protoRoot } from '../../src/xds/proto-root.js';
import { compactDescriptor, descriptorText } from '../../src/xds/proto-descriptor.js';
import { loadProtoFiles } from '../../src/xds/proto-files.js';
import { decodeResource, encodeResource } from '../../src/xds/codec.js';
import * as typeUrls from '../../src/xds/type-urls.js';
import { assertGenerated } from '../helpers/assert-generated.js';

const full = loadProtoFiles();
const ISTIO_NDS = '.istio.networking.nds.v1.';
const compact = protoRoot();

function typesOf(ns: protobuf.NamespaceBase, out: Array<protobuf.Type | protobuf.Enum> = []): Array<protobuf.Type | protobuf.Enum> {
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Type || o instanceof protobuf.Enum) out.push(o);
    if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) typesOf(o, out);
  }
  return out;
}

function fieldShape(f: protobuf.Field): string {
  f.resolve();
  const map = f instanceof protobuf.MapField ? `map<${f.keyType}>` : '';
  return `${f.id} ${f.repeated ? 'repeated' : 'single'}${map} ${f.resolvedType ? f.resolvedType.fullName : f.type} packed=${f.packed} oneof=${f.partOf?.name ?? '-'}`;
}

test('the committed envoy-descriptor.json is what the .proto files generate (regenerate: node dist/src/xds/proto-descriptor-write.js)', () => {
  assertGenerated(fs.readFileSync(DESCRIPTOR_FILE, 'utf8'), descriptorText(compactDescriptor(full)), 'envoy-descriptor.json', 'node dist/src/xds/proto-descriptor-write.js');
});

test('every type of the compact root has the fields and values the .proto files declare', () => {
  const types = typesOf(compact);
  assert.ok(types.length > 300, `only ${types.length} types`);
  for (const t of types) {
    // Istio's NDS NameTable is declared in proto-root.ts, not generated from Envoy's files
    if (t.fullName.startsWith(ISTIO_NDS)) continue;
    const orig = full.lookup(t.fullName);
    assert.ok(orig, `${t.fullName} is not in the .proto files`);
    if (t instanceof protobuf.Enum) {
      assert.deepEqual({ ...t.values }, { ...(orig as protobuf.Enum).values }, t.fullName);
      continue;
    }
    const o = orig as protobuf.Type;
    const mine = Object.fromEntries(t.fieldsArray.map((f) => [f.name, fieldShape(f)]));
    const theirs = Object.fromEntries(o.fieldsArray.filter((f) => !f.declaringField).map((f) => [f.name, fieldShape(f)]));
    assert.deepEqual(mine, theirs, t.fullName);
  }
});

test('every type URL Clew names resolves in the compact root as in the .proto files', () => {
  for (const url of Object.values(typeUrls)) {
    if (typeof url !== 'string' || !url.startsWith(typeUrls.TYPE_PREFIX)) continue;
    const name = url.slice(typeUrls.TYPE_PREFIX.length);
    if (`.${name}`.startsWith(ISTIO_NDS)) {
      assert.ok(compact.lookup(name), name);
      continue;
    }
    assert.equal(!!compact.lookup(name), !!full.lookup(name), name);
  }
  // only reached through an Any: kept because their files are listed
  for (const name of ['envoy.config.route.v3.FilterConfig', 'envoy.extensions.transport_sockets.tls.v3.Secret', 'udpa.type.v1.TypedStruct', 'google.protobuf.Struct']) {
    assert.ok(compact.lookup(name), name);
  }
  // validation rules and annotations are not carried
  assert.equal(compact.lookup('validate.FieldRules'), null);
  assert.equal(compact.lookup('google.protobuf.FieldOptions'), null);
});

const LISTENER = {
  name: 'virtualOutbound',
  address: { socket_address: { address: '0.0.0.0', port_value: 15001 } },
  listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': typeUrls.ORIGINAL_DST_LISTENER_FILTER_TYPE } }],
  filter_chains: [{
    filter_chain_match: { destination_port: { value: 8080 }, server_names: ['a.example'] },
    filters: [{
      name: 'envoy.filters.network.http_connection_manager',
      typed_config: {
        '@type': typeUrls.HCM_TYPE,
        stat_prefix: 'outbound_0.0.0.0_8080',
        rds: { route_config_name: '8080', config_source: { ads: {}, resource_api_version: 'V3' } },
        stream_idle_timeout: { seconds: 300 },
        http_filters: [
          { name: 'istio.stats', typed_config: { '@type': typeUrls.TYPED_STRUCT_TYPE, type_url: typeUrls.ISTIO_STATS_TYPE, value: { fields: { reporter: { stringValue: 'x' } } } } },
          { name: 'envoy.filters.http.fault', typed_config: { '@type': typeUrls.FAULT_TYPE, delay: { fixed_delay: { seconds: 1 }, percentage: { numerator: 50, denominator: 'TEN_THOUSAND' } } } },
          { name: 'envoy.filters.http.router', typed_config: { '@type': typeUrls.ROUTER_TYPE } },
        ],
      },
    }],
  }],
  traffic_direction: 'OUTBOUND',
};

const CLUSTER = {
  name: 'outbound|8080||a.default.svc.cluster.local',
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
  connect_timeout: { seconds: 10 },
  lb_policy: 'RING_HASH',
  ring_hash_lb_config: { minimum_ring_size: { value: 1024 } },
  circuit_breakers: { thresholds: [{ max_connections: { value: 100 }, max_retries: { value: 3 } }] },
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': typeUrls.HTTP_PROTOCOL_OPTIONS_TYPE,
      explicit_http_config: { http2_protocol_options: {} },
    },
  },
  outlier_detection: { consecutive_5xx: { value: 5 }, interval: { seconds: 1, nanos: 500000000 } },
};

function encodeWith(root: protobuf.Root, typeUrl: string, obj: object): Uint8Array {
  const type = root.lookupType(typeUrl.slice(typeUrls.TYPE_PREFIX.length));
  return type.encode(type.fromObject(obj)).finish();
}

test('resources (Anys, maps, enums, wrappers, packed fields) encode to the same bytes as with the .proto files, and decode back', () => {
  const ring = { name: 'r', lb_endpoints: [], policy: { drop_overloads: [{ category: 'c', drop_percentage: { numerator: 1 } }] } };
  const routeRetry = {
    name: '8080',
    virtual_hosts: [{
      name: 'a:8080',
      domains: ['a', 'a:8080'],
      routes: [{
        match: { prefix: '/' },
        route: { cluster: 'c', timeout: { seconds: 2 }, retry_policy: { retry_on: '5xx', num_retries: { value: 2 }, retriable_status_codes: [503, 504, 429] } },
        typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', is_optional: true } },
      }],
    }],
  };
  for (const [url, obj] of [
    [typeUrls.LISTENER_TYPE, LISTENER],
    [typeUrls.CLUSTER_TYPE, CLUSTER],
    [typeUrls.ROUTE_TYPE, routeRetry],
    [typeUrls.ENDPOINT_TYPE, ring],
  ] as const) {
    const bytes = encodeResource(url, obj);
    assert.deepEqual(Buffer.from(bytes), Buffer.from(encodeWith(full, url, obj)), url);
    assert.deepEqual(decodeResource(url, bytes), decodeResource(url, encodeWith(full, url, obj)), url);
  }
  assert.deepEqual(decodeResource(typeUrls.LISTENER_TYPE, encodeResource(typeUrls.LISTENER_TYPE, LISTENER)), LISTENER);
});

test('an Any of a type outside the descriptor stays undecoded (type_url and bytes), for the proxy to reject by type URL', () => {
  const unknownUrl = 'type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig';
  const Any = compact.lookupType('google.protobuf.Any');
  const Listener = compact.lookupType('envoy.config.listener.v3.Listener');
  const msg = Listener.fromObject({ name: 'l', filter_chains: [{ filters: [{ name: 'x', typed_config: Any.fromObject({ type_url: unknownUrl, value: Buffer.from([8, 1]) }) }] }] });
  const back = decodeResource(typeUrls.LISTENER_TYPE, Listener.encode(msg).finish());
  const cfg = back.filter_chains[0].filters[0].typed_config;
  assert.equal(cfg.type_url, unknownUrl);
  assert.equal(cfg['@type'], undefined);
  assert.equal(Buffer.from(cfg.value, 'base64').toString('hex'), '0801');
});
