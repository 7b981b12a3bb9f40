/**
 * Istio's certificate service (istio/api security/v1alpha1/ca.proto) on the wire, built with
 * protobufjs/light from a three-field schema (no .proto parser): 
 *   service istio.v1.auth.IstioCertificateService { rpc CreateCertificate(IstioCertificateRequest) returns (IstioCertificateResponse) }
 *   IstioCertificateRequest  { string csr = 1; int64 validity_duration = 3; google.protobuf.Struct metadata = 4; }
 *   IstioCertificateResponse { repeated string cert_chain = 1; }   // leaf first, root last
 * `metadata` is carried as the Struct's bytes here and (de)coded with the shared Envoy root's
 * google.protobuf.Struct, so the two roots stay separate. Shared by the control plane's server
 * and any client (the proxy's CSR client, tests).
 */
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';
import { lookupType } from '../../xds/proto-root.js';
import { jsonToStruct, structToJson } from '../../xds/struct.js';

export const CA_SERVICE = 'istio.v1.auth.IstioCertificateService';
export const CREATE_CERTIFICATE_PATH = `/${CA_SERVICE}/CreateCertificate`;

export interface IstioCertificateRequest {
  csr: string;
  /** seconds; ≤ 0 asks for the CA's default */
  validityDuration: number;
  /** e.g. CertSigner, ImpersonatedIdentity */
  metadata?: Record<string, unknown>;
}

export interface IstioCertificateResponse {
  certChain: string[];
}

let types: { req: protobuf.Type; res: protobuf.Type } | undefined;

function caTypes(): { req: protobuf.Type; res: protobuf.Type } {
  if (!types) {
    const root = protobuf.Root.fromJSON({
      nested: {
        istio: { nested: { v1: { nested: { auth: { nested: {
          IstioCertificateRequest: { fields: { csr: { type: 'string', id: 1 }, validity_duration: { type: 'int64', id: 3 }, metadata: { type: 'bytes', id: 4 } } },
          IstioCertificateResponse: { fields: { cert_chain: { rule: 'repeated', type: 'string', id: 1 } } },
        } } } } } },
      },
    });
    types = { req: root.lookupType('istio.v1.auth.IstioCertificateRequest'), res: root.lookupType('istio.v1.auth.IstioCertificateResponse') };
  }
  return types;
}

export function encodeCertificateRequest(r: IstioCertificateRequest): Buffer {
  const t = caTypes().req;
  const o: Record<string, unknown> = { csr: r.csr, validity_duration: r.validityDuration };
  if (r.metadata && Object.keys(r.metadata).length > 0) {
    const Struct = lookupType('google.protobuf.Struct');
    o.metadata = Struct.encode(Struct.fromObject(jsonToStruct(r.metadata))).finish();
  }
  return Buffer.from(t.encode(t.fromObject(o)).finish());
}

export function decodeCertificateRequest(buf: Buffer): IstioCertificateRequest {
  const t = caTypes().req;
  const o = t.toObject(t.decode(buf), { longs: Number, bytes: Buffer, defaults: true }) as { csr: string; validity_duration: number; metadata?: Buffer };
  let metadata: Record<string, unknown> | undefined;
  if (o.metadata && o.metadata.length > 0) {
    const Struct = lookupType('google.protobuf.Struct');
    metadata = structToJson(Struct.toObject(Struct.decode(o.metadata), { defaults: false }));
  }
  return { csr: o.csr ?? '', validityDuration: Number(o.validity_duration ?? 0), metadata };
}

export function encodeCertificateResponse(r: IstioCertificateResponse): Buffer {
  const t = caTypes().res;
  return Buffer.from(t.encode(t.fromObject({ cert_chain: r.certChain })).finish());
}

export function decodeCertificateResponse(buf: Buffer): IstioCertificateResponse {
  const t = caTypes().res;
  const o = t.toObject(t.decode(buf), { defaults: true }) as { cert_chain?: string[] };
  return { certChain: o.cert_chain ?? [] };
}

/** The grpc-js service definition (no proto loader). */
export function caServiceDefinition(): grpc.ServiceDefinition {
  return {
    CreateCertificate: {
      path: CREATE_CERTIFICATE_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: encodeCertificateRequest,
      requestDeserialize: decodeCertificateRequest,
      responseSerialize: encodeCertificateResponse,
      responseDeserialize: decodeCertificateResponse,
    },
  } as grpc.ServiceDefinition;
}
