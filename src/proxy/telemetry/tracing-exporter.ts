/**
 * Batched span export over HTTP (JSON). `export(span)` only appends to a bounded queue; batches
 * are POSTed when `batchSize` spans are waiting or every `flushIntervalMs`, with one request in
 * flight at a time. A full queue drops new spans and counts them: a slow or dead collector costs
 * memory up to `maxQueue` spans and nothing else. With `resolveAddress` (a collector cluster) each
 * POST goes to the address it returns at that moment, with the URL's authority as Host.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Counter } from '../../stats/stats-store.js';
import type { FinishedSpan, SpanSink } from './tracing-tracer.js';

export interface BatchExporterOptions {
  /** full collector URL; a URL with path `/` gets `defaultPath` */
  url: string;
  defaultPath: string;
  encode: (spans: FinishedSpan[]) => string;
  maxQueue?: number;
  batchSize?: number;
  flushIntervalMs?: number;
  /** per-POST timeout, default 5000 ms */
  timeoutMs?: number;
  counters?: { sent?: Counter; dropped?: Counter; failed?: Counter };
  /** where to connect for each POST (a host of the collector cluster); undefined fails the batch */
  resolveAddress?: () => { host: string; port: number } | undefined;
}

export class HttpBatchExporter implements SpanSink {
  private queue: FinishedSpan[] = [];
  private inFlight = false;
  private scheduled = false;
  private closed = false;
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly timer: NodeJS.Timeout;
  private readonly maxQueue: number;
  private readonly batchSize: number;
  private idleWaiters: Array<() => void> = [];
  /** spans the collector accepted (2xx) */
  sent = 0;
  /** spans dropped because the queue was full */
  dropped = 0;
  /** spans lost to failed POSTs (error, timeout, non-2xx) */
  failed = 0;
  /** POST requests made */
  requests = 0;

  constructor(private readonly opts: BatchExporterOptions) {
    const u = new URL(opts.url);
    if (u.pathname === '/' || u.pathname === '') u.pathname = opts.defaultPath;
    this.url = u;
    this.agent = u.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.maxQueue = opts.maxQueue ?? 2048;
    this.batchSize = Math.max(1, opts.batchSize ?? 100);
    this.timer = setInterval(() => this.flushNow(), opts.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  export(span: FinishedSpan): void {
    if (this.closed || this.queue.length >= this.maxQueue) {
      this.dropped++;
      this.opts.counters?.dropped?.inc();
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.batchSize && !this.inFlight && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flushNow();
      });
    }
  }

  get queued(): number {
    return this.queue.length;
  }

  private flushNow(): void {
    if (this.inFlight) return;
    if (this.queue.length === 0) {
      this.wakeIdle();
      return;
    }
    const batch = this.queue.splice(0, this.batchSize);
    let body: string;
    try {
      body = this.opts.encode(batch);
    } catch {
      this.fail(batch.length);
      return;
    }
    let target: http.RequestOptions = {};
    if (this.opts.resolveAddress) {
      const addr = this.opts.resolveAddress();
      if (!addr) {
        // no collector host: this batch is lost; the rest goes the same way (and wakes flush())
        this.fail(batch.length);
        this.flushNow();
        return;
      }
      target = { hostname: addr.host, port: addr.port };
    }
    this.inFlight = true;
    this.requests++;
    const mod = this.url.protocol === 'https:' ? https : http;
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      this.inFlight = false;
      if (ok) {
        this.sent += batch.length;
        this.opts.counters?.sent?.inc(batch.length);
      } else this.fail(batch.length);
      // keep draining full batches; partial ones wait for the timer
      const q = this.queue.length;
      if (q && (q >= this.batchSize || this.closed || this.idleWaiters.length)) this.flushNow();
      else if (q === 0) this.wakeIdle();
    };
    const req = mod.request(
      this.url,
      {
        ...target,
        method: 'POST',
        agent: this.agent,
        headers: { host: this.url.host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: this.opts.timeoutMs ?? 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300));
        res.on('error', () => finish(false));
      },
    );
    req.on('timeout', () => req.destroy(new Error('span export timed out')));
    req.on('error', () => finish(false));
    req.end(body);
  }

  private fail(n: number): void {
    this.failed += n;
    this.opts.counters?.failed?.inc(n);
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Sends everything queued (batch by batch); resolves when done or after timeoutMs. */
  flush(timeoutMs = 5000): Promise<void> {
    if (!this.inFlight && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      t.unref();
      const check = (): void => {
        if (this.queue.length === 0 && !this.inFlight) {
          clearTimeout(t);
          resolve();
        } else {
          this.idleWaiters.push(check);
          this.flushNow();
        }
      };
      this.idleWaiters.push(check);
      this.flushNow();
    });
  }

  async close(timeoutMs = 2000): Promise<void> {
    this.closed = true;
    await this.flush(timeoutMs);
    clearInterval(this.timer);
    this.agent.destroy();
  }
}
