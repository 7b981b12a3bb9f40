/** EDS: a ClusterLoadAssignment per requested outbound EDS cluster. */
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { PushContext } from '../push-context.js';
import { parseClusterName } from './build-common.js';
import { buildLoadAssignment } from './build-load-assignment.js';

export function buildEndpoints(pc: PushContext, proxy: ProxyIdentity, clusterNames: string[]): EnvoyResource[] {
  const out: EnvoyResource[] = [];
  for (const name of clusterNames) {
    const parsed = parseClusterName(name);
    if (!parsed || parsed.direction !== 'outbound') continue;
    const svc = pc.service(parsed.host);
    if (!svc || svc.resolution !== 'EDS' || !svc.ports.some((p) => p.port === parsed.port)) continue;
    out.push(buildLoadAssignment(pc, proxy, name, svc, parsed.port, parsed.subset || undefined));
  }
  return out;
}
