/**
 * (De)serialization of the ADS service's own messages with the shared protobufjs Root, and the
 * hand-built grpc-js service definition (so no second proto load is needed).
 */
import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { structToJson } from '../xds/struct.js';
import { lookupType } from '../xds/proto-root.js';
import type { XdsNode } from '../xds/node-metadata.js';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const SOTW_PATH = `/${ADS_SERVICE}/StreamAggregatedResources`;
export const DELTA_PATH = `/${ADS_SERVICE}/DeltaAggregatedResources`;

export interface RpcStatus {
  code?: number;
  message?: string;
}

export interface DiscoveryRequest {
  version_info: string;
  node?: XdsNode;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: RpcStatus;
}

export interface DeltaDiscoveryRequest {
  node?: XdsNode;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail?: RpcStatus;
}

const TO_OBJECT: protobuf.IConversionOptions = {
  enums: String,
  longs: Number,
  bytes: String,
  defaults: false,
  arrays: true,
  objects: true,
  oneofs: false,
};

let types:
  | { req: protobuf.Type; res: protobuf.Type; dreq: protobuf.Type; dres: protobuf.Type }
  | undefined;

export function adsTypes(): NonNullable<typeof types> {
  if (!types) {
    types = {
      req: lookupType('envoy.service.discovery.v3.DiscoveryRequest'),
      res: lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
      dreq: lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest'),
      dres: lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse'),
    };
  }
  return types;
}

function normalizeNode(node: any): XdsNode | undefined {
  if (!node) return undefined;
  const out: any = { ...node, id: node.id ?? '' };
  if (node.metadata) out.metadata = structToJson(node.metadata);
  return out as XdsNode;
}

export function decodeDiscoveryRequest(buf: Buffer): DiscoveryRequest {
  const t = adsTypes().req;
  const o = t.toObject(t.decode(buf), TO_OBJECT) as any;
  return {
    version_info: o.version_info ?? '',
    node: normalizeNode(o.node),
    resource_names: o.resource_names ?? [],
    type_url: o.type_url ?? '',
    response_nonce: o.response_nonce ?? '',
    error_detail: o.error_detail,
  };
}

export function decodeDeltaDiscoveryRequest(buf: Buffer): DeltaDiscoveryRequest {
  const t = adsTypes().dreq;
  const o = t.toObject(t.decode(buf), TO_OBJECT) as any;
  return {
    node: normalizeNode(o.node),
    type_url: o.type_url ?? '',
    resource_names_subscribe: o.resource_names_subscribe ?? [],
    resource_names_unsubscribe: o.resource_names_unsubscribe ?? [],
    initial_resource_versions: o.initial_resource_versions ?? {},
    response_nonce: o.response_nonce ?? '',
    error_detail: o.error_detail,
  };
}

function encodeWith(t: () => protobuf.Type) {
  return (v: unknown): Buffer => {
    // The server writes pre-encoded responses (shared bytes); objects are encoded here.
    if (Buffer.isBuffer(v)) return v;
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    const type = t();
    const bytes = type.encode(type.fromObject(v as Record<string, unknown>)).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function decodeWith(t: () => protobuf.Type) {
  return (buf: Buffer): any => t().toObject(t().decode(buf), TO_OBJECT);
}

/** The ADS service definition for grpc-js, usable by servers and (with plain objects) clients. */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  return {
    StreamAggregatedResources: {
      path: SOTW_PATH,
      requestStream: true,
      responseStream: true,
      requestSerialize: encodeWith(() => adsTypes().req),
      requestDeserialize: decodeDiscoveryRequest,
      responseSerialize: encodeWith(() => adsTypes().res),
      responseDeserialize: decodeWith(() => adsTypes().res),
      originalName: 'streamAggregatedResources',
    },
    DeltaAggregatedResources: {
      path: DELTA_PATH,
      requestStream: true,
      responseStream: true,
      requestSerialize: encodeWith(() => adsTypes().dreq),
      requestDeserialize: decodeDeltaDiscoveryRequest,
      responseSerialize: encodeWith(() => adsTypes().dres),
      responseDeserialize: decodeWith(() => adsTypes().dres),
      originalName: 'deltaAggregatedResources',
    },
  } as grpc.ServiceDefinition;
}
