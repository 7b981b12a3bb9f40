/** Kubernetes v1 Service schema (the parts Clew reads). */
import { any, enm, int, intOrStr, list, obj, str, strList, strMap, type Schema } from './schema-dsl.js';

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
