/**
 * The xDS Node a Clew proxy sends, in Istio's shape, and its parsing on the control-plane side.
 * Shared by both sides so they cannot drift.
 *
 *   id:       `<type>~<ip>~<name>.<namespace>~<namespace>.svc.cluster.local`
 *             type is `sidecar` or `router` (gateway)
 *   metadata: NAME, NAMESPACE, LABELS (struct), SERVICE_ACCOUNT, INSTANCE_IPS ("ip1,ip2"),
 *             INTERCEPTION_MODE ("REDIRECT" with iptables, "NONE" for local mode: inbound
 *             listeners bind the workload's ports on its own address),
 *             POD_PORTS (JSON text: [{"name":"http","containerPort":9080,"protocol":"TCP"}]),
 *             CLEW_APP_PORTS (JSON text: {"9080":"127.0.1.2:41234"}: where inbound traffic for a
 *             workload port goes when the app does not listen on that port itself; default
 *             127.0.0.1:<port> in REDIRECT mode, <address>:<port> otherwise),
 *             ISTIO_VERSION, CLUSTER_ID ("Kubernetes"), CLEW_PROXY ("1" for Clew's own proxy),
 *             CLEW_STATS_PORT (where the proxy serves /stats/prometheus on its address, when not
 *             15090: Istio's prometheus.io/port annotation), CLEW_ADMIN_PORT (its admin port on
 *             its address, when not 15000), CLEW_ENDPOINT_PORTS (JSON text: {"9080":21007}: local
 *             mode with per-pod ports, the port the sidecar really serves a workload port on; EDS
 *             endpoints carry it instead of the workload port).
 */

export type ProxyType = 'sidecar' | 'router';

export interface PodPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface ProxyIdentity {
  type: ProxyType;
  name: string;
  namespace: string;
  address: string;
  labels: Record<string, string>;
  serviceAccount: string;
  interceptionMode: 'REDIRECT' | 'NONE' | 'TPROXY';
  podPorts: PodPort[];
  /** workload port -> "host:port" of the app */
  appPorts: Record<string, string>;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  /**
   * Set by the control plane, never read from the node: the client proved no identity and is
   * served as a proxyless client (no certificate of its own, so no auto mTLS).
   */
  anonymous?: boolean;
  /** the stats port (/stats/prometheus) on `address`; undefined: 15090 */
  statsPort?: number;
  /** the admin port on `address`; undefined: 15000 */
  adminPort?: number;
  /** workload port -> the port it is really served on at `address` (local mode, port addressing) */
  endpointPorts?: Record<string, number>;
}

export interface XdsNode {
  id: string;
  cluster?: string;
  metadata?: Record<string, unknown>;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  user_agent_name?: string;
  user_agent_version?: string;
}

export function nodeId(p: Pick<ProxyIdentity, 'type' | 'address' | 'name' | 'namespace'>): string {
  return `${p.type}~${p.address}~${p.name}.${p.namespace}~${p.namespace}.svc.cluster.local`;
}

/** the node's service cluster (Envoy's local cluster name: the rate limit source_cluster action) */
export function nodeCluster(p: Pick<ProxyIdentity, 'labels' | 'name'>): string {
  return p.labels.app ?? p.name;
}

export function buildNode(p: ProxyIdentity): XdsNode {
  return {
    id: nodeId(p),
    cluster: nodeCluster(p),
    locality: p.locality ?? {},
    user_agent_name: 'clew',
    metadata: {
      NAME: p.name,
      NAMESPACE: p.namespace,
      LABELS: p.labels,
      SERVICE_ACCOUNT: p.serviceAccount,
      INSTANCE_IPS: p.address,
      INTERCEPTION_MODE: p.interceptionMode,
      POD_PORTS: JSON.stringify(p.podPorts),
      CLEW_APP_PORTS: JSON.stringify(p.appPorts),
      ISTIO_VERSION: '1.24.0',
      CLUSTER_ID: 'Kubernetes',
      CLEW_PROXY: '1',
      ...(p.statsPort !== undefined ? { CLEW_STATS_PORT: String(p.statsPort) } : {}),
      ...(p.adminPort !== undefined ? { CLEW_ADMIN_PORT: String(p.adminPort) } : {}),
      ...(p.endpointPorts ? { CLEW_ENDPOINT_PORTS: JSON.stringify(p.endpointPorts) } : {}),
    },
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function parseJson<T>(v: unknown, fallback: T): T {
  if (typeof v !== 'string' || v === '') return fallback;
  try {
    return JSON.parse(v) as T;
  } catch {
    return fallback;
  }
}

/**
 * Reads a node sent by any xDS client (Clew proxy, Envoy, grpc-js-xds). Unknown shapes still give
 * an identity: a proxyless gRPC client with a bare id is a 'sidecar' in namespace 'default'.
 */
export function parseNode(node: XdsNode): ProxyIdentity {
  const md = (node.metadata ?? {}) as Record<string, unknown>;
  const parts = node.id.split('~');
  let type: ProxyType = 'sidecar';
  let address = '';
  let name = str(md.NAME) ?? node.id;
  let namespace = str(md.NAMESPACE) ?? 'default';
  if (parts.length === 4) {
    type = parts[0] === 'router' ? 'router' : 'sidecar';
    address = parts[1];
    const podDotNs = parts[2];
    const dot = podDotNs.lastIndexOf('.');
    if (!md.NAME) name = dot > 0 ? podDotNs.slice(0, dot) : podDotNs;
    if (!md.NAMESPACE && dot > 0) namespace = podDotNs.slice(dot + 1);
  }
  const ips = str(md.INSTANCE_IPS);
  if (ips) address = ips.split(',')[0];
  const labels = (md.LABELS && typeof md.LABELS === 'object' ? md.LABELS : {}) as Record<string, string>;
  const mode = str(md.INTERCEPTION_MODE);
  const statsPort = portOf(md.CLEW_STATS_PORT);
  const adminPort = portOf(md.CLEW_ADMIN_PORT);
  const endpointPorts = endpointPortsOf(md.CLEW_ENDPOINT_PORTS);
  return {
    type,
    name,
    namespace,
    address,
    labels,
    serviceAccount: str(md.SERVICE_ACCOUNT) ?? 'default',
    interceptionMode: mode === 'NONE' || mode === 'TPROXY' ? mode : 'REDIRECT',
    podPorts: parseJson<PodPort[]>(md.POD_PORTS, []),
    appPorts: parseJson<Record<string, string>>(md.CLEW_APP_PORTS, {}),
    locality: node.locality,
    ...(statsPort !== undefined ? { statsPort } : {}),
    ...(adminPort !== undefined ? { adminPort } : {}),
    ...(endpointPorts ? { endpointPorts } : {}),
  };
}

function portOf(v: unknown): number | undefined {
  const port = Number(str(v));
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

/** CLEW_ENDPOINT_PORTS: only whole port -> port pairs are kept (a bad entry never redirects traffic). */
function endpointPortsOf(v: unknown): Record<string, number> | undefined {
  const raw = parseJson<unknown>(v, undefined);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const out: Record<string, number> = {};
  for (const [k, to] of Object.entries(raw as Record<string, unknown>)) {
    const from = portOf(k);
    const real = typeof to === 'number' ? portOf(String(to)) : undefined;
    if (from !== undefined && real !== undefined) out[String(from)] = real;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
