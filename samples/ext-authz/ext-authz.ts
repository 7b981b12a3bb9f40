/**
 * Process entry: `node dist/samples/ext-authz/ext-authz.js` (env HOST default 0.0.0.0, PORT
 * default 8000 for HTTP checks, GRPC_PORT default 9000 for gRPC Check; 0 picks a free port).
 */
import { startExtAuthz } from './ext-authz-app.js';

const host = process.env.HOST || '0.0.0.0';
const s = await startExtAuthz(host, Number(process.env.PORT ?? 8000), Number(process.env.GRPC_PORT ?? 9000));
process.stdout.write(`ext-authz listening on ${host}:${s.httpPort} (HTTP) and ${host}:${s.grpcPort} (gRPC)\n`);
const stop = (): void => {
  void s.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
