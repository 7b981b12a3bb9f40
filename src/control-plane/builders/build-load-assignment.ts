/** ClusterLoadAssignment for one outbound cluster: registry instances grouped by locality. */
import type { EnvoyResource } from '../../xds/codec.js';
import { jsonToStruct } from '../../xds/struct.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { EndpointInfo, MeshService } from '../../registry/types.js';
import { labelsMatch } from '../../registry/registry-labels.js';
import { localityString } from '../../registry/registry-convert.js';
import type { PushContext } from '../push-context.js';
import { localityFromString, socketAddress } from './build-common.js';
import { effectiveTrafficPolicy, localityLbActive } from './build-cluster-traffic-policy.js';
import { applyDistribute, applyFailover, type LocalityGroup } from './build-locality.js';
import { TLS_MODE_ISTIO, TRANSPORT_SOCKET_MATCH } from './build-cluster-tls.js';
import { effectivePeerAuthentication, mtlsModeForPort } from './build-peer-authentication.js';
import type { PeerAuthentication, PeerAuthenticationSpec } from '../../config/types.js';

/** Istio-style endpoint metadata: the workload descriptor used by telemetry, plus the labels. */
function endpointMetadata(ep: EndpointInfo): EnvoyResource | undefined {
  if (!ep.workloadName) return undefined;
  const app = ep.labels['service.istio.io/canonical-name'] ?? ep.labels.app ?? ep.workloadName;
  const version = ep.labels['service.istio.io/canonical-revision'] ?? ep.labels.version ?? 'latest';
  return {
    filter_metadata: {
      istio: jsonToStruct({
        workload: `${ep.workloadName};${ep.namespace ?? ''};${app};${version};Kubernetes`,
        labels: ep.labels,
      }),
    },
  };
}

function lbEndpoint(ep: EndpointInfo, mtls: boolean): EnvoyResource {
  const out: EnvoyResource = {
    endpoint: { address: socketAddress(ep.address, ep.port) },
    health_status: ep.healthy ? 'HEALTHY' : 'UNHEALTHY',
    load_balancing_weight: { value: ep.weight ?? 1 },
  };
  const md = endpointMetadata(ep);
  if (md) out.metadata = md;
  // auto mTLS: the cluster's `tlsMode-istio` transport-socket match selects this endpoint
  if (mtls) {
    out.metadata ??= { filter_metadata: {} };
    out.metadata.filter_metadata[TRANSPORT_SOCKET_MATCH] = jsonToStruct({ tlsMode: TLS_MODE_ISTIO });
  }
  return out;
}

/**
 * Istio's mtls_checker: an endpoint with a sidecar is reached with mTLS unless its own
 * PeerAuthentication resolves to DISABLE for the endpoint's (container) port.
 */
function endpointMtls(pc: PushContext, ep: EndpointInfo): boolean {
  if (ep.tlsMode !== 'istio') return false;
  const policies = pc.ofKind<PeerAuthenticationSpec>('PeerAuthentication') as readonly PeerAuthentication[];
  if (policies.length === 0) return true;
  const eff = effectivePeerAuthentication(policies, { namespace: ep.namespace ?? '', labels: ep.labels });
  return mtlsModeForPort(eff, ep.port) !== 'DISABLE';
}

export function buildLoadAssignment(
  pc: PushContext, proxy: ProxyIdentity, clusterName: string, svc: MeshService, port: number, subset: string | undefined,
): EnvoyResource {
  const dr = pc.destinationRule(svc.hostname, proxy);
  const subsetDef = subset ? dr?.spec.subsets?.find((s) => s.name === subset) : undefined;
  if (subset && !subsetDef) return { cluster_name: clusterName, endpoints: [] };
  const endpoints = pc.instances(svc.hostname, port)
    .map((i) => i.endpoint)
    .filter((ep) => labelsMatch(subsetDef?.labels, ep.labels))
    .sort((a, b) => (`${a.address}:${a.port}` < `${b.address}:${b.port}` ? -1 : 1));
  const byLocality = new Map<string, EndpointInfo[]>();
  for (const ep of endpoints) {
    const l = ep.locality ?? '';
    const list = byLocality.get(l);
    if (list) list.push(ep);
    else byLocality.set(l, [ep]);
  }
  let groups: LocalityGroup[] = [...byLocality].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([locality, eps]) => {
    // grpc-js-xds rejects a LocalityLbEndpoints without locality, so it is always present.
    const entry: EnvoyResource = { locality: localityFromString(locality) };
    entry.lb_endpoints = eps.map((ep) => lbEndpoint(ep, endpointMtls(pc, ep)));
    // Locality weights are required once locality-weighted LB is on; the sum keeps plain LB unchanged.
    entry.load_balancing_weight = { value: eps.reduce((n, e) => n + (e.weight ?? 1), 0) };
    return { locality, entry };
  });
  const policy = effectiveTrafficPolicy(dr, subset, port);
  const proxyLocality = localityString(proxy.locality);
  if (proxyLocality && localityLbActive(policy)) {
    const setting = policy.loadBalancer?.localityLbSetting;
    if (setting?.distribute?.length) groups = applyDistribute(groups, proxyLocality, setting);
    else if (policy.outlierDetection) applyFailover(groups, proxyLocality, setting);
  }
  return { cluster_name: clusterName, endpoints: groups.map((g) => g.entry) };
}
