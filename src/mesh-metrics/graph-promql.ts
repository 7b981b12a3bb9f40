/**
 * The traffic rows from a Prometheus server that scrapes the sidecars (Kiali's setup): the rates
 * of Istio's standard metrics over the window, grouped by the labels the graph reads, as Kiali's
 * graph queries group them.
 */
import { request } from 'undici';
import { TRAFFIC_LABELS, trafficKey, trafficLabels, type TrafficQuery, type TrafficRow } from './traffic-rows.js';

const BY = TRAFFIC_LABELS.join(',');

/** The PromQL for one window (`1m`, `5m`, `1h`). */
export function trafficQueries(window: string): Record<'requests' | 'buckets' | 'tcpOpened' | 'tcpSent' | 'tcpReceived', string> {
  return {
    requests: `sum(rate(istio_requests_total[${window}])) by (${BY})`,
    buckets: `sum(rate(istio_request_duration_milliseconds_bucket[${window}])) by (le,${BY})`,
    tcpOpened: `sum(rate(istio_tcp_connections_opened_total[${window}])) by (${BY})`,
    tcpSent: `sum(rate(istio_tcp_sent_bytes_total[${window}])) by (${BY})`,
    tcpReceived: `sum(rate(istio_tcp_received_bytes_total[${window}])) by (${BY})`,
  };
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

async function instantQuery(base: string, query: string, timeoutMs: number): Promise<VectorSample[]> {
  const url = new URL('api/v1/query', base.endsWith('/') ? base : `${base}/`);
  url.searchParams.set('query', query);
  const res = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const body = (await res.body.json()) as { status: string; error?: string; data?: { resultType: string; result: VectorSample[] } };
  if (res.statusCode !== 200 || body.status !== 'success') throw new Error(`${query}: ${body.error ?? `HTTP ${res.statusCode}`}`);
  if (body.data?.resultType !== 'vector') throw new Error(`${query}: expected a vector, got ${body.data?.resultType}`);
  return body.data.result;
}

export async function queryPrometheusTraffic(base: string, window: string, timeoutMs = 10_000): Promise<TrafficQuery> {
  const q = trafficQueries(window);
  const [requests, buckets, opened, sent, received] = await Promise.all([
    instantQuery(base, q.requests, timeoutMs),
    instantQuery(base, q.buckets, timeoutMs),
    instantQuery(base, q.tcpOpened, timeoutMs),
    instantQuery(base, q.tcpSent, timeoutMs),
    instantQuery(base, q.tcpReceived, timeoutMs),
  ]);
  const rows = new Map<string, TrafficRow>();
  const row = (kind: 'http' | 'tcp', metric: Record<string, string>): TrafficRow => {
    const labels = trafficLabels(metric);
    const key = trafficKey(kind, labels);
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { kind, labels, rate: 0, bytesRate: 0, buckets: [] }));
    return r;
  };
  const num = (s: VectorSample): number => {
    const v = Number(s.value[1]);
    return Number.isFinite(v) ? v : 0;
  };
  for (const s of requests) row('http', s.metric).rate += num(s);
  for (const s of buckets) {
    const le = s.metric.le === '+Inf' ? Infinity : Number(s.metric.le);
    if (!Number.isNaN(le)) row('http', s.metric).buckets.push([le, num(s)]);
  }
  for (const s of opened) row('tcp', s.metric).rate += num(s);
  for (const s of [...sent, ...received]) row('tcp', s.metric).bytesRate += num(s);
  const seconds = { '1m': 60, '5m': 300, '1h': 3600 }[window] ?? 60;
  return { rows: [...rows.values()].filter((r) => r.rate > 0 || r.bytesRate > 0), coveredSeconds: seconds, timestamp: Date.now() };
}
