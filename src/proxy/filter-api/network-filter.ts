/**
 * The network filter contract (Envoy's ReadFilter): a filter chain is `filters[] + terminal`.
 * When a connection is handed to its chain (after the listener filters and the TLS handshake),
 * each filter's onNewConnection runs in order: 'continue' goes on, 'stop' holds the connection
 * (nothing is read) until the filter calls cb.continueReading(), and cb.close() ends it (network
 * RBAC's deny: no reply, the connection is closed). Then the terminal (HttpConnectionManager or
 * TcpProxy) takes the connection. Filters are listed by type URL in network/network-registry.ts;
 * an unknown type is a NACK, never skipped.
 */
import type { Duplex } from 'node:stream';
import type { ConnectionContext } from '../core/connection-context.js';
import type { RequestObserver } from '../core/observer.js';
import type { ClusterResolver } from '../upstream/cluster-slot.js';
import type { TelemetryRuntime } from '../telemetry/telemetry-runtime.js';
import type { SharedFilterResources } from './http-filter.js';

export type NetworkFilterStatus = 'continue' | 'stop';

export interface NetworkFilterCallbacks {
  readonly conn: ConnectionContext;
  readonly socket: Duplex;
  /** resumes the chain after a filter answered 'stop' */
  continueReading(): void;
  /**
   * Ends the connection without a reply (a denial): `details` is the connection's
   * %CONNECTION_TERMINATION_DETAILS% (e.g. rbac_access_denied_matched_policy[ns[foo]-policy[deny]-rule[0]]).
   */
  close(details: string): void;
}

export interface NetworkFilter {
  onNewConnection(cb: NetworkFilterCallbacks): NetworkFilterStatus;
  /** the connection closed: cancel timers and calls */
  onDestroy?(): void;
}

export interface NetworkFilterConfig {
  readonly name: string;
  create(): NetworkFilter;
  /** only configures the terminal (istio.stats before tcp_proxy): no per-connection object */
  readonly completionOnly?: boolean;
}

/** The filter that owns the connection once the filters let it through. */
export interface NetworkTerminal {
  handleConnection(socket: Duplex, ctx: ConnectionContext): void;
  /**
   * A filter closed the connection before the terminal took it: record it as the terminal would
   * (the TCP proxy's access log and metrics carry the termination details).
   */
  onRejected?(ctx: ConnectionContext, details: string): void;
}

export interface NetworkParseContext {
  resolveCluster: ClusterResolver;
  observer: RequestObserver;
  telemetry?: TelemetryRuntime;
  shared: SharedFilterResources;
}

/** `C`: the parse context the registry hands over (the HCM's factory needs route providers too) */
export interface NetworkFilterFactory<C extends NetworkParseContext = NetworkParseContext> {
  readonly typeUrls: readonly string[];
  /** parses a non-terminal filter */
  parse?(config: Record<string, any>, name: string, ctx: C): NetworkFilterConfig;
  /**
   * parses a terminal filter (it must be the chain's last); `chainFilters` are the chain's raw
   * filters (the TCP proxy reads the istio.stats filter before it)
   */
  parseTerminal?(config: Record<string, any>, name: string, ctx: C, chainFilters: ReadonlyArray<Record<string, any>>): NetworkTerminal;
}
