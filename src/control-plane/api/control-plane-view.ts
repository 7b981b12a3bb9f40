/**
 * What the HTTP API may see and do of the control plane: a read-only view for every GET endpoint
 * and a narrow write interface for the endpoints behind `authorizeWrite` (api-auth.ts). The API
 * modules depend on these interfaces, not on the ControlPlane object (as the proxy's admin
 * endpoints depend on AdminBackend).
 */
import type { ConfigResource, MeshConfig, ValidationMessage, IgnoredResource } from '../../config/index.js';
import type { MeshService, ServiceInstance, Workload } from '../../registry/types.js';
import type { StreamStatus } from '../../xds-server/index.js';
import type { ApplyResult } from '../config-store.js';
import type { ScrapeStatus } from '../../api/api-types.js';
import type { TrafficQuery } from '../../mesh-metrics/traffic-rows.js';
import type { TraceSpan } from '../../api/api-types.js';
import type { TraceStore } from '../traces/trace-store.js';

export interface ControlPlaneView {
  isReady(): boolean;
  /** Prometheus text of the control plane's own metrics */
  metricsText(): string;
  /** ADS streams with their per-type progress */
  streams(): StreamStatus[];
  /** Envoy's /config_dump of what the control plane generates for the stream's proxy */
  configDump(stream: StreamStatus): unknown;
  meshConfig(): MeshConfig;
  services(): MeshService[];
  instances(hostname: string, port: number): ServiceInstance[];
  workloads(): Workload[];
  /** cluster id of the registry that defines the host (the aggregate's first match) */
  clusterOf(hostname: string): string | undefined;
  configRevision(): number;
  /** every resource the push context sees: the store plus read-only sources (Kubernetes CRDs) */
  configResources(): ConfigResource[];
  listResources(kind?: string, namespace?: string, name?: string): ConfigResource[];
  /** hand-edited files that failed validation (the last good version stays in force) */
  rejectedFiles(): { file: string; messages: ValidationMessage[] }[];
  /** warnings that need the mesh config (Telemetry providers), for these resource keys or all */
  meshWarnings(keys?: Set<string>): ValidationMessage[];
  /** the CA's root certificate, PEM (public by nature) */
  rootCertPem(): string;
  /** the sidecars' Istio metrics over the last `windowMs` (the control plane's scrape window) */
  traffic(windowMs: number): TrafficQuery;
  /** the scraper's state; undefined when scraping is off */
  scrapeStatus(): ScrapeStatus | undefined;
}

/**
 * The span receiver (api-traces.ts): the one write open to unauthenticated reporters (spans,
 * `POST /api/v2/spans`) and the reads over what it holds.
 */
export interface ControlPlaneTraces {
  receiveSpans(spans: TraceSpan[], truncatedFields: number): void;
  /** counts a refused span POST */
  spansRefused(): void;
  maxSpanBodyBytes(): number;
  /** the store's read side */
  reader(): Pick<TraceStore, 'services' | 'tracesOf' | 'trace'>;
}

/** The writes of the API; every caller has passed `authorizeWrite`. */
export interface ControlPlaneWrites {
  applyText(text: string, file: string): Promise<{ results: ApplyResult[]; ignored: IgnoredResource[] }>;
  deleteText(text: string, file: string): Promise<ApplyResult[]>;
  deleteKeys(items: { key: string; kind: string; namespace: string; name: string }[]): Promise<ApplyResult[]>;
  /** counts a refused apply (`source` label of the rejected-config metric) */
  configRejected(source: 'api'): void;
  /** mints a workload token (the credential contract); throws SecurityError INVALID_REQUEST on a bad request */
  mintToken(body: unknown): Promise<{ token: string; expiresAt: number }>;
}
