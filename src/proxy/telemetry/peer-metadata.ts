/**
 * Istio's HTTP metadata exchange: each sidecar tells the other who it is, so both can label
 * metrics with the peer's workload.
 *
 *   x-envoy-peer-metadata:    base64 of a serialized google.protobuf.Struct with Istio's keys
 *                             (NAME, NAMESPACE, LABELS, WORKLOAD_NAME, CLUSTER_ID, SERVICE_ACCOUNT,
 *                             INSTANCE_IPS, MESH_ID)
 *   x-envoy-peer-metadata-id: the sender's xDS node id
 *
 * Who does what:
 * - client sidecar (outbound): adds both headers to the upstream request;
 * - server sidecar (inbound): reads them from the request (peer = source), strips them before
 *   the app sees the request, and adds its own pair to the response;
 * - client sidecar: reads the pair from the response (peer = destination) and strips it before
 *   the response goes back to the app.
 * Headers from outside the mesh are untrusted, but only label values depend on them.
 */
import { overflowCounter } from '../../stats/stats-overflow.js';
import type protobuf from 'protobufjs';
import { lookupType } from '../../xds/proto-root.js';
import { jsonToStruct, structToJson } from '../../xds/struct.js';
import { nodeId, type ProxyIdentity } from '../../xds/node-metadata.js';
import type { PeerInfo } from '../core/stream-info.js';
import {
  DEFAULT_CLUSTER_ID,
  DEFAULT_TRUST_DOMAIN,
  canonicalRevision,
  canonicalService,
  spiffePrincipal,
  workloadName,
} from './istio-identity.js';

export const PEER_METADATA_HEADER = 'x-envoy-peer-metadata';
export const PEER_METADATA_ID_HEADER = 'x-envoy-peer-metadata-id';

let structType: protobuf.Type | undefined;
function struct(): protobuf.Type {
  return (structType ??= lookupType('google.protobuf.Struct'));
}

export interface PeerMetadataOptions {
  clusterId?: string;
  meshId?: string;
  trustDomain?: string;
}

/** The header pair for a node. Computed once per identity; callers keep the result. */
export function encodePeerMetadata(id: ProxyIdentity, opts: PeerMetadataOptions = {}): Record<string, string> {
  const t = struct();
  const fields: Record<string, unknown> = {
    NAME: id.name,
    NAMESPACE: id.namespace,
    LABELS: id.labels,
    WORKLOAD_NAME: workloadName(id),
    CLUSTER_ID: opts.clusterId ?? DEFAULT_CLUSTER_ID,
    SERVICE_ACCOUNT: id.serviceAccount || 'default',
    MESH_ID: opts.meshId ?? opts.trustDomain ?? DEFAULT_TRUST_DOMAIN,
  };
  if (id.address) fields.INSTANCE_IPS = id.address;
  const bytes = t.encode(t.fromObject(jsonToStruct(fields))).finish();
  return {
    [PEER_METADATA_HEADER]: Buffer.from(bytes).toString('base64'),
    [PEER_METADATA_ID_HEADER]: nodeId(id),
  };
}

/** Raw key/value view of a header value; undefined when it is not a valid Struct. */
export function decodePeerMetadataStruct(header: string): Record<string, unknown> | undefined {
  try {
    const t = struct();
    const msg = t.decode(Buffer.from(header, 'base64'));
    return structToJson(t.toObject(msg, { defaults: false }));
  } catch {
    return undefined;
  }
}

function s(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Struct fields -> PeerInfo (the principal is the one the peer's certificate would carry). */
export function peerInfoFromStruct(md: Record<string, unknown>, trustDomain = DEFAULT_TRUST_DOMAIN): PeerInfo | undefined {
  const name = s(md.NAME);
  const workload = s(md.WORKLOAD_NAME) ?? name;
  const namespace = s(md.NAMESPACE);
  if (!workload || !namespace) return undefined;
  const raw = md.LABELS && typeof md.LABELS === 'object' ? (md.LABELS as Record<string, unknown>) : {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') labels[k] = v;
  const sa = s(md.SERVICE_ACCOUNT);
  return {
    workload,
    namespace,
    app: labels.app,
    version: labels.version,
    canonicalService: canonicalService(labels, workload),
    canonicalRevision: canonicalRevision(labels),
    principal: sa ? spiffePrincipal(namespace, sa, trustDomain) : undefined,
    cluster: s(md.CLUSTER_ID),
  };
}

/**
 * Decodes `x-envoy-peer-metadata` into a PeerInfo. Results are cached by header value, so the
 * same peer always yields the same (frozen) object: metrics use it as a cache key.
 */
const PEER_CACHE_OVERFLOW = overflowCounter('peer_metadata_cache');

export class PeerMetadataDecoder {
  private readonly cache = new Map<string, PeerInfo | null>();
  constructor(
    private readonly trustDomain = DEFAULT_TRUST_DOMAIN,
    private readonly maxEntries = 1000,
  ) {}

  decode(header: string | string[] | undefined): PeerInfo | undefined {
    const h = Array.isArray(header) ? header[0] : header;
    if (!h) return undefined;
    const hit = this.cache.get(h);
    if (hit !== undefined) return hit ?? undefined;
    const md = decodePeerMetadataStruct(h);
    const info = md ? peerInfoFromStruct(md, this.trustDomain) : undefined;
    if (this.cache.size >= this.maxEntries) {
      PEER_CACHE_OVERFLOW.inc();
      this.cache.clear();
    }
    this.cache.set(h, info ? Object.freeze(info) : null);
    return info;
  }

  /** Reads the peer from a header object and removes both headers from it. */
  takeFrom(headers: Record<string, string | string[] | undefined>): PeerInfo | undefined {
    const info = this.decode(headers[PEER_METADATA_HEADER]);
    // undefined rather than delete: the header object keeps its fast shape (codecs skip undefined)
    if (headers[PEER_METADATA_HEADER] !== undefined) headers[PEER_METADATA_HEADER] = undefined;
    if (headers[PEER_METADATA_ID_HEADER] !== undefined) headers[PEER_METADATA_ID_HEADER] = undefined;
    return info;
  }
}

/** Removes both metadata-exchange headers (e.g. before a request leaves the mesh). */
export function stripPeerMetadata(headers: Record<string, unknown>): void {
  delete headers[PEER_METADATA_HEADER];
  delete headers[PEER_METADATA_ID_HEADER];
}
