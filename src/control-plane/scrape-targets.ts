/** Where each connected proxy serves its Istio metrics: `http://<address>:<CLEW_STATS_PORT|15090>/stats/prometheus`. */
import type { ScrapeTarget } from '../mesh-metrics/metrics-scraper.js';
import { parseNode } from '../xds/node-metadata.js';
import type { StreamStatus } from '../xds-server/index.js';

export function scrapeTargets(streams: readonly StreamStatus[]): ScrapeTarget[] {
  const seen = new Map<string, ScrapeTarget>();
  for (const s of streams) {
    const node = s.stream.node;
    if (!node || seen.has(node.id)) continue;
    const id = parseNode(node);
    // a proxyless gRPC client (a bare node id) has no address and no stats port
    if (!id.address || node.id.split('~').length !== 4) continue;
    const host = id.address.includes(':') ? `[${id.address}]` : id.address;
    seen.set(node.id, { id: node.id, url: `http://${host}:${id.statsPort ?? 15090}/stats/prometheus` });
  }
  return [...seen.values()];
}
