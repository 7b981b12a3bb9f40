export { createPushContext, gatewayKey, visibleTo, ROOT_NAMESPACE } from '../push-context.js';
export type {
  PushContext, PushContextInput, ProxyScope, IndexedVirtualService, MergedDestinationRule,
} from '../push-context.js';
export { buildClusters } from './build-clusters.js';
export { buildEndpoints } from './build-endpoints.js';
export { buildListeners, apiListener } from './build-listeners.js';
export { buildRoutes, serviceDomains } from './build-routes.js';
export { buildNameTable, nameTable, type NameInfo } from './build-name-table.js';
export { effectiveTrafficPolicy } from './build-cluster-traffic-policy.js';
export { inboundPorts } from './build-inbound-ports.js';
export {
  outboundClusterName, inboundClusterName, parseClusterName, BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER,
  INBOUND_PASSTHROUGH_CLUSTER,
} from './build-common.js';
export { DEFAULT_RETRY_ON } from './build-route-action.js';
