export * from './types.js';
export { LocalRegistry, createLocalRegistry } from './registry-local.js';
export { AggregateRegistry, type RegistrySource } from './registry-aggregate.js';
export { resolveHostname, serviceFqdn, hostMatches, hostsIntersect, DOMAIN_SUFFIX } from './registry-hosts.js';
export { labelsMatch } from './registry-labels.js';
export {
  parseProtocol, protocolFromPortName, protocolForKubePort, isHttpProtocol, isHttp2Protocol,
} from './registry-protocol.js';
export { workloadPortFor } from './registry-endpoints.js';
export { localityString } from './registry-convert.js';
export { VipAllocator, parseCidr4, DEFAULT_SERVICE_CIDR, AUTO_ALLOCATE_CIDR, MEMORY_VIP_STORE, type VipStore } from './registry-vips.js';
