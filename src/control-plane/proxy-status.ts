/** istioctl's proxy-status view of the ADS server's per-stream state. */
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../xds/type-urls.js';
import { parseNode } from '../xds/node-metadata.js';
import type { StreamStatus, TypeStatus } from '../xds-server/index.js';

import type { ProxyStatusRow, SyncState } from '../api/api-types.js';

export type { ProxyStatusRow, SyncState };

export function syncState(t: TypeStatus | undefined): SyncState {
  if (!t || !t.sentNonce) return 'NOT SENT';
  if (t.nack && t.nack.nonce === t.sentNonce) return 'NACK';
  if (t.ackedNonce === t.sentNonce) return 'SYNCED';
  return 'STALE';
}

const TYPES: [keyof Pick<ProxyStatusRow, 'CDS' | 'LDS' | 'EDS' | 'RDS'>, string][] = [
  ['CDS', CLUSTER_TYPE],
  ['LDS', LISTENER_TYPE],
  ['EDS', ENDPOINT_TYPE],
  ['RDS', ROUTE_TYPE],
];

/** `name.namespace` from a node id `sidecar~ip~name.ns~ns.svc.cluster.local`, else the id itself. */
export function proxyName(nodeId: string): string {
  const parts = nodeId.split('~');
  return parts.length === 4 ? parts[2] : nodeId;
}

function adminPortOf(s: StreamStatus): { adminPort?: number } {
  const port = s.stream.node ? parseNode(s.stream.node).adminPort : undefined;
  return port !== undefined ? { adminPort: port } : {};
}

export function proxyStatusRows(streams: StreamStatus[]): ProxyStatusRow[] {
  const rows: ProxyStatusRow[] = [];
  for (const s of streams) {
    const nodeId = s.stream.node?.id ?? `stream-${s.stream.id}`;
    const byType = new Map(s.types.map((t) => [t.typeUrl, t]));
    const row: ProxyStatusRow = {
      name: proxyName(nodeId),
      nodeId,
      type: nodeId.split('~')[0] || 'sidecar',
      ...adminPortOf(s),
      connectedAt: new Date(s.stream.connectedAt).toISOString(),
      CDS: 'NOT SENT',
      LDS: 'NOT SENT',
      EDS: 'NOT SENT',
      RDS: 'NOT SENT',
      nacks: [],
    };
    for (const [short, url] of TYPES) {
      const t = byType.get(url);
      row[short] = syncState(t);
      if (row[short] === 'NACK' && t?.nack) row.nacks.push({ type: short, message: t.nack.message });
    }
    rows.push(row);
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** Finds a stream by node id, `name.namespace` or bare name. */
export function findStream(streams: StreamStatus[], proxyId: string): StreamStatus | undefined {
  const exact = streams.find((s) => s.stream.node?.id === proxyId);
  if (exact) return exact;
  return streams.find((s) => {
    const n = proxyName(s.stream.node?.id ?? '');
    return n === proxyId || n.split('.')[0] === proxyId || n === `${proxyId}.default`;
  });
}
