/** ServiceEntry and WorkloadEntry spec schemas (networking.istio.io). */
import { enm, int, list, map, obj, str, strList, strMap, type Schema } from './schema-dsl.js';
import { portNumber, servicePort, workloadSelectorLabels } from './schema-common.js';

export const workloadEntrySchema: Schema = obj({
  address: str(),
  ports: map(portNumber()),
  labels: strMap(),
  network: str(),
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
    resolution: enm('NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS'),
    endpoints: list(workloadEntrySchema),
    workloadSelector: workloadSelectorLabels,
    exportTo: strList(),
    subjectAltNames: strList(),
  },
  { exclusive: [['endpoints', 'workloadSelector']] },
);
