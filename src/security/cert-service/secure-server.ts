/**
 * The control plane's TLS gRPC port (istiod's 15012): Istio's certificate service and ADS on one
 * port, with the serving certificate from ServingCertProvider. Client certificates are requested
 * but not required (a CSR is authenticated by its bearer token; a proxy that already has a
 * workload certificate may show it).
 */
import * as grpc from '@grpc/grpc-js';
import { grpcBindAddress, shutdownGrpcServer, type AdsServer } from '../../xds-server/index.js';
import { caServiceDefinition } from './istio-ca-messages.js';
import type { ServingCertProvider } from './serving-cert-provider.js';

export interface SecureServer {
  port: number;
  close(): Promise<void>;
}

export async function startSecureServer(o: {
  host: string;
  port: number;
  ads: AdsServer;
  createCertificate: grpc.handleUnaryCall<any, any>;
  provider: ServingCertProvider;
}): Promise<SecureServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService(caServiceDefinition(), { CreateCertificate: o.createCertificate });
  o.ads.attach(server, true);
  // (identity provider, CA provider, require a client certificate)
  const creds = grpc.experimental.createCertificateProviderServerCredentials(o.provider, o.provider, false);
  const addr = grpcBindAddress(o.host, o.port);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(addr, creds, (err, p) => (err ? reject(Object.assign(err, { address: addr })) : resolve(p)));
  });
  return {
    port,
    close: () => shutdownGrpcServer(server),
  };
}
