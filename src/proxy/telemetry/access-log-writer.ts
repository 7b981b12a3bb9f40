/**
 * Asynchronous access-log writer: `log(line)` only appends to an in-memory buffer; the buffer is
 * written once 64 KiB are waiting or at the flush interval (default 1 s, Envoy's
 * file_flush_interval), with at most one write in flight. When the sink is slow and the buffer reaches its bound, lines are dropped and counted,
 * so a stalled disk or pipe never slows requests down.
 */
import * as fs from 'node:fs';
import type { Counter } from '../../stats/stats-store.js';

export interface AccessLogSink {
  write(data: string, cb: (err?: Error | null) => void): void;
  close?(): void;
}

/**
 * A sink for a path. `/dev/stdout` and `/dev/stderr` write to fds 1/2 through fs (libuv's
 * thread pool), not process.stdout, whose writes to pipes are synchronous on Linux.
 */
export function openAccessLogSink(path: string): AccessLogSink {
  const fd = path === '/dev/stdout' ? 1 : path === '/dev/stderr' ? 2 : undefined;
  const stream =
    fd !== undefined ? fs.createWriteStream('', { fd, autoClose: false }) : fs.createWriteStream(path, { flags: 'a' });
  // errors are reported through write callbacks; keep the stream from throwing
  stream.on('error', () => {});
  return {
    write: (data, cb) => {
      stream.write(data, (err) => cb(err ?? null));
    },
    close: () => {
      if (fd === undefined) stream.end();
    },
  };
}

export interface AccessLogWriterOptions {
  /** bytes buffered (not yet handed to the sink) before lines are dropped; default 1 MiB */
  maxBufferBytes?: number;
  /** backstop flush interval; default 1000 ms (Envoy's file_flush_interval) */
  flushIntervalMs?: number;
  /** optional counters in the stats store (Envoy: access_logs.file.*) */
  counters?: { written?: Counter; dropped?: Counter; failed?: Counter };
}

/** Envoy's minimum flush size of file access logs */
const MIN_FLUSH_BYTES = 64 * 1024;

export class AccessLogWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  private inFlight = false;
  private scheduled = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly maxBufferBytes: number;
  private idleWaiters: Array<() => void> = [];
  /** lines handed to the sink successfully */
  written = 0;
  /** lines dropped because the buffer was full (or the writer closed) */
  dropped = 0;
  /** lines whose write failed */
  failed = 0;

  constructor(
    private readonly sink: AccessLogSink,
    private readonly opts: AccessLogWriterOptions = {},
  ) {
    this.maxBufferBytes = opts.maxBufferBytes ?? 1 << 20;
    this.timer = setInterval(() => this.flushNow(), opts.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Queues one line (include the trailing newline). Never blocks, never throws. */
  log(line: string): void {
    if (this.closed || this.pendingBytes + line.length > this.maxBufferBytes) {
      this.dropped++;
      this.opts.counters?.dropped?.inc();
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    // Envoy's file logger: write when 64 KiB are waiting, else at the flush interval
    if (this.pendingBytes >= MIN_FLUSH_BYTES && !this.scheduled && !this.inFlight) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flushNow();
      });
    }
  }

  /** lines waiting for the sink */
  get buffered(): number {
    return this.pending.length;
  }

  private flushNow(): void {
    if (this.inFlight || this.pending.length === 0) {
      if (!this.inFlight) this.wakeIdle();
      return;
    }
    const lines = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlight = true;
    const n = lines.length;
    this.sink.write(lines.join(''), (err) => {
      this.inFlight = false;
      if (err) {
        this.failed += n;
        this.opts.counters?.failed?.inc(n);
      } else {
        this.written += n;
        this.opts.counters?.written?.inc(n);
      }
      // what came in meanwhile waits for 64 KiB or the interval, unless flush() is waiting
      if (this.pending.length && (this.pendingBytes >= MIN_FLUSH_BYTES || this.idleWaiters.length > 0)) this.flushNow();
      else if (!this.pending.length) this.wakeIdle();
    });
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Resolves once everything queued so far reached the sink, or after timeoutMs. */
  flush(timeoutMs = 2000): Promise<void> {
    if (!this.inFlight && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      t.unref();
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.flushNow();
    });
  }

  async close(timeoutMs = 2000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    clearInterval(this.timer);
    this.sink.close?.();
  }
}
