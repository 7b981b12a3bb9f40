/**
 * networking.istio.io EnvoyFilter (v1alpha3): Istio's full field set is accepted by the schema so
 * that the semantic check can say precisely which parts Clew does not implement yet.
 */
import { any, enm, int, list, obj, str, strMap, type Schema } from './schema-dsl.js';

export const ENVOY_FILTER_APPLY_TO = [
  'INVALID', 'LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER', 'ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE',
  'CLUSTER', 'EXTENSION_CONFIG', 'BOOTSTRAP', 'LISTENER_FILTER',
] as const;
export const ENVOY_FILTER_OPERATIONS = ['INVALID', 'MERGE', 'ADD', 'REMOVE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE'] as const;
export const ENVOY_FILTER_CONTEXTS = ['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY'] as const;

const subFilter = obj({ name: str() });
const filterMatch = obj({ name: str(), subFilter });
const filterChain = obj({ name: str(), sni: str(), transportProtocol: str(), applicationProtocols: str(), filter: filterMatch, destinationPort: int(1, 65535) });
const listener = obj({ portNumber: int(1, 65535), portName: str(), filterChain, listenerFilter: str(), name: str() });

const match = obj({
  context: enm(...ENVOY_FILTER_CONTEXTS),
  proxy: obj({ proxyVersion: str(), metadata: strMap() }),
  listener,
  routeConfiguration: any(),
  cluster: any(),
});

const patch = obj({ operation: enm(...ENVOY_FILTER_OPERATIONS), value: any(), filterClass: enm('UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS') });

export const envoyFilterSchema: Schema = obj(
  {
    workloadSelector: obj({ labels: strMap() }),
    targetRefs: list(obj({ group: str(), kind: str(), name: str(), namespace: str() })),
    priority: int(),
    configPatches: list(obj({ applyTo: enm(...ENVOY_FILTER_APPLY_TO), match, patch })),
  },
  { exclusive: [['workloadSelector', 'targetRefs']] },
);

