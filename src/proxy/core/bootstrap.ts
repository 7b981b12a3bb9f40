/** Proxy options (flags) -> ProxyIdentity and defaults. */
import type { PodPort, ProxyIdentity, ProxyType } from '../../xds/node-metadata.js';
import type { DestinationResolver } from './destination.js';
import type { RequestObserver } from './observer.js';

export interface ProxyOptions {
  /** control plane host:port */
  xdsAddress: string;
  /** NAME.NAMESPACE */
  id: string;
  type?: ProxyType;
  labels?: Record<string, string>;
  serviceAccount?: string;
  /** the workload's address (local mode: its own loopback address) */
  address?: string;
  /** workload ports */
  ports?: number[];
  /** workload port -> host:port of the app */
  appPorts?: Record<string, string>;
  /** NONE (local mode), REDIRECT or TPROXY (transparent capture: iptables in the pod's namespace) */
  interceptionMode?: 'NONE' | 'REDIRECT' | 'TPROXY';
  outboundPort?: number;
  /** listener port -> port actually bound (e.g. 80 -> 8080 without root) */
  remapPorts?: Record<number, number>;
  inboundPort?: number;
  adminPort?: number;
  /** where the admin port listens (default: the workload address; Istio under capture: 127.0.0.1) */
  adminAddress?: string;
  /** run the DNS proxy (istio-agent's ISTIO_META_DNS_CAPTURE) on 127.0.0.1:dnsPort */
  dnsCapture?: boolean;
  /** default 15053 */
  dnsPort?: number;
  /** the DNS proxy's upstream resolvers (default: resolv.conf's name servers) */
  dnsUpstreams?: string[];
  /** resolv.conf to read search domains and name servers from (default /etc/resolv.conf) */
  resolvConf?: string;
  statsPort?: number;
  readyPort?: number;
  /** the status port (istio-agent's 15020) for the app's rewritten probes, served only with appProbers */
  statusPort?: number;
  /** ISTIO_KUBE_APP_PROBERS, parsed (src/proxy/admin/app-probes.ts) */
  appProbers?: Map<string, import('../admin/app-probes.js').AppProber>;
  concurrency?: number;
  logLevel?: LogLevel;
  /** telemetry hook; defaults to a no-op */
  observer?: RequestObserver;
  /** connection destination source; defaults to request-based (local mode) */
  resolver?: DestinationResolver;
  /**
   * Envoy's --drain-time-s: how long a replaced listener's connections may live on, and the
   * drain period of a whole-proxy drain (SIGTERM, hot restart) before listeners close (ms)
   */
  drainTimeMs?: number;
  /** Envoy's --parent-shutdown-time-s: a whole-proxy drain ends by then, whatever is left (ms, default 60000) */
  parentShutdownMs?: number;
  /**
   * the global downstream connection limit (Envoy's overload manager downstream_connections):
   * 0 = none; default: the open-files limit less a reserve (listener/connection-budget.ts)
   */
  maxDownstreamConnections?: number;
  /**
   * a graceful drain is over once no downstream connection was open, opened or closed for this
   * long; a draining HTTP/1.1 connection idle this long is closed (ms, default 1000)
   */
  drainQuietMs?: number;
  /** hot restart generation of this process (0 for the first), shown in /server_info */
  restartEpoch?: number;
  /**
   * hot restart child: connections and admin requests that arrive before the proxy is ready wait
   * for it (it shares its listening sockets with the process it replaces)
   */
  holdUntilReady?: boolean;
  /** xDS reconnect backoff base (ms) */
  xdsBackoffBaseMs?: number;
  /** xDS reconnect backoff ceiling (ms) */
  xdsBackoffMaxMs?: number;
  /** Envoy's initial_fetch_timeout for EDS/RDS before readiness stops waiting (ms, default 15000) */
  initialFetchTimeoutMs?: number;
  /**
   * The certificate service (Istio's CreateCertificate, TLS): host:port; default the xDS host at
   * port 15012. Used only when a TLS context asks for the workload certificate (SDS `default`).
   */
  caAddress?: string;
  /** PEM file of the control plane's root: verifies the CA (and ADS over TLS); also trusted for peers */
  rootCertFile?: string;
  /** the workload token file, read at each use (`authorization: Bearer` on the CSR and on ADS) */
  tokenFile?: string;
  /** ADS over TLS (the control plane's secure port); default: when the xDS port is 15012 */
  xdsTls?: boolean;
  /** requested workload certificate lifetime (s); Istio's agent asks for 24h */
  workloadCertTtlS?: number;
  /** workload key type: RSA 2048 (default) or ECDSA P-256 */
  keyAlgorithm?: 'rsa' | 'ecdsa';
  /** SPIFFE trust domain of the identity put in the CSR (the CA decides the real one) */
  trustDomain?: string;
  /** called after POST /quitquitquit has closed the proxy (the CLI exits the process) */
  onQuit?: () => void;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'off';

export function identityFromOptions(o: ProxyOptions): ProxyIdentity {
  const dot = o.id.lastIndexOf('.');
  const name = dot > 0 ? o.id.slice(0, dot) : o.id;
  const namespace = dot > 0 ? o.id.slice(dot + 1) : 'default';
  const address = o.address ?? '127.0.0.1';
  const podPorts: PodPort[] = (o.ports ?? []).map((p) => ({ containerPort: p, protocol: 'TCP' }));
  return {
    type: o.type ?? 'sidecar',
    name,
    namespace,
    address,
    labels: o.labels ?? {},
    serviceAccount: o.serviceAccount ?? 'default',
    interceptionMode: o.interceptionMode ?? 'NONE',
    podPorts,
    appPorts: o.appPorts ?? {},
    ...(o.statsPort && o.statsPort !== 15090 ? { statsPort: o.statsPort } : {}),
    ...(o.adminPort && o.adminPort !== 15000 ? { adminPort: o.adminPort } : {}),
    ...endpointPortsOf(o),
  };
}

/**
 * Local mode (NONE) on a shared address: a workload port bound elsewhere with `--remap-port` is
 * reached there, and its EDS endpoints must say so.
 */
function endpointPortsOf(o: ProxyOptions): { endpointPorts?: Record<string, number> } {
  if ((o.interceptionMode ?? 'NONE') !== 'NONE' || !o.remapPorts) return {};
  const out: Record<string, number> = {};
  for (const p of o.ports ?? []) {
    const to = o.remapPorts[p];
    if (to !== undefined && to !== p) out[String(p)] = to;
  }
  return Object.keys(out).length > 0 ? { endpointPorts: out } : {};
}

/** "k=v,k2=v2" -> record */
