/**
 * DiscoveryRequest/Response coding on the shared protobufjs Root for the proxy's ADS call
 * (xds-client-transport.ts), and the same as an @grpc/grpc-js service definition for the tests'
 * static ADS server (only grpc's types are imported: the proxy does not load @grpc/grpc-js).
 */
import type * as grpc from '@grpc/grpc-js';
import { lookupType } from '../../xds/proto-root.js';

export const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** DiscoveryRequest/Response as protobufjs message objects (snake_case fields). */
export interface WireAny {
  type_url: string;
  value: Uint8Array;
}
export interface DiscoveryRequestMsg {
  version_info?: string;
  node?: unknown;
  resource_names?: string[];
  type_url: string;
  response_nonce?: string;
  error_detail?: { code: number; message: string };
}
export interface DiscoveryResponseMsg {
  version_info: string;
  resources: WireAny[];
  type_url: string;
  nonce: string;
}

function codec<T>(typeName: string) {
  const type = lookupType(typeName);
  return {
    serialize: (obj: T): Buffer => Buffer.from(type.encode(type.fromObject(obj as object)).finish()),
    deserialize: (buf: Buffer): T => {
      const msg = type.decode(buf) as unknown as Record<string, unknown>;
      return msg as T;
    },
  };
}

/** DiscoveryRequest encoder and DiscoveryResponse decoder of the proxy's ADS call. */
export function adsClientCodec(): { encode: (req: DiscoveryRequestMsg) => Uint8Array; decode: (bytes: Uint8Array) => DiscoveryResponseMsg } {
  const req = codec<DiscoveryRequestMsg>('envoy.service.discovery.v3.DiscoveryRequest');
  const res = codec<DiscoveryResponseMsg>('envoy.service.discovery.v3.DiscoveryResponse');
  return { encode: req.serialize, decode: (bytes) => res.deserialize(bytes as Buffer) };
}

export function adsServiceDefinition(): grpc.ServiceDefinition {
  const req = codec<DiscoveryRequestMsg>('envoy.service.discovery.v3.DiscoveryRequest');
  const res = codec<DiscoveryResponseMsg>('envoy.service.discovery.v3.DiscoveryResponse');
  return {
    StreamAggregatedResources: {
      path: ADS_PATH,
      requestStream: true,
      responseStream: true,
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
      originalName: 'streamAggregatedResources',
    },
  } as unknown as grpc.ServiceDefinition;
}
