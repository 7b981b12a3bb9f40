/**
 * The well-behaved traffic of the hostile soak (bench/hostile-soak.ts): GET requests at a fixed
 * rate through a proxy, over a few keep-alive connections (undici's Pool, as a real client would
 * use), until SIGTERM or the duration ends. Every request that does not end in a 2xx with its
 * whole body is a failure, with its reason (status or error code) counted.
 *
 *   node dist/bench/soak-normal-load.js --url http://127.0.100.1:15001/ --host bench-mesh:8000
 *     [--rps 200] [--connections 8] [--duration-ms N] [--report-ms 5000] [--timeout-ms 10000]
 * Prints one JSON line per report interval ({"type":"normal", ...}) and a last one with "final":true.
 */
import { Pool } from 'undici';
import { performance } from 'node:perf_hooks';

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(name);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (dflt === undefined) throw new Error(`missing ${name}`);
  return dflt;
}

export interface NormalReport {
  type: 'normal';
  final: boolean;
  /** ms since the load started */
  t: number;
  sent: number;
  ok: number;
  failed: number;
  /** failure reasons (HTTP status or error code) → count */
  reasons: Record<string, number>;
  /** latencies of the requests completed in this interval, ms */
  interval: { ok: number; failed: number; p50: number; p99: number; max: number };
  /** latency percentiles over the whole run, ms */
  overall: { p50: number; p99: number; p999: number; max: number };
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function main(): Promise<void> {
  const url = new URL(arg('--url'));
  const host = arg('--host', url.host);
  const rps = Number(arg('--rps', '200'));
  const durationMs = Number(arg('--duration-ms', String(Number.MAX_SAFE_INTEGER)));
  const reportMs = Number(arg('--report-ms', '5000'));
  const timeoutMs = Number(arg('--timeout-ms', '10000'));
  const pool = new Pool(url.origin, { connections: Number(arg('--connections', '8')), pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 30_000 });
  pool.on('connectionError', () => undefined);
  const reasons: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let inFlight = 0;
  let intervalLat: number[] = [];
  let intervalFailed = 0;
  // the whole run's latencies in 0.1 ms buckets up to 60 s (a 10-minute run at 200 rps is 120k requests)
  const buckets = new Uint32Array(600_001);
  let overallMax = 0;
  const fail = (reason: string): void => {
    failed++;
    intervalFailed++;
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  };
  const one = async (): Promise<void> => {
    sent++;
    inFlight++;
    const t0 = performance.now();
    try {
      const r = await pool.request({ path: url.pathname + url.search, method: 'GET', headers: { host, 'user-agent': 'clew-soak-normal' } });
      await r.body.dump({ limit: 1 << 20 });
      if (r.statusCode < 200 || r.statusCode > 299) fail(`HTTP ${r.statusCode}`);
      else {
        ok++;
        const ms = performance.now() - t0;
        intervalLat.push(ms);
        buckets[Math.min(buckets.length - 1, Math.round(ms * 10))]++;
        if (ms > overallMax) overallMax = ms;
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      fail(e.code ?? e.name ?? 'error');
    } finally {
      inFlight--;
    }
  };
  const overall = (): NormalReport['overall'] => {
    const at = (p: number): number => {
      const want = Math.ceil((p / 100) * ok);
      let n = 0;
      for (let i = 0; i < buckets.length; i++) {
        n += buckets[i];
        if (n >= want && want > 0) return i / 10;
      }
      return 0;
    };
    return { p50: at(50), p99: at(99), p999: at(99.9), max: Math.round(overallMax * 10) / 10 };
  };
  const start = performance.now();
  const report = (final: boolean): void => {
    const lat = intervalLat.sort((a, b) => a - b);
    const r1 = (v: number) => Math.round(v * 10) / 10;
    const rep: NormalReport = {
      type: 'normal', final, t: Math.round(performance.now() - start), sent, ok, failed, reasons,
      interval: { ok: lat.length, failed: intervalFailed, p50: r1(pct(lat, 50)), p99: r1(pct(lat, 99)), max: r1(lat[lat.length - 1] ?? 0) },
      overall: overall(),
    };
    process.stdout.write(JSON.stringify(rep) + '\n');
    intervalLat = [];
    intervalFailed = 0;
  };
  let stopping = false;
  const reporter = setInterval(() => report(false), reportMs);
  const interval = 1000 / rps;
  let next = 0;
  await new Promise<void>((done) => {
    process.once('SIGTERM', () => { stopping = true; });
    const tick = (): void => {
      const now = performance.now();
      if (stopping || now - start >= durationMs) {
        done();
        return;
      }
      while (start + next * interval <= now) {
        next++;
        void one();
      }
      setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    tick();
  });
  // requests already sent finish (or time out) before the last report
  const drainEnd = performance.now() + timeoutMs + 1000;
  while (inFlight > 0 && performance.now() < drainEnd) await new Promise((r) => setTimeout(r, 10));
  clearInterval(reporter);
  report(true);
  await pool.close().catch(() => undefined);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
