/**
 * Bookinfo `reviews`, all three versions in one program: v1 has no ratings, v2 shows black
 * stars, v3 red ones. v2/v3 call `ratings` (10 s timeout for black, 2.5 s for red, as upstream).
 */
import http from 'node:http';
import os from 'node:os';
import { safeHandler, sendJson } from '../common/sample-server.js';
import { sampleGetJson } from '../common/sample-http-client.js';
import { forwardedHeaders } from '../common/sample-headers.js';
import type { ProxyConfig } from '../../src/load/load-proxy-env.js';

export interface ReviewsConfig {
  version: string;
  ratingsEnabled: boolean;
  starColor: 'black' | 'red' | string;
  /** Base URL of the ratings service, e.g. http://ratings:9080 */
  ratingsBaseUrl: string;
  podName: string;
  clusterName: string;
  /** Explicit proxy for tests; undefined = read HTTP_PROXY. */
  proxy?: ProxyConfig | null;
}

export function reviewsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ReviewsConfig {
  const version = env.SERVICE_VERSION || 'v1';
  const starColor = env.STAR_COLOR || (version === 'v3' ? 'red' : 'black');
  const ratingsEnabled = env.ENABLE_RATINGS !== undefined
    ? env.ENABLE_RATINGS === 'true'
    : version !== 'v1';
  const domain = env.SERVICES_DOMAIN ? `.${env.SERVICES_DOMAIN}` : '';
  const host = env.RATINGS_HOSTNAME || 'ratings';
  const port = env.RATINGS_SERVICE_PORT || '9080';
  return {
    version,
    ratingsEnabled,
    starColor,
    ratingsBaseUrl: `http://${host}${domain}:${port}`,
    podName: env.POD_NAME || os.hostname(),
    clusterName: env.CLUSTER_NAME || 'null',
  };
}

const REVIEWS = [
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.' },
];

const RATINGS_UNAVAILABLE = 'Ratings service is currently unavailable';

async function fetchRatings(
  cfg: ReviewsConfig,
  productId: string,
  headers: Record<string, string>,
): Promise<Record<string, number> | undefined> {
  const timeoutMs = cfg.starColor === 'black' ? 10_000 : 2_500;
  try {
    const { status, json } = await sampleGetJson(`${cfg.ratingsBaseUrl}/ratings/${encodeURIComponent(productId)}`, {
      headers, timeoutMs, proxy: cfg.proxy,
    });
    if (status !== 200 || typeof json !== 'object' || json === null) return undefined;
    const ratings = (json as { ratings?: unknown }).ratings;
    return typeof ratings === 'object' && ratings !== null ? ratings as Record<string, number> : undefined;
  } catch {
    return undefined;
  }
}

export function createReviewsServer(cfg: ReviewsConfig): http.Server {
  return http.createServer(safeHandler(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/health') return sendJson(res, 200, { status: 'Reviews is healthy' });
    const m = /^\/reviews\/([^/]*)$/.exec(path);
    if (!m) return sendJson(res, 404, { error: 'not found' });
    const productId = decodeURIComponent(m[1]);
    let ratings: Record<string, number> | undefined;
    if (cfg.ratingsEnabled) ratings = await fetchRatings(cfg, productId, forwardedHeaders(req.headers, true));
    const reviews = REVIEWS.map((r) => {
      if (!cfg.ratingsEnabled) return { ...r };
      const stars = ratings?.[r.reviewer];
      if (ratings === undefined) return { ...r, rating: { error: RATINGS_UNAVAILABLE } };
      return typeof stars === 'number' ? { ...r, rating: { stars, color: cfg.starColor } } : { ...r };
    });
    sendJson(res, 200, { id: productId, podname: cfg.podName, clustername: cfg.clusterName, reviews });
  }));
}
