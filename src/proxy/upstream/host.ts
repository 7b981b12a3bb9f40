/**
 * One upstream endpoint and its health flags, Envoy's: EDS health status, active health checking
 * (failed / pending / timeout) and outlier detection (ejected). Load balancers see only available
 * hosts (unless the priority is in panic).
 */

import { RAW_BUFFER } from '../transport/raw-buffer.js';
import type { UpstreamTransport } from '../core/transport-socket.js';

/** EDS health_status (envoy.config.core.v3.HealthStatus). */
export type EdsHealth = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

export class Host {
  readonly key: string;
  /** the pool's key: the address, plus the transport_socket_matches entry when one chose the transport */
  readonly poolKey: string;
  /** the transport socket its connections are opened with (chosen once, when the host is made) */
  readonly transport: UpstreamTransport;
  /** the transport_socket_matches entry that chose it ('' = the cluster's transport_socket) */
  readonly transportMatch: string;
  /** the endpoint's `envoy.transport_socket_match` metadata it was chosen by */
  transportMetadata: Record<string, unknown> | undefined = undefined;
  /** EDS health_status: HEALTHY, UNKNOWN and DEGRADED are used; UNHEALTHY, DRAINING, TIMEOUT are not */
  edsHealth: EdsHealth = 'UNKNOWN';
  /** FAILED_ACTIVE_HC: active health checking says unhealthy (new hosts start so until their first check) */
  failedActiveHc = false;
  /** PENDING_ACTIVE_HC: not health checked yet */
  pendingActiveHc = false;
  /** ACTIVE_HC_TIMEOUT: the last failed check timed out */
  activeHcTimeout = false;
  /** FAILED_OUTLIER_CHECK: ejected by outlier detection */
  ejected = false;
  rqActive = 0;
  rqSuccess = 0;
  rqError = 0;
  rqTotal = 0;
  rqTimeout = 0;
  cxActive = 0;
  cxTotal = 0;
  cxConnectFail = 0;

  constructor(
    readonly address: string,
    readonly port: number,
    readonly weight = 1,
    readonly priority = 0,
    readonly locality = '',
    readonly localityWeight = 0,
    transport: { transport: UpstreamTransport; matchName: string } = { transport: RAW_BUFFER, matchName: '' },
  ) {
    this.key = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    this.transport = transport.transport;
    this.transportMatch = transport.matchName;
    this.poolKey = transport.matchName === '' ? this.key : `${this.key}|${transport.matchName}`;
  }

  /** EDS says the host may take traffic (HEALTHY, UNKNOWN, DEGRADED). */
  get healthy(): boolean {
    const s = this.edsHealth;
    return s === 'UNKNOWN' || s === 'HEALTHY' || s === 'DEGRADED';
  }

  /** Shorthand for tests and static config: true = HEALTHY, false = UNHEALTHY. */
  set healthy(v: boolean) {
    this.edsHealth = v ? 'HEALTHY' : 'UNHEALTHY';
  }

  /** Healthy for load balancing: EDS, active health checking and outlier detection all agree. */
  get available(): boolean {
    return this.healthy && !this.failedActiveHc && !this.ejected;
  }

  /** Envoy's /clusters health_flags: `healthy` or the set flags in Envoy's order. */
  healthFlags(): string {
    let s = '';
    if (this.failedActiveHc) s += '/failed_active_hc';
    if (this.ejected) s += '/failed_outlier_check';
    const eds = this.edsHealth;
    if (eds === 'UNHEALTHY' || eds === 'TIMEOUT') s += '/failed_eds_health';
    if (eds === 'DEGRADED') s += '/degraded_eds_health';
    if (this.pendingActiveHc) s += '/pending_active_hc';
    if (this.activeHcTimeout) s += '/active_hc_timeout';
    if (eds === 'DRAINING') s += '/eds_status_draining';
    return s || 'healthy';
  }
}

/**
 * Outcome of one upstream attempt, Envoy's Outlier::Result plus HTTP codes:
 * - 'response': the upstream answered with `status` (connection worked)
 * - 'connect_failure', 'reset': local-origin failures (Envoy reports every upstream reset as
 *   LOCAL_ORIGIN_CONNECT_FAILED, i.e. 503 unless split_external_local_origin_errors)
 * - 'timeout': local-origin timeout (504 unless split)
 * - 'connect_success': the connection was established, a response is still to come (split mode
 *   resets the local-origin count)
 * - 'connect_success_final': the connection is all there is (TcpProxy): counts as a 200 too
 */
export type RequestResult = 'response' | 'connect_failure' | 'reset' | 'timeout' | 'connect_success' | 'connect_success_final';

/** Extension point: outlier detection / passive health implement this and are attached to a cluster. */
export interface HostResultObserver {
  onResult(host: Host, result: RequestResult, status?: number): void;
}

/** Extension point: active health checking flips Host.failedActiveHc and calls cluster.refreshHosts(). */
export interface HostHealthSource {
  start(hosts: readonly Host[], onChange: () => void): void;
  stop(): void;
}
