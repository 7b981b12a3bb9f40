/**
 * Pod addressing `loopback-ip` (Linux): every pod leases its own 127.0.x.y (local-address.ts) on
 * which its sidecar binds the well-known ports and the workload ports as declared; the app gets
 * ephemeral ports on the same address.
 */
import { allocateAddress } from './local-address.js';
import { assertPortsFree, freePorts } from './local-ports.js';
import { DEFAULT_PROXY_PORTS, type PodAddressing, type PodNetwork, type PodNetworkRequest } from './pod-addressing.js';

export function loopbackIpAddressing(reason = 'loopback-ip'): PodAddressing {
  return {
    mode: 'loopback-ip',
    reason,
    async allocate(req: PodNetworkRequest, stateDir?: string): Promise<PodNetwork> {
      const proxyPorts = { ...DEFAULT_PROXY_PORTS, ...req.proxyPorts };
      const needed = [proxyPorts.outbound, proxyPorts.admin, proxyPorts.stats, proxyPorts.ready, ...req.ports];
      let address = req.address;
      let release = (): void => {};
      const files: string[] = [];
      if (address) {
        await assertPortsFree(address, needed.map((port) => ({ port, what: req.owner })));
      } else {
        const lease = await allocateAddress({ stateDir, owner: req.owner, probePorts: needed });
        address = lease.address;
        files.push(lease.file);
        release = () => lease.release();
      }
      const appPorts = new Map<number, number>();
      if (req.app && req.ports.length > 0) {
        const free = await freePorts(address, req.ports.length);
        req.ports.forEach((p, i) => appPorts.set(p, free[i]));
      }
      return { address, proxyPorts, inboundPorts: new Map(req.ports.map((p) => [p, p])), appPorts, files, release };
    },
  };
}
