/**
 * request_mirror_policies: fire-and-forget shadow copy to another cluster with the authority
 * suffixed `-shadow`; its response is drained and ignored and it never delays the main request.
 */
import type { Readable } from 'node:stream';
import type { HttpFilterCallbacks } from '../../filter-api/http-filter.js';
import type { ClusterSlot } from '../../upstream/cluster-slot.js';
import type { OutHeaders } from '../../core/pool.js';

export function sendMirror(slot: ClusterSlot, s: HttpFilterCallbacks, headers: OutHeaders, path: string, body: Buffer | Readable | null): void {
  const cluster = slot.cluster;
  if (!cluster) return;
  // A streamed body cannot be shared; mirror only what is buffered (or nothing).
  if (body !== null && !Buffer.isBuffer(body)) return;
  const host = cluster.chooseHost(undefined);
  if (!host) return;
  const host0 = String(headers.host ?? s.authority);
  const colon = host0.lastIndexOf(':');
  const shadow = colon > 0 && !host0.endsWith(']') ? `${host0.slice(0, colon)}-shadow${host0.slice(colon)}` : `${host0}-shadow`;
  const h: OutHeaders = { ...headers, host: shadow };
  cluster.stats.upstream_rq_total.inc();
  setImmediate(() => {
    cluster.pool(host).send({ method: s.method, path, authority: shadow, headers: h, body }, {
      onHeaders: (status) => cluster.stats.response(status),
      onData: () => true,
      onEnd: () => undefined,
      onError: () => undefined,
    });
  });
}
