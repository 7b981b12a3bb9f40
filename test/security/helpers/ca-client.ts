/** A CreateCertificate client for tests (grpc-js over TLS, Istio's wire format). */
import * as grpc from '@grpc/grpc-js';
import {
  CREATE_CERTIFICATE_PATH, decodeCertificateResponse, encodeCertificateRequest,
  type IstioCertificateRequest, type IstioCertificateResponse,
} from '../../../src/security/cert-service/istio-ca-messages.js';

export type CsrResult = { chain: string[] } | { code: number; details: string };

export function createCertificate(
  address: string,
  rootPem: string,
  req: IstioCertificateRequest,
  o: { token?: string; insecure?: boolean } = {},
): Promise<CsrResult> {
  const creds = o.insecure ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(Buffer.from(rootPem));
  const client = new grpc.Client(address, creds);
  const md = new grpc.Metadata();
  if (o.token) md.set('authorization', `Bearer ${o.token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest<IstioCertificateRequest, IstioCertificateResponse>(
      CREATE_CERTIFICATE_PATH, encodeCertificateRequest, decodeCertificateResponse, req, md, { deadline: Date.now() + 10_000 },
      (err, res) => {
        client.close();
        if (err) resolve({ code: err.code, details: err.details });
        else resolve({ chain: res!.certChain });
      },
    );
  });
}
