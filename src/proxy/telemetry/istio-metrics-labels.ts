/**
 * The label set of Istio's standard metrics, computed from the local proxy (as a PeerInfo),
 * the peer and the facts of one stream. Pure; the caller caches the result (istio-metrics.ts).
 */
import type { PeerInfo, StreamInfo } from '../core/stream-info.js';
import { UNKNOWN } from './istio-identity.js';

export type Reporter = 'source' | 'destination';

/** Istio's label order for HTTP/gRPC metrics. */
export const HTTP_LABEL_NAMES = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

/** TCP metrics carry the same labels minus response_code and grpc_response_status. */
export const TCP_LABEL_NAMES = HTTP_LABEL_NAMES.filter((n) => n !== 'response_code' && n !== 'grpc_response_status');

export interface LabelInputs {
  reporter: Reporter;
  local: PeerInfo;
  peer: PeerInfo | undefined;
  /** destination service FQDN (or host), '' when unknown */
  destinationService: string;
  protocol: 'http' | 'grpc' | 'tcp';
  /** undefined for TCP */
  responseCode?: number;
  /** undefined when not gRPC */
  grpcStatus?: number;
  isGrpc?: boolean;
  responseFlags: string;
  mtls: boolean;
}

export interface TagOverride {
  /** UPSERT (default) sets `value` (or what `expr` gives for the stream); REMOVE drops the label */
  operation?: 'UPSERT' | 'REMOVE';
  value?: string;
  /** a per-stream value (an attribute expression of the stats filter); part of the series key */
  expr?: (info: StreamInfo) => string;
  /** the expression's source text (config identity) */
  expression?: string;
}

/** metric name (e.g. `istio_requests_total`, or `*` for all) -> label -> override */
export type TagOverrides = Record<string, Record<string, TagOverride>>;

function orUnknown(v: string | undefined): string {
  return v ? v : UNKNOWN;
}

/** `<name>.<ns>.svc.<domain>` -> [name, ns]; any other host -> [host, unknown] */
export function splitServiceHost(host: string): [string, string] {
  if (!host) return [UNKNOWN, UNKNOWN];
  const parts = host.split('.');
  if (parts.length >= 3 && parts[2] === 'svc') return [parts[0], parts[1]];
  return [host, UNKNOWN];
}

function workloadLabels(prefix: 'source' | 'destination', p: PeerInfo | undefined, mtls: boolean, out: Record<string, string>): void {
  out[`${prefix}_workload`] = orUnknown(p?.workload);
  out[`${prefix}_canonical_service`] = orUnknown(p?.canonicalService ?? p?.app ?? p?.workload);
  out[`${prefix}_canonical_revision`] = p ? p.canonicalRevision || p.version || 'latest' : UNKNOWN;
  out[`${prefix}_workload_namespace`] = orUnknown(p?.namespace);
  // the principal comes from the peer certificate: without mTLS nobody proved it
  out[`${prefix}_principal`] = mtls ? orUnknown(p?.principal) : UNKNOWN;
  out[`${prefix}_app`] = orUnknown(p?.app);
  out[`${prefix}_version`] = orUnknown(p?.version);
  out[`${prefix}_cluster`] = orUnknown(p?.cluster);
}

/** All labels of one series, in Istio's order. */
export function buildLabels(inp: LabelInputs): Record<string, string> {
  const src = inp.reporter === 'source' ? inp.local : inp.peer;
  const dst = inp.reporter === 'source' ? inp.peer : inp.local;
  const all: Record<string, string> = {};
  workloadLabels('source', src, inp.mtls, all);
  workloadLabels('destination', dst, inp.mtls, all);
  const [svcName, svcNs] = splitServiceHost(inp.destinationService);
  const out: Record<string, string> = {};
  for (const name of inp.protocol === 'tcp' ? TCP_LABEL_NAMES : HTTP_LABEL_NAMES) {
    switch (name) {
      case 'reporter':
        out[name] = inp.reporter;
        break;
      case 'destination_service':
        out[name] = orUnknown(inp.destinationService);
        break;
      case 'destination_service_name':
        out[name] = svcName;
        break;
      case 'destination_service_namespace':
        out[name] = svcNs !== UNKNOWN ? svcNs : inp.reporter === 'destination' ? orUnknown(inp.local.namespace) : UNKNOWN;
        break;
      case 'request_protocol':
        out[name] = inp.protocol;
        break;
      case 'response_code':
        out[name] = String(inp.responseCode ?? 0);
        break;
      case 'grpc_response_status':
        // Istio leaves it empty for plain HTTP; a gRPC call without a status is `unknown`
        out[name] = inp.isGrpc ? (inp.grpcStatus === undefined ? UNKNOWN : String(inp.grpcStatus)) : '';
        break;
      case 'response_flags':
        out[name] = inp.responseFlags;
        break;
      case 'connection_security_policy':
        // the client side cannot know what the server enforced
        out[name] = inp.reporter === 'source' ? UNKNOWN : inp.mtls ? 'mutual_tls' : 'none';
        break;
      default:
        out[name] = all[name];
    }
  }
  return out;
}

/**
 * Applies the Telemetry API's tag overrides for one metric (copy, caller's object kept);
 * expression overrides are evaluated on `info`.
 */
export function applyOverrides(
  metric: string,
  labels: Record<string, string>,
  overrides: TagOverrides | undefined,
  info?: StreamInfo,
): Record<string, string> {
  if (!overrides) return labels;
  const specific = overrides[metric];
  const all = overrides['*'];
  if (!specific && !all) return labels;
  const out = { ...labels };
  for (const ov of [all, specific]) {
    if (!ov) continue;
    for (const [k, o] of Object.entries(ov)) {
      if (o.operation === 'REMOVE') delete out[k];
      else out[k] = o.expr && info ? o.expr(info) : (o.value ?? UNKNOWN);
    }
  }
  return out;
}
