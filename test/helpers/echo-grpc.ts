/** A real @grpc/grpc-js Echo server for tests: replies carry the server's name. */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/test/helpers -> test/fixtures (the .proto is not compiled)
export const ECHO_PROTO = path.resolve(here, '../../../test/fixtures/echo.proto');

export function echoDefinition(): any {
  const def = protoLoader.loadSync(ECHO_PROTO, { keepCase: true });
  return (grpc.loadPackageDefinition(def) as any).clew.test;
}

export interface EchoServer {
  port: number;
  calls: number;
  stop(): Promise<void>;
}

export async function startEchoServer(name: string, host = '127.0.0.1'): Promise<EchoServer> {
  const pkg = echoDefinition();
  const server = new grpc.Server();
  const state: EchoServer = {
    port: 0,
    calls: 0,
    stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService(pkg.Echo.service, {
    Say: (call: any, cb: any) => {
      state.calls++;
      cb(null, { message: call.request.message, server: name });
    },
    Stream: (call: any) => {
      state.calls++;
      const n = call.request.count || 3;
      for (let i = 0; i < n; i++) call.write({ message: `${call.request.message}-${i}`, server: name });
      call.end();
    },
  });
  state.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  return state;
}
