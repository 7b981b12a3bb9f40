/** Sidecar spec schema (networking.istio.io). */
import { enm, list, noEffect, obj, refused, str, strList, type Schema } from './schema-dsl.js';
import { portSelector, servicePort, workloadSelectorLabels } from './schema-common.js';
import { connectionPoolSchema } from './schema-destination-rule.js';
import { serverTls } from './schema-gateway.js';

const captureMode = refused(enm('DEFAULT', 'IPTABLES', 'NONE'), 'traffic is captured the way the proxy was started', (v) => v !== 'DEFAULT');

export const sidecarSchema: Schema = obj({
  workloadSelector: workloadSelectorLabels,
  ingress: refused(
    list(
      obj(
        { port: servicePort, bind: str(), captureMode, defaultEndpoint: str(), connectionPool: connectionPoolSchema, tls: serverTls },
        { required: ['port'] },
      ),
    ),
    "inbound listeners are built from the workload's ports; these ports, endpoints and TLS settings would not apply",
  ),
  egress: list(obj({ port: servicePort, bind: str(), captureMode, hosts: strList() }, { required: ['hosts'] })),
  inboundConnectionPool: noEffect(connectionPoolSchema, 'inbound connections are not limited'),
  outboundTrafficPolicy: obj({
    mode: enm('REGISTRY_ONLY', 'ALLOW_ANY'),
    egressProxy: refused(obj({ host: str(), subset: str(), port: portSelector }, { required: ['host'] }), 'unknown destinations would not go through the egress proxy'),
  }),
});
