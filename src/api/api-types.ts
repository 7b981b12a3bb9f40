/**
 * Response shapes of the control plane's HTTP API, shared by the server (src/control-plane/api),
 * the CLI, the dashboard (bundled for the browser) and scripts. Bottom module: type-only imports.
 */
import type { ConfigResource } from '../config/types.js';
import type { ValidationMessage } from '../config/messages.js';

/** Every error answer: `{error, code?}` (plus what the endpoint adds). */
export interface ApiError {
  error: string;
  code?: string;
}

// ---------------------------------------------------------------- xDS state

export type SyncState = 'SYNCED' | 'NOT SENT' | 'STALE' | 'NACK';

/** `/debug/proxy_status`: one row per connected proxy (istioctl proxy-status). */
export interface ProxyStatusRow {
  /** `name.namespace` from the node id */
  name: string;
  nodeId: string;
  /** `sidecar` or `router` */
  type: string;
  connectedAt: string;
  CDS: SyncState;
  LDS: SyncState;
  EDS: SyncState;
  RDS: SyncState;
  nacks: { type: string; message: string }[];
}

/** `/debug/syncz`: the ADS server's per-stream, per-type progress. */
export interface SynczEntry {
  proxy: string;
  peer: string;
  delta: boolean;
  connected_at: string;
  types: SynczType[];
}

export interface SynczType {
  /** CDS, LDS, ... (the type URL when it has no short name) */
  type: string;
  typeUrl: string;
  subscribed: string[] | '*';
  sentVersion?: string;
  sentNonce?: string;
  sentAt?: number;
  ackedVersion?: string;
  ackedNonce?: string;
  ackedAt?: number;
  nack?: { version: string; nonce: string; message: string; at: number };
  resourceCount: number;
}

/** `/debug/config_dump?proxyID=`: Envoy's /config_dump shape for what the control plane serves the proxy. */
export interface ConfigDumpResponse {
  node: unknown;
  configs: Array<{ '@type': string; [k: string]: unknown }>;
}

// ---------------------------------------------------------------- registry

export interface RegistryPort {
  name: string;
  port: number;
  targetPort: number | string;
  protocol: string;
  sniffed?: boolean;
}

export interface RegistryEndpoint {
  address: string;
  port: number;
  labels: Record<string, string>;
  workloadName?: string;
  namespace?: string;
  serviceAccount?: string;
  locality?: string;
  weight?: number;
  healthy: boolean;
  servicePort?: number;
}

/** `/debug/registryz`: a service and its endpoints per service port. */
export interface RegistryzEntry {
  hostname: string;
  name: string;
  namespace: string;
  ports: RegistryPort[];
  selector?: Record<string, string>;
  resolution: string;
  location: string;
  addresses: string[];
  origin: string;
  /** service port (as a string) -> endpoints */
  endpoints: Record<string, RegistryEndpoint[]>;
}

// ---------------------------------------------------------------- config

/** A validation message with its one-line text (`file:line: Kind ns/name: field: message`). */
export type ApiMessage = ValidationMessage & { text: string };

/** `/debug/configz`: the store's resources and the hand-edited files it refused. */
export interface ConfigzResponse {
  revision: number;
  resources: Array<ConfigResource & { key: string }>;
  rejected: Array<{ file: string; messages: string[] }>;
}

/** `GET /apis/v1/resources?kind=&namespace=&name=` */
export interface ResourcesResponse {
  items: ConfigResource[];
}

export interface ApplyResultRow {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  action: 'created' | 'configured' | 'unchanged' | 'deleted' | 'not found';
}

/** `POST /apis/v1/apply`, `POST /apis/v1/delete`, `DELETE /apis/v1/resources/...` (200) */
export interface ApplyResponse {
  results: ApplyResultRow[];
  warnings?: ApiMessage[];
  ignored?: Array<{ file: string; line: number; apiVersion: string; kind: string; name: string; text: string }>;
}

/** An apply or delete refused by validation (422): nothing changed. */
export interface ApplyRejected extends ApiError {
  messages: ApiMessage[];
}
