/**
 * The load generator: `connections` workers over one undici Pool of keep-alive connections,
 * a shared pacing schedule (request i starts at i/qps seconds), stopping after `requests`
 * calls or `durationMs`. Connection errors and timeouts count as code -1, like fortio.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, buildConnector } from 'undici';
import type { LoadOptions } from './load-options.js';
import { LoadStats } from './load-stats.js';
import { setMaxListeners } from 'node:events';

export interface LoadResult {
  options: LoadOptions;
  startTime: Date;
  actualDurationMs: number;
  actualQps: number;
  stats: LoadStats;
  /** TCP connections opened during the run. */
  sockets: number;
}

export interface LoadRunHooks {
  /** Called about every 200 ms with calls done and elapsed time. */
  onProgress?: (done: number, elapsedMs: number) => void;
  /** Aborting stops new calls; calls in flight finish (fortio's ^C). */
  signal?: AbortSignal;
}

export async function runLoad(options: LoadOptions, hooks: LoadRunHooks = {}): Promise<LoadResult> {
  const target = new URL(options.url);
  const viaProxy = options.proxy !== undefined;
  const path = viaProxy ? target.href : `${target.pathname}${target.search}`;
  const headers: Record<string, string> = { host: target.host };
  for (const [k, v] of options.headers) headers[k.toLowerCase()] = v;

  let sockets = 0;
  const baseConnect = buildConnector({ timeout: options.timeoutMs });
  const connect: buildConnector.connector = (opts, cb) => {
    baseConnect(opts, ((err: Error | null, socket: unknown) => {
      if (!err) sockets++;
      (cb as (e: Error | null, s: unknown) => void)(err, socket);
    }) as buildConnector.Callback);
  };
  const pool = new Pool(viaProxy ? options.proxy! : target.origin, {
    connections: options.connections,
    pipelining: 1,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect,
  });

  const stats = new LoadStats();
  const startTime = new Date();
  const start = performance.now();
  const deadline = options.requests === undefined && options.durationMs
    ? start + options.durationMs : Number.POSITIVE_INFINITY;
  let next = 0;

  const oneCall = async (): Promise<void> => {
    const t0 = performance.now();
    let code = -1;
    try {
      const res = await pool.request({ method: 'GET', path, headers });
      await res.body.dump({ limit: Number.MAX_SAFE_INTEGER });
      code = res.statusCode;
    } catch {
      code = -1;
    }
    stats.record(code, performance.now() - t0);
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      if (hooks.signal?.aborted) return;
      if (options.requests !== undefined && next >= options.requests) return;
      const i = next++;
      if (options.qps > 0) {
        const at = start + (i * 1000) / options.qps;
        if (at >= deadline) return;
        const wait = at - performance.now();
        if (wait > 0) {
          try {
            await sleep(wait, undefined, { signal: hooks.signal });
          } catch {
            return;
          }
        }
      }
      if (performance.now() >= deadline) return;
      await oneCall();
    }
  };

  // every waiting worker listens on the signal: more than Node's default 10 is expected, not a leak
  if (hooks.signal) setMaxListeners(options.connections + 10, hooks.signal);
  const progress = hooks.onProgress
    ? setInterval(() => hooks.onProgress!(stats.count, performance.now() - start), 200)
    : undefined;
  try {
    await Promise.all(Array.from({ length: options.connections }, () => worker()));
  } finally {
    if (progress) clearInterval(progress);
    await pool.destroy();
  }
  const actualDurationMs = performance.now() - start;
  return {
    options,
    startTime,
    actualDurationMs,
    actualQps: actualDurationMs > 0 ? (stats.count * 1000) / actualDurationMs : 0,
    stats,
    sockets,
  };
}
