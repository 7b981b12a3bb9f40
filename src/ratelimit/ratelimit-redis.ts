/**
 * The shared counters of the rate limit service: fixed windows in Redis, as envoyproxy/ratelimit
 * keeps them. Each hit is `INCRBY <key> <hits>` + `EXPIRE <key> <window seconds>` in one pipeline
 * per request, so every replica of the service (and every sidecar behind them) counts in the same
 * buckets. ioredis runs without an offline queue and with one retry, so a request while Redis is
 * down fails at once (the proxies then apply their failure mode) instead of waiting for a
 * reconnect; the connection is retried in the background, and a Redis that comes back is used
 * again without a restart. Its state changes are logged once each.
 */
import { Redis } from 'ioredis';
import { RateLimitServiceError } from './ratelimit-errors.js';

export interface WindowHit {
  key: string;
  hits: number;
  expireSeconds: number;
}

export class RedisWindows {
  private readonly redis: Redis;
  private down = false;

  constructor(url: string, private readonly log: (msg: string) => void) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(100 * times, 1000),
    });
    this.redis.on('error', (err: Error) => this.markDown(err.message));
    this.redis.on('ready', () => {
      if (this.down) this.log(`redis ${redactUrl(url)}: connected again`);
      this.down = false;
    });
  }

  private markDown(reason: string): void {
    if (this.down) return;
    this.down = true;
    this.log(`redis: unavailable: ${reason}`);
  }

  /** Waits for the first connection (start-up), at most `ms`. */
  async ready(ms: number): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new RateLimitServiceError(`redis did not answer within ${ms} ms`, 'CLEW_RATELIMIT_REDIS'));
      }, ms);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
  }

  /** Adds the hits and returns each key's count in its window; throws RateLimitServiceError when Redis fails. */
  async increment(items: readonly WindowHit[]): Promise<number[]> {
    if (items.length === 0) return [];
    const p = this.redis.pipeline();
    for (const it of items) {
      p.incrby(it.key, it.hits);
      p.expire(it.key, it.expireSeconds);
    }
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await p.exec();
    } catch (err) {
      this.markDown((err as Error).message);
      throw new RateLimitServiceError(`redis: ${(err as Error).message}`, 'CLEW_RATELIMIT_REDIS');
    }
    if (results === null) throw new RateLimitServiceError('redis: the pipeline was discarded', 'CLEW_RATELIMIT_REDIS');
    return items.map((_it, i) => {
      const [err, v] = results![i * 2];
      if (err) {
        this.markDown(err.message);
        throw new RateLimitServiceError(`redis: ${err.message}`, 'CLEW_RATELIMIT_REDIS');
      }
      return Number(v);
    });
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

/** a Redis URL without its password (logs) */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(redis url)';
  }
}
