/**
 * One upstream endpoint. `healthy` comes from EDS health_status (and later active health
 * checks); `ejected` is reserved for outlier detection. Load balancers see only available hosts.
 */
export class Host {
  readonly key: string;
  healthy = true;
  /** set by outlier detection (extension point) */
  ejected = false;
  rqActive = 0;
  rqSuccess = 0;
  rqError = 0;
  rqTotal = 0;
  cxActive = 0;

  constructor(
    readonly address: string,
    readonly port: number,
    readonly weight = 1,
    readonly priority = 0,
    readonly locality = '',
    readonly localityWeight = 0,
  ) {
    this.key = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  }

  get available(): boolean {
    return this.healthy && !this.ejected;
  }
}

/** Outcome of one upstream attempt, for outlier detection and other observers. */
export type RequestResult = 'success' | 'error_response' | 'connect_failure' | 'reset' | 'timeout';

/** Extension point: outlier detection / passive health implement this and are attached to a cluster. */
export interface HostResultObserver {
  onResult(host: Host, result: RequestResult, status?: number): void;
}

/** Extension point: active health checking flips Host.healthy and calls cluster.refreshHosts(). */
export interface HostHealthSource {
  start(hosts: readonly Host[], onChange: () => void): void;
  stop(): void;
}
