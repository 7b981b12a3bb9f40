/**
 * A sample external authorizer with the behaviour of Istio's `samples/extauthz` (written here):
 * a request is allowed when it carries `x-ext-authz: allow`, and denied otherwise.
 * - HTTP (Envoy's http_service): any method and path; allowed → 200 with
 *   `x-ext-authz-check-result: allowed`; denied → 403 with `x-ext-authz-check-result: denied` and
 *   the body `denied by ext_authz for not found header `x-ext-authz: allow` in the request`.
 *   Both carry `x-ext-authz-check-received: <METHOD> <path>` (what the check asked about).
 * - gRPC `envoy.service.auth.v3.Authorization/Check` (@grpc/grpc-js server, Envoy's messages):
 *   allowed → OK with the same header for the upstream request; denied → PERMISSION_DENIED with a
 *   denied_response of 403, the header and the body.
 * `checks` counts the checks served (tests read it).
 */
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { lookupType } from '../../src/xds/proto-root.js';

export const ALLOW_HEADER = 'x-ext-authz';
export const RESULT_HEADER = 'x-ext-authz-check-result';
export const RECEIVED_HEADER = 'x-ext-authz-check-received';
export const DENIED_BODY = 'denied by ext_authz for not found header `x-ext-authz: allow` in the request';
export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

export interface ExtAuthzCounters {
  checks: number;
}

export function createHttpExtAuthz(counters: ExtAuthzCounters): http.Server {
  return http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      counters.checks++;
      const allowed = req.headers[ALLOW_HEADER] === 'allow';
      const received = `${req.method} ${req.url}`;
      if (allowed) {
        res.writeHead(200, { [RESULT_HEADER]: 'allowed', [RECEIVED_HEADER]: received, 'content-length': '0' }).end();
      } else {
        res.writeHead(403, { [RESULT_HEADER]: 'denied', [RECEIVED_HEADER]: received, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(DENIED_BODY) }).end(DENIED_BODY);
      }
    });
  });
}

const header = (key: string, value: string) => ({ header: { key, value } });

/** The Check method's answer to one encoded CheckRequest (the encoded CheckResponse). */
export function answerCheck(request: Buffer): Buffer {
  const reqType = lookupType('envoy.service.auth.v3.CheckRequest');
  const resType = lookupType('envoy.service.auth.v3.CheckResponse');
  const r = reqType.toObject(reqType.decode(request)) as { attributes?: { request?: { http?: { headers?: Record<string, string>; method?: string; path?: string } } } };
  const h = r.attributes?.request?.http;
  const received = `${h?.method ?? ''} ${h?.path ?? ''}`;
  const allowed = h?.headers?.[ALLOW_HEADER] === 'allow';
  const answer = allowed
    ? { status: { code: 0 }, ok_response: { headers: [header(RESULT_HEADER, 'allowed'), header(RECEIVED_HEADER, received)] } }
    : {
      status: { code: grpc.status.PERMISSION_DENIED },
      denied_response: { status: { code: 403 }, headers: [header(RESULT_HEADER, 'denied'), header(RECEIVED_HEADER, received)], body: DENIED_BODY },
    };
  return Buffer.from(resType.encode(resType.fromObject(answer)).finish());
}

export function createGrpcExtAuthz(counters: ExtAuthzCounters): grpc.Server {
  const server = new grpc.Server();
  const identity = (b: Buffer): Buffer => b;
  server.addService({
    Check: {
      path: CHECK_PATH, requestStream: false, responseStream: false,
      requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
    },
  }, {
    Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      counters.checks++;
      try {
        done(null, answerCheck(call.request));
      } catch (err) {
        done({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      }
    },
  });
  return server;
}

export interface ExtAuthzServers {
  httpPort: number;
  grpcPort: number;
  counters: ExtAuthzCounters;
  close(): Promise<void>;
}

/** Both servers on `host`; port 0 picks free ports. */
export async function startExtAuthz(host: string, httpPort = 0, grpcPort = 0): Promise<ExtAuthzServers> {
  const counters: ExtAuthzCounters = { checks: 0 };
  const h = createHttpExtAuthz(counters);
  await new Promise<void>((resolve, reject) => {
    h.once('error', reject);
    h.listen(httpPort, host, () => resolve());
  });
  const g = createGrpcExtAuthz(counters);
  const bound = await new Promise<number>((resolve, reject) => {
    g.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
  return {
    httpPort: (h.address() as { port: number }).port,
    grpcPort: bound,
    counters,
    async close() {
      h.closeAllConnections();
      await new Promise<void>((r) => h.close(() => r()));
      g.forceShutdown();
    },
  };
}
