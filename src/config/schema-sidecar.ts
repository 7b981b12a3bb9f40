/** Sidecar spec schema (networking.istio.io). */
import { any, enm, list, obj, str, strList, type Schema } from './schema-dsl.js';
import { portSelector, servicePort, workloadSelectorLabels } from './schema-common.js';
import { connectionPoolSchema } from './schema-destination-rule.js';

const captureMode = enm('DEFAULT', 'IPTABLES', 'NONE');

export const sidecarSchema: Schema = obj({
  workloadSelector: workloadSelectorLabels,
  ingress: list(
    obj(
      { port: servicePort, bind: str(), captureMode, defaultEndpoint: str(), connectionPool: connectionPoolSchema, tls: any() },
      { required: ['port'] },
    ),
  ),
  egress: list(obj({ port: servicePort, bind: str(), captureMode, hosts: strList() }, { required: ['hosts'] })),
  inboundConnectionPool: connectionPoolSchema,
  outboundTrafficPolicy: obj({ mode: enm('REGISTRY_ONLY', 'ALLOW_ANY'), egressProxy: obj({ host: str(), subset: str(), port: portSelector }) }),
});
