/** Kubernetes v1 Service and telemetry.istio.io Telemetry schemas (the parts Clew reads). */
import { any, enm, int, intOrStr, list, obj, str, strList, strMap, type Schema } from './schema-dsl.js';
import { labelSelector } from './schema-common.js';

const servicePort = obj(
  {
    name: str(),
    port: int(1, 65535),
    targetPort: intOrStr(1, 65535),
    protocol: enm('TCP', 'UDP', 'SCTP'),
    appProtocol: str(),
    nodePort: int(0, 65535),
  },
  { required: ['port'] },
);

export const kubeServiceSchema: Schema = obj({
  selector: strMap(),
  ports: list(servicePort),
  clusterIP: str(),
  clusterIPs: strList(),
  type: enm('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'),
  externalName: str(),
  sessionAffinity: str(),
  ipFamilies: strList(),
  ipFamilyPolicy: str(),
  internalTrafficPolicy: str(),
  externalTrafficPolicy: str(),
  publishNotReadyAddresses: any(),
  loadBalancerIP: str(),
  externalIPs: strList(),
});

const targetRef = obj({ group: str(), kind: str(), name: str(), namespace: str() }, { required: ['kind', 'name'] });
const providers = list(obj({ name: str() }, { required: ['name'] }));

// Light schema: the top-level structure is checked, provider-specific details pass through.
export const telemetrySchema: Schema = obj({
  selector: labelSelector,
  targetRef,
  targetRefs: list(targetRef),
  tracing: list(obj({ match: any(), providers, randomSamplingPercentage: any(), disableSpanReporting: any(), customTags: any(), useRequestIdForTraceSampling: any() })),
  metrics: list(obj({ providers, overrides: any(), reportingInterval: any() })),
  accessLogging: list(obj({ match: any(), providers, disabled: any(), filter: any() })),
});
