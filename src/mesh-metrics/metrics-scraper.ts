/**
 * Scrapes every connected proxy's /stats/prometheus (its address, CLEW_STATS_PORT or 15090) on an
 * interval into a MetricsWindowStore, as Prometheus would with Istio's pod annotations. A round
 * asks at most `concurrency` proxies at once, each with a timeout; a failed proxy is reported in
 * `status()` and tried again next round.
 */
import { request } from 'undici';
import { parsePromText } from './prom-text.js';
import { MetricsWindowStore, SCRAPED_FAMILIES } from './metrics-window.js';
import type { ScrapeStatus } from '../api/api-types.js';

export interface ScrapeTarget {
  /** the proxy's node id */
  id: string;
  url: string;
}

export interface ScraperOptions {
  intervalMs: number;
  targets: () => ScrapeTarget[];
  timeoutMs?: number;
  concurrency?: number;
  /** largest scrape body read (bytes) */
  maxBodyBytes?: number;
}

export class MetricsScraper {
  readonly store: MetricsWindowStore;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failed = new Map<string, string>();
  private targetCount = 0;
  private stopped = false;

  constructor(private readonly opts: ScraperOptions, store = new MetricsWindowStore()) {
    this.store = store;
  }

  start(): void {
    if (this.opts.intervalMs <= 0) return;
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.scrapeOnce().finally(() => {
        this.running = undefined;
        if (!this.stopped) {
          this.timer = setTimeout(tick, this.opts.intervalMs);
          this.timer.unref();
        }
      });
    };
    this.timer = setTimeout(tick, Math.min(1000, this.opts.intervalMs));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One round over every target. */
  async scrapeOnce(): Promise<void> {
    const targets = this.opts.targets();
    this.targetCount = targets.length;
    const queue = [...targets];
    const failed = new Map<string, string>();
    const worker = async (): Promise<void> => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        try {
          const text = await this.fetchText(t.url);
          this.store.addScrape(t.id, parsePromText(text, SCRAPED_FAMILIES));
        } catch (err) {
          failed.set(t.id, `${t.url}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? 16, queue.length) }, worker));
    this.store.retainTargets(new Set(targets.map((t) => t.id)));
    this.store.commit();
    this.failed = failed;
  }

  status(): ScrapeStatus {
    return {
      intervalMs: this.opts.intervalMs,
      targets: this.targetCount,
      failedTargets: [...this.failed].map(([target, error]) => ({ target, error })),
      series: this.store.rowCount,
      droppedSeries: this.store.droppedSeries,
    };
  }

  private async fetchText(url: string): Promise<string> {
    const timeout = this.opts.timeoutMs ?? 3000;
    const res = await request(url, { headersTimeout: timeout, bodyTimeout: timeout });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`HTTP ${res.statusCode}`);
    }
    const max = this.opts.maxBodyBytes ?? 32 * 1024 * 1024;
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > max) {
        res.body.destroy();
        throw new Error(`scrape larger than ${max} bytes`);
      }
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
