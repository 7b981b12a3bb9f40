/** productpage's calls to details, reviews and ratings (3 s timeout; reviews tried twice). */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { sampleGetJson } from '../common/sample-http-client.js';
import type { ProxyConfig } from '../../src/load/load-proxy-env.js';

export interface ProductpageConfig {
  detailsBaseUrl: string;
  reviewsBaseUrl: string;
  ratingsBaseUrl: string;
  /** Per-call timeout; upstream uses 3 s. */
  timeoutMs: number;
  sessionSecret: string;
  podName: string;
  /** Explicit proxy for tests; undefined = read HTTP_PROXY. */
  proxy?: ProxyConfig | null;
}

export function productpageConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ProductpageConfig {
  const domain = env.SERVICES_DOMAIN ? `.${env.SERVICES_DOMAIN}` : '';
  const base = (name: string): string =>
    `http://${env[`${name.toUpperCase()}_HOSTNAME`] || name}${domain}:${env[`${name.toUpperCase()}_SERVICE_PORT`] || '9080'}`;
  return {
    detailsBaseUrl: base('details'),
    reviewsBaseUrl: base('reviews'),
    ratingsBaseUrl: base('ratings'),
    timeoutMs: 3000,
    // A random secret means sessions end when the process restarts; set SESSION_SECRET to keep them.
    sessionSecret: env.SESSION_SECRET || randomBytes(32).toString('hex'),
    podName: env.POD_NAME || os.hostname(),
  };
}

export interface BackendResult {
  status: number;
  body: Record<string, unknown>;
}

export const DETAILS_ERROR = 'Sorry, product details are currently unavailable for this book.';
export const REVIEWS_ERROR = 'Sorry, product reviews are currently unavailable for this book.';
export const RATINGS_ERROR = 'Sorry, product ratings are currently unavailable for this book.';

async function callOnce(
  cfg: ProductpageConfig,
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; json: unknown } | undefined> {
  try {
    return await sampleGetJson(url, { headers, timeoutMs: cfg.timeoutMs, proxy: cfg.proxy });
  } catch {
    return undefined;
  }
}

function asObject(json: unknown): Record<string, unknown> | undefined {
  return typeof json === 'object' && json !== null && !Array.isArray(json) ? json as Record<string, unknown> : undefined;
}

function result(res: { status: number; json: unknown } | undefined, error: string): BackendResult {
  const body = res?.status === 200 ? asObject(res.json) : undefined;
  if (res && body) return { status: 200, body };
  return { status: res && res.status !== 200 ? res.status : 500, body: { error } };
}

export async function getDetails(cfg: ProductpageConfig, id: string, headers: Record<string, string>): Promise<BackendResult> {
  return result(await callOnce(cfg, `${cfg.detailsBaseUrl}/details/${encodeURIComponent(id)}`, headers), DETAILS_ERROR);
}

export async function getRatings(cfg: ProductpageConfig, id: string, headers: Record<string, string>): Promise<BackendResult> {
  return result(await callOnce(cfg, `${cfg.ratingsBaseUrl}/ratings/${encodeURIComponent(id)}`, headers), RATINGS_ERROR);
}

/**
 * Tried twice on any failure: upstream's deliberate bug, which the fault-injection task relies
 * on (a 7 s ratings delay for jason surfaces as a reviews error after 2 x 3 s).
 */
export async function getReviews(cfg: ProductpageConfig, id: string, headers: Record<string, string>): Promise<BackendResult> {
  let last: { status: number; json: unknown } | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    last = await callOnce(cfg, `${cfg.reviewsBaseUrl}/reviews/${encodeURIComponent(id)}`, headers);
    if (last?.status === 200 && asObject(last.json)) return { status: 200, body: asObject(last.json)! };
  }
  return result(last, REVIEWS_ERROR);
}
