/**
 * The decision of `clew ratelimit` for one ShouldRateLimit request, as envoyproxy/ratelimit makes
 * it: every request descriptor is looked up in its domain's config (ratelimit-config.ts); the
 * limited ones (not unlimited) count `hits_addend` (default 1) in their fixed window in Redis
 * (`<prefix><domain>_<key>_<value>..._<window start>`, expiring with the window); a count above
 * requests_per_unit is OVER_LIMIT, unless the rule is in shadow mode (counted, reported OK). The
 * overall code is OVER_LIMIT when any descriptor is. Each status carries the limit, what is left
 * and the time to the window's end. A failing Redis makes the whole request fail (the proxy then
 * applies its failure_mode_deny).
 */
import { findRule, UNIT_SECONDS, type RateLimitConfigSet, type RateLimitRule, type RequestEntry } from './ratelimit-config.js';
import type { RedisWindows, WindowHit } from './ratelimit-redis.js';

export const CODE_OK = 1;
export const CODE_OVER_LIMIT = 2;

const UNIT_ENUM: Record<string, number> = { second: 1, minute: 2, hour: 3, day: 4, month: 5, year: 6, week: 7 };

export interface RlsRequest {
  domain: string;
  descriptors: Array<{ entries: RequestEntry[] }>;
  hitsAddend: number;
}

export interface DescriptorStatus {
  code: number;
  current_limit?: { requests_per_unit: number; unit: number; name?: string };
  limit_remaining?: number;
  duration_until_reset?: { seconds: number };
}

export interface RlsResponse {
  overall_code: number;
  statuses: DescriptorStatus[];
}

/** Counters of the service, per outcome (the process's whole life; one set, no per-key series). */
export interface ServiceCounters {
  total: number;
  overLimit: number;
  shadowOverLimit: number;
  withinLimit: number;
  noRule: number;
  errors: number;
}

export class RateLimitDecider {
  readonly counters: ServiceCounters = { total: 0, overLimit: 0, shadowOverLimit: 0, withinLimit: 0, noRule: 0, errors: 0 };

  constructor(
    private config: RateLimitConfigSet,
    private readonly windows: RedisWindows,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  setConfig(c: RateLimitConfigSet): void {
    this.config = c;
  }

  async decide(req: RlsRequest): Promise<RlsResponse> {
    this.counters.total++;
    const dom = this.config.get(req.domain);
    const hits = req.hitsAddend > 0 ? req.hitsAddend : 1;
    const nowSec = Math.floor(this.now() / 1000);
    const rules: Array<RateLimitRule | undefined> = req.descriptors.map((d) => (dom ? findRule(dom, d.entries) : undefined));
    const counted: Array<{ i: number; rule: RateLimitRule; windowEnd: number }> = [];
    const items: WindowHit[] = [];
    rules.forEach((rule, i) => {
      if (rule === undefined || rule.unlimited) return;
      const unit = UNIT_SECONDS[rule.unit];
      const start = Math.floor(nowSec / unit) * unit;
      const entries = req.descriptors[i].entries.map((e) => `${e.key}_${e.value}`).join('_');
      items.push({ key: `${this.prefix}${req.domain}_${entries}_${start}`, hits, expireSeconds: unit });
      counted.push({ i, rule, windowEnd: start + unit });
    });
    let counts: number[];
    try {
      counts = await this.windows.increment(items);
    } catch (err) {
      this.counters.errors++;
      throw err;
    }
    const statuses: DescriptorStatus[] = rules.map((rule) => (rule === undefined || rule.unlimited ? { code: CODE_OK } : { code: CODE_OK }));
    let over = false;
    counted.forEach(({ i, rule, windowEnd }, j) => {
      const count = counts[j];
      const limited = count > rule.requestsPerUnit;
      const status: DescriptorStatus = {
        code: CODE_OK,
        current_limit: { requests_per_unit: rule.requestsPerUnit, unit: UNIT_ENUM[rule.unit] ?? 0, ...(rule.name ? { name: rule.name } : {}) },
        limit_remaining: Math.max(0, rule.requestsPerUnit - count),
        duration_until_reset: { seconds: Math.max(0, windowEnd - nowSec) },
      };
      if (limited && rule.shadowMode) this.counters.shadowOverLimit++;
      else if (limited) {
        this.counters.overLimit++;
        status.code = CODE_OVER_LIMIT;
        over = true;
      } else this.counters.withinLimit++;
      statuses[i] = status;
    });
    if (counted.length === 0) this.counters.noRule++;
    return { overall_code: over ? CODE_OVER_LIMIT : CODE_OK, statuses };
  }
}
