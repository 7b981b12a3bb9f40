/**
 * The protobufjs Root with the Envoy v3 types Clew puts on (or reads off) the wire, loaded from
 * the compact descriptor src/xds/envoy-descriptor.json (generated from Envoy's .proto files, see
 * proto-descriptor.ts and proto-files.ts). Every type that can appear inside an `Any` we produce
 * or consume is in it; an `Any` of any other type stays undecoded (`type_url` and `value`), which
 * the proxy rejects by type URL.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
// the light build: no .proto parser (the descriptor is JSON), same classes as the full one
import protobuf from 'protobufjs/light.js';

/** src/xds/envoy-descriptor.json, from dist/src/xds (compiled) as from src/xds */
export const DESCRIPTOR_FILE = fileURLToPath(new URL('../../../src/xds/envoy-descriptor.json', import.meta.url));

/**
 * Istio's NameTable (pkg/dns/proto/nds.proto), written here: it is not among Envoy's protos the
 * generated descriptor comes from. Field numbers are the wire contract.
 */
const ISTIO_NDS_DESCRIPTOR = {
  istio: { nested: { networking: { nested: { nds: { nested: { v1: { nested: {
    NameTable: {
      fields: { table: { keyType: 'string', type: 'NameInfo', id: 1 } },
      nested: {
        NameInfo: {
          fields: {
            ips: { rule: 'repeated', type: 'string', id: 1 },
            registry: { type: 'string', id: 2 },
            shortname: { type: 'string', id: 3 },
            namespace: { type: 'string', id: 4 },
            alt_hosts: { rule: 'repeated', type: 'string', id: 5 },
          },
        },
      },
    },
  } } } } } } } },
};

let cached: protobuf.Root | undefined;

/** The shared Root, loaded once per process (callers load it at start-up). */
export function protoRoot(): protobuf.Root {
  if (cached) return cached;
  const root = protobuf.Root.fromJSON(JSON.parse(fs.readFileSync(DESCRIPTOR_FILE, 'utf8')));
  root.addJSON(ISTIO_NDS_DESCRIPTOR);
  root.resolveAll();
  cached = root;
  return root;
}

export function lookupType(fullName: string): protobuf.Type {
  return protoRoot().lookupType(fullName);
}

/** The number of an enum value by name (e.g. envoy.type.v3.StatusCode `Forbidden` → 403), or undefined. */
export function lookupEnumValue(enumName: string, valueName: string): number | undefined {
  const e = protoRoot().lookupEnum(enumName);
  return Object.prototype.hasOwnProperty.call(e.values, valueName) ? e.values[valueName] : undefined;
}

/** The name of an enum value by number (e.g. 503 → `ServiceUnavailable`), or undefined. */
export function lookupEnumName(enumName: string, value: number): string | undefined {
  return protoRoot().lookupEnum(enumName).valuesById[value];
}
