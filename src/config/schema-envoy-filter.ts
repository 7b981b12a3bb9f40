/**
 * networking.istio.io EnvoyFilter (v1alpha3): Istio's full field set is accepted by the schema so
 * that the semantic check can say precisely which parts Clew does not implement yet.
 */
import { any, enm, int, list, obj, refused, str, strMap, type Schema } from './schema-dsl.js';

const MATCH_NOTE = 'the patch would apply to more than this match selects';

export const ENVOY_FILTER_APPLY_TO = [
  'INVALID', 'LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER', 'ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE',
  'CLUSTER', 'EXTENSION_CONFIG', 'BOOTSTRAP', 'LISTENER_FILTER',
] as const;
export const ENVOY_FILTER_OPERATIONS = ['INVALID', 'MERGE', 'ADD', 'REMOVE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE'] as const;
export const ENVOY_FILTER_CONTEXTS = ['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY'] as const;

const subFilter = obj({ name: str() });
const filterMatch = obj({ name: str(), subFilter });
const filterChain = obj({
  name: refused(str(), MATCH_NOTE),
  sni: refused(str(), MATCH_NOTE),
  transportProtocol: refused(str(), MATCH_NOTE),
  applicationProtocols: refused(str(), MATCH_NOTE),
  filter: filterMatch,
  destinationPort: refused(int(1, 65535), MATCH_NOTE),
});
const listener = obj({ portNumber: int(1, 65535), portName: refused(str(), MATCH_NOTE), filterChain, listenerFilter: refused(str(), MATCH_NOTE), name: str() });

const match = obj({
  context: enm(...ENVOY_FILTER_CONTEXTS),
  proxy: refused(obj({ proxyVersion: str(), metadata: strMap() }), MATCH_NOTE),
  listener,
  routeConfiguration: obj({
    portNumber: int(0, 65535),
    portName: refused(str(), MATCH_NOTE),
    gateway: refused(str(), MATCH_NOTE),
    name: str(),
    vhost: obj({
      name: str(),
      domainName: refused(str(), MATCH_NOTE),
      // Istio does not narrow a VIRTUAL_HOST patch by its route match (HTTP_ROUTE patches use it)
      route: obj({ name: str(), action: enm('ANY', 'ROUTE', 'REDIRECT', 'DIRECT_RESPONSE') }),
    }),
  }),
  cluster: refused(any(), 'cluster patches are not implemented (HTTP_FILTER is)'),
});

const patch = obj({
  operation: enm(...ENVOY_FILTER_OPERATIONS),
  value: any(),
  filterClass: refused(enm('UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS'), 'the filter would not be placed by its class', (v) => v !== 'UNSPECIFIED'),
});

export const envoyFilterSchema: Schema = obj(
  {
    workloadSelector: obj({ labels: strMap() }),
    targetRefs: refused(list(obj({ group: str(), kind: str(), name: str(), namespace: str() })), 'the patch would not be scoped to these targets; use workloadSelector'),
    priority: int(),
    configPatches: list(obj({ applyTo: enm(...ENVOY_FILTER_APPLY_TO), match, patch })),
  },
  { exclusive: [['workloadSelector', 'targetRefs']] },
);

