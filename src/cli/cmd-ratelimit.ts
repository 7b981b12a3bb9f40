/**
 * `clew ratelimit`: the global rate limit service the proxies' envoy.filters.http.ratelimit calls
 * (Envoy's RLS v3 over gRPC), reading envoyproxy/ratelimit's config format from a file or a
 * directory (Istio's `ratelimit-config` ConfigMap as mounted) and counting in Redis, so every
 * sidecar and gateway shares one budget. Logic in src/ratelimit/.
 */
import type { Command } from 'commander';
import { CliError, UsageError } from './errors.js';
import { RateLimitServiceError } from '../ratelimit/ratelimit-errors.js';
import { startRateLimitServer } from '../ratelimit/ratelimit-server.js';

export function register(program: Command): void {
  program
    .command('ratelimit')
    .description('serve the global rate limit service (Envoy RLS v3, envoyproxy/ratelimit config, counters in Redis)')
    .requiredOption('--config <path>', 'a rate limit config file, or a directory of them (a mounted ConfigMap)')
    .option('--redis-url <url>', 'Redis to count in', 'redis://127.0.0.1:6379')
    .option('--grpc-address <host:port>', 'where to serve RateLimitService', '127.0.0.1:8081')
    .option('--key-prefix <prefix>', 'prefix of the Redis keys', '')
    .action(async (opts: { config: string; redisUrl: string; grpcAddress: string; keyPrefix: string }) => {
      if (!/^[^\s]+:\d+$/.test(opts.grpcAddress)) throw new UsageError(`ratelimit: --grpc-address ${opts.grpcAddress}: expected host:port`);
      if (!/^rediss?:\/\//.test(opts.redisUrl)) throw new UsageError('ratelimit: --redis-url must be a redis:// or rediss:// URL');
      let server;
      try {
        server = await startRateLimitServer({ configPath: opts.config, redisUrl: opts.redisUrl, grpcAddress: opts.grpcAddress, keyPrefix: opts.keyPrefix });
      } catch (err) {
        if (err instanceof RateLimitServiceError) throw new CliError(`ratelimit: ${err.message}`, 1, err.code);
        throw err;
      }
      process.stdout.write(`clew ratelimit: listening on port ${server.port}\n`);
      process.on('SIGHUP', () => server.reload());
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
      });
      await server.close();
    });
}
