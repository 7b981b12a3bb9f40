/**
 * The service registry seen by the control plane: platform-neutral services and the workloads
 * behind them. The embedded local registry implements it now; a Kubernetes adapter implements
 * the same interface next (Pilot's "platform adapter" layer).
 */

/** Istio protocol names (see port naming rules in the facts file). */
export type Protocol =
  | 'HTTP' | 'HTTP2' | 'GRPC' | 'GRPC-Web' | 'HTTPS' | 'TCP' | 'TLS' | 'Mongo' | 'Redis' | 'MySQL' | 'UDP';

export interface ServicePortInfo {
  name: string;
  port: number;
  /** Workload port: a number, or a port name looked up in the workload's named ports. */
  targetPort: number | string;
  protocol: Protocol;
  /**
   * Neither appProtocol nor the port name declares a protocol: Istio detects HTTP on such ports
   * by sniffing the first bytes (the protocol stays TCP for everything else).
   */
  sniffed?: boolean;
}

export interface MeshService {
  /** FQDN, e.g. reviews.default.svc.cluster.local, or the ServiceEntry host (httpbin.org). */
  hostname: string;
  name: string;
  namespace: string;
  ports: ServicePortInfo[];
  /** Label selector (Kubernetes Service selector, ServiceEntry workloadSelector). */
  selector?: Record<string, string>;
  /** How endpoints are found: EDS from workloads, STATIC/DNS from ServiceEntry, NONE = passthrough. */
  resolution: 'EDS' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'NONE';
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  addresses: string[];
  /** `clusterIP: None`: no virtual IP (clients reach the endpoints directly) */
  headless?: boolean;
  /** the address was allocated by the control plane (ClusterIP-like, or Istio's ServiceEntry auto-allocation) */
  vipAllocated?: boolean;
  origin: 'Service' | 'ServiceEntry';
  /** namespaces the service is visible in (ServiceEntry exportTo, a Service's networking.istio.io/exportTo annotation); absent: the mesh default */
  exportTo?: string[];
  /** Static endpoints declared inline by a ServiceEntry. */
  staticEndpoints?: EndpointInfo[];
}

export interface Workload {
  /** Pod-like name (node metadata NAME or WorkloadEntry name). */
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  address: string;
  /** Named ports declared by the workload (POD_PORTS), used to resolve named targetPorts. */
  namedPorts: Record<string, number>;
  locality?: string;
  weight?: number;
  origin: 'proxy' | 'WorkloadEntry' | 'Pod';
  /** Set when origin is 'proxy': the xDS node id. */
  proxyId?: string;
  /** Every port the workload declares (POD_PORTS, WorkloadEntry ports); a proxy without any yields no endpoints. */
  ports?: number[];
  /**
   * Workload port -> the port it is really reached on at `address` (a local-mode pod with its own
   * ports on a shared address, CLEW_ENDPOINT_PORTS); endpoints carry it. Absent: the workload port.
   */
  endpointPorts?: Record<string, number>;
}

export interface EndpointInfo {
  address: string;
  port: number;
  labels: Record<string, string>;
  workloadName?: string;
  namespace?: string;
  serviceAccount?: string;
  locality?: string;
  weight?: number;
  healthy: boolean;
  /** Inline ServiceEntry endpoints: the service port this endpoint serves (absent: every port). */
  servicePort?: number;
  /**
   * 'istio' when the endpoint has a sidecar that speaks Istio mTLS: a workload registered by its
   * proxy (always with a credential), or a WorkloadEntry labelled security.istio.io/tlsMode=istio
   */
  tlsMode?: 'istio';
}

export interface ServiceInstance {
  service: MeshService;
  servicePort: ServicePortInfo;
  endpoint: EndpointInfo;
}

export type RegistryEvent =
  | { kind: 'services' }
  | { kind: 'endpoints'; hostnames: string[] };

export interface ServiceRegistry {
  services(): MeshService[];
  serviceByHostname(hostname: string): MeshService | undefined;
  /** Endpoints of a service port, every subset (filter by labels for subsets). */
  instances(hostname: string, port: number): ServiceInstance[];
  workloads(): Workload[];
  onChange(listener: (event: RegistryEvent) => void): () => void;
  /** Short-name resolution (`reviews` in ns default → `reviews.default.svc.cluster.local`). */
  resolveHost?(host: string, namespace: string): string;
  /** Whether the registry knows this namespace (short names `name.ns` resolve against it). */
  hasNamespace?(namespace: string): boolean;
}
