/**
 * Istio's certificate service messages (istio/api security/v1alpha1/ca.proto) for the proxy's
 * CSR call, from a three-field schema on protobufjs/light (no .proto parser, no grpc-js):
 *   IstioCertificateRequest  { string csr = 1; int64 validity_duration = 3; Struct metadata = 4; }
 *   IstioCertificateResponse { repeated string cert_chain = 1; }   // leaf first, root last
 * The proxy never sends metadata (no impersonation), so field 4 is not declared here.
 */
import protobuf from 'protobufjs/light.js';

export const CREATE_CERTIFICATE_PATH = '/istio.v1.auth.IstioCertificateService/CreateCertificate';

let types: { req: protobuf.Type; res: protobuf.Type } | undefined;

function caTypes(): { req: protobuf.Type; res: protobuf.Type } {
  if (!types) {
    const root = protobuf.Root.fromJSON({
      nested: {
        IstioCertificateRequest: { fields: { csr: { type: 'string', id: 1 }, validity_duration: { type: 'int64', id: 3 } } },
        IstioCertificateResponse: { fields: { cert_chain: { rule: 'repeated', type: 'string', id: 1 } } },
      },
    });
    types = { req: root.lookupType('IstioCertificateRequest'), res: root.lookupType('IstioCertificateResponse') };
  }
  return types;
}

export function encodeCsrRequest(r: { csr: string; validityDuration: number }): Uint8Array {
  const t = caTypes().req;
  return t.encode(t.fromObject({ csr: r.csr, validity_duration: r.validityDuration })).finish();
}

export function decodeCsrResponse(bytes: Uint8Array): { certChain: string[] } {
  const t = caTypes().res;
  const o = t.toObject(t.decode(bytes), { defaults: true }) as { cert_chain?: string[] };
  return { certChain: o.cert_chain ?? [] };
}
