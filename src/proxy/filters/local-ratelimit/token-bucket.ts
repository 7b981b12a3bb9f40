/**
 * Envoy's token bucket (envoy.type.v3.TokenBucket): `max_tokens`, refilled with
 * `tokens_per_fill` every `fill_interval`. Refilled lazily when asked (no timer), so an idle
 * bucket costs nothing and a dropped config leaks nothing.
 */
import { durationToMs } from '../../../xds/codec.js';
import { fail } from '../../core/errors.js';

export class TokenBucket {
  private tokens: number;
  private lastFill = performance.now();

  constructor(readonly maxTokens: number, readonly tokensPerFill: number, readonly fillMs: number) {
    this.tokens = maxTokens;
  }

  private refill(now: number): void {
    const fills = Math.floor((now - this.lastFill) / this.fillMs);
    if (fills <= 0) return;
    this.tokens = Math.min(this.maxTokens, this.tokens + fills * this.tokensPerFill);
    this.lastFill += fills * this.fillMs;
  }

  /** takes one token; false when empty */
  consume(): boolean {
    this.refill(performance.now());
    if (this.tokens <= 0) return false;
    this.tokens--;
    return true;
  }

  get remaining(): number {
    this.refill(performance.now());
    return this.tokens;
  }

  /** seconds until the next fill (x-ratelimit-reset) */
  get resetSeconds(): number {
    const left = this.fillMs - (performance.now() - this.lastFill);
    return Math.max(0, Math.ceil(left / 1000));
  }
}

/** envoy.type.v3.TokenBucket; `where` names it in the NACK */
export function parseTokenBucket(b: Record<string, any> | undefined, where: string): { maxTokens: number; tokensPerFill: number; fillMs: number } {
  if (!b) fail(`${where}: token_bucket is required`);
  const maxTokens = Number(b.max_tokens ?? 0);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) fail(`${where}.max_tokens: must be at least 1`);
  const tokensPerFill = b.tokens_per_fill === undefined ? 1 : Number(b.tokens_per_fill.value ?? b.tokens_per_fill);
  if (!Number.isInteger(tokensPerFill) || tokensPerFill < 1) fail(`${where}.tokens_per_fill: must be at least 1`);
  // a Duration object, or proto3 JSON ("60s") when the config came as a TypedStruct
  const fi = b.fill_interval;
  const m = typeof fi === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(fi) : null;
  const fillMs = typeof fi === 'string' ? (m ? Number(m[1]) * 1000 : undefined) : durationToMs(fi);
  if (fillMs === undefined || fillMs < 1) fail(`${where}.fill_interval: a positive duration is required`);
  return { maxTokens, tokensPerFill, fillMs };
}
