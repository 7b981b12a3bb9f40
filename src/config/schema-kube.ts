/** Kubernetes v1 Service schema (the parts Clew reads). */
import { any, enm, ignored, int, intOrStr, list, noEffect, obj, refused, str, strList, strMap, type Schema } from './schema-dsl.js';

const KUBE = 'a Kubernetes networking field the mesh does not use (Istio neither)';

const servicePort = obj(
  {
    name: str(),
    port: int(1, 65535),
    targetPort: intOrStr(1, 65535),
    protocol: enm('TCP', 'UDP', 'SCTP'),
    appProtocol: str(),
    nodePort: ignored(int(0, 65535), KUBE),
  },
  { required: ['port'] },
);

export const kubeServiceSchema: Schema = obj({
  selector: strMap(),
  ports: list(servicePort),
  clusterIP: str(),
  clusterIPs: ignored(strList(), 'Clew reads clusterIP'),
  type: refused(enm('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'), 'ExternalName services (a DNS alias) are not implemented: use a ServiceEntry', (v) => v === 'ExternalName'),
  externalName: refused(str(), 'ExternalName services (a DNS alias) are not implemented: use a ServiceEntry'),
  sessionAffinity: ignored(str(), KUBE),
  ipFamilies: ignored(strList(), KUBE),
  ipFamilyPolicy: ignored(str(), KUBE),
  internalTrafficPolicy: ignored(str(), 'local mode has one node: every endpoint is local'),
  externalTrafficPolicy: ignored(str(), KUBE),
  publishNotReadyAddresses: noEffect(any(), 'endpoints that are not ready get no traffic'),
  loadBalancerIP: ignored(str(), KUBE),
  externalIPs: ignored(strList(), KUBE),
});
