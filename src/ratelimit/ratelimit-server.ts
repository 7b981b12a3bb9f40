/**
 * `clew ratelimit`'s gRPC server: `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`
 * (@grpc/grpc-js, messages from Envoy's protos through the shared descriptor), answering with
 * RateLimitDecider. A request the decider cannot answer (Redis down) fails with UNAVAILABLE and
 * the reason; a malformed request with INVALID_ARGUMENT. The config path is read again on SIGHUP
 * or when `reload()` is called; a bad new config is logged and the last good one kept.
 */
import * as grpc from '@grpc/grpc-js';
import { lookupType } from '../xds/proto-root.js';
import { loadRateLimitConfig } from './ratelimit-config.js';
import { RateLimitServiceError } from './ratelimit-errors.js';
import { RedisWindows, redactUrl } from './ratelimit-redis.js';
import { RateLimitDecider, type RlsRequest } from './ratelimit-service.js';

export const SHOULD_RATE_LIMIT = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';

export interface RateLimitServerOptions {
  /** a config file or a directory of them (a mounted ConfigMap) */
  configPath: string;
  redisUrl: string;
  /** host:port of the gRPC listener (port 0: any free port) */
  grpcAddress: string;
  /** prefix of the Redis keys */
  keyPrefix?: string;
  /** how long start-up waits for the first Redis connection (default 5 s) */
  redisWaitMs?: number;
  log?: (msg: string) => void;
}

export interface RunningRateLimitServer {
  port: number;
  decider: RateLimitDecider;
  reload(): void;
  close(): Promise<void>;
}

const identity = (b: Buffer): Buffer => b;

function decodeRequest(buf: Buffer): RlsRequest {
  const t = lookupType('envoy.service.ratelimit.v3.RateLimitRequest');
  const r = t.toObject(t.decode(buf), { longs: Number, defaults: false }) as Record<string, any>;
  return {
    domain: String(r.domain ?? ''),
    descriptors: ((r.descriptors ?? []) as Array<Record<string, any>>).map((d) => ({
      entries: ((d.entries ?? []) as Array<Record<string, any>>).map((e) => ({ key: String(e.key ?? ''), value: String(e.value ?? '') })),
    })),
    hitsAddend: Number(r.hits_addend ?? 0),
  };
}

function encodeResponse(o: object): Buffer {
  const t = lookupType('envoy.service.ratelimit.v3.RateLimitResponse');
  return Buffer.from(t.encode(t.fromObject(o)).finish());
}

function stderrLog(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} [info] clew-ratelimit: ${msg}\n`);
}

export async function startRateLimitServer(o: RateLimitServerOptions): Promise<RunningRateLimitServer> {
  const log = o.log ?? stderrLog;
  const config = loadRateLimitConfig(o.configPath);
  const windows = new RedisWindows(o.redisUrl, log);
  // as envoyproxy/ratelimit, connect before serving; a Redis that is not there yet is not fatal:
  // requests are answered UNAVAILABLE (the proxies' failure mode) until it comes
  await windows.ready(o.redisWaitMs ?? 5000).catch((err: Error) => log(`starting without redis: ${err.message}`));
  const decider = new RateLimitDecider(config, windows, o.keyPrefix ?? '');
  const server = new grpc.Server();
  server.addService(
    {
      ShouldRateLimit: {
        path: SHOULD_RATE_LIMIT,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      ShouldRateLimit: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        let req: RlsRequest;
        try {
          req = decodeRequest(call.request);
        } catch (err) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: `bad RateLimitRequest: ${(err as Error).message}` });
          return;
        }
        if (!req.domain) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: 'rate limit domain must not be empty' });
          return;
        }
        decider.decide(req).then(
          (res) => callback(null, encodeResponse(res)),
          (err: unknown) => {
            const code = err instanceof RateLimitServiceError ? grpc.status.UNAVAILABLE : grpc.status.INTERNAL;
            callback({ code, details: (err as Error).message });
          },
        );
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(o.grpcAddress, grpc.ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(new RateLimitServiceError(`cannot listen on ${o.grpcAddress}: ${err.message}`, 'CLEW_RATELIMIT_LISTEN'));
      else resolve(p);
    });
  }).catch(async (err: unknown) => {
    await windows.close();
    throw err;
  });
  const domains = [...config.keys()].join(', ') || '(none)';
  log(`serving RateLimitService on ${o.grpcAddress.replace(/:0$/, '')}:${port}, domains ${domains}, redis ${redactUrl(o.redisUrl)}`);
  const reload = (): void => {
    try {
      decider.setConfig(loadRateLimitConfig(o.configPath));
      log(`config reloaded from ${o.configPath}`);
    } catch (err) {
      log(`config not reloaded, keeping the last good one: ${(err as Error).message}`);
    }
  };
  return {
    port,
    decider,
    reload,
    close: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await windows.close();
    },
  };
}
