/**
 * NDS: Istio's name table for the sidecar's DNS proxy (and the proxy's own hostname lookups):
 * every service with a virtual IP, hostname -> IPs, with the Kubernetes short name and namespace
 * for Services (the proxy derives `name`, `name.ns`, `name.ns.svc` from them, per its own
 * namespace); ServiceEntry hosts sharing a hostname have their IPs merged, a Kubernetes Service
 * of the same hostname wins. One resource, no name (as Istio sends it).
 */
import { isIP } from 'node:net';
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { PushContext } from '../push-context.js';

export interface NameInfo {
  ips: string[];
  registry: string;
  shortname?: string;
  namespace?: string;
}

export function nameTable(pc: PushContext): Record<string, NameInfo> {
  const table: Record<string, NameInfo> = {};
  for (const svc of pc.services) {
    const ips = svc.addresses.filter((a) => isIP(a) !== 0);
    if (ips.length === 0) continue;
    const prev = table[svc.hostname];
    if (svc.origin === 'Service') {
      table[svc.hostname] = { ips, registry: 'Kubernetes', shortname: svc.name, namespace: svc.namespace };
    } else if (!prev) {
      table[svc.hostname] = { ips, registry: 'External' };
    } else if (prev.registry !== 'Kubernetes') {
      prev.ips = [...new Set([...prev.ips, ...ips])];
    }
  }
  return table;
}

export function buildNameTable(pc: PushContext, _proxy: ProxyIdentity): EnvoyResource[] {
  return [{ table: nameTable(pc) }];
}
