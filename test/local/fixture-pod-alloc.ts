/**
 * Plans a demo's worth of pods in port addressing ($CLEW_STATE_DIR, $CLEW_LOCAL_FIRST_PORT):
 * Bookinfo, httpbin and a client; with BIND=1 it then listens on every port it got, as the
 * sidecars and apps would. Prints {owner: [ports]} as JSON and holds everything until stdin ends.
 */
import { createServer, type Server } from 'node:net';
import { portAddressing } from '../../src/local/pod-addressing-port.js';

const PODS: [string, number[]][] = [
  ['productpage-v1', [9080]], ['details-v1', [9080]], ['reviews-v1', [9080]], ['reviews-v2', [9080]], ['reviews-v3', [9080]],
  ['ratings-v1', [9080]], ['httpbin-v1', [8080]], ['fortio', []],
];
const addressing = portAddressing('test');
const out: Record<string, number[]> = {};
const servers: Server[] = [];
for (const [name, ports] of PODS) {
  const net = await addressing.allocate({ owner: `${name}.${process.pid}`, ports, app: ports.length > 0 });
  const all = [...Object.values(net.proxyPorts), ...net.inboundPorts.values(), ...net.appPorts.values()];
  out[name] = all;
  if (process.env.BIND === '1') {
    for (const port of all) {
      await new Promise<void>((resolve, reject) => {
        const srv = createServer().once('error', reject).listen(port, net.address, () => resolve());
        servers.push(srv);
      });
    }
  }
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
