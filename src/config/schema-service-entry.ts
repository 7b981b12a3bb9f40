/** ServiceEntry and WorkloadEntry spec schemas (networking.istio.io). */
import { enm, int, list, map, noEffect, obj, refused, str, strList, strMap, type Schema } from './schema-dsl.js';
import { portNumber, servicePort, workloadSelectorLabels } from './schema-common.js';
import { isDns1123Label } from './value-host.js';

/** Istio's ValidatePortName: a port name is a DNS-1123 label. */
export const checkPortName = (name: string): string | undefined => (isDns1123Label(name) ? undefined : `invalid port name: ${name}`);

export const workloadEntrySchema: Schema = obj({
  address: str(),
  ports: map(portNumber(), checkPortName),
  labels: strMap(),
  network: noEffect(str(), 'one network is assumed: the endpoint is dialled directly, never through a network gateway'),
  locality: str(),
  weight: int(0),
  serviceAccount: str(),
});

export const serviceEntrySchema: Schema = obj(
  {
    hosts: strList(),
    addresses: strList(),
    ports: list(servicePort),
    location: enm('MESH_EXTERNAL', 'MESH_INTERNAL'),
    resolution: refused(
      enm('NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS'),
      'DYNAMIC_DNS (a dynamic forward proxy for wildcard hosts) is not implemented',
      (v) => v === 'DYNAMIC_DNS',
    ),
    endpoints: list(workloadEntrySchema),
    workloadSelector: workloadSelectorLabels,
    exportTo: strList(),
    subjectAltNames: refused(strList(), "mutual TLS to these hosts would check the endpoints' service accounts instead of these names"),
  },
  { exclusive: [['endpoints', 'workloadSelector']] },
);
