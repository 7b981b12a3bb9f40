/**
 * Run inside a network namespace by dns-lookup-bounded.test.ts (`ip netns exec`, which mounts
 * /etc/netns/<ns>/{resolv.conf,hosts} over /etc): the namespace's DNS server is a UDP socket here
 * that reads queries and never answers, so every lookup of a name outside the hosts file waits for
 * the resolver's timeout, as with a name whose DNS server is down or hostile.
 *
 * A real `clew proxy` passes unique-Host traffic to PassthroughCluster (local mode: the
 * destination is the Host). The scenario resolves `legit.test` once, floods the proxy with 300
 * requests for unique unresolvable names, and meanwhile asks for `legit.test` again, for an IP
 * literal and (after the flood) for `late.test`, a hosts-file name never resolved before. Prints
 * one JSON line with statuses, times and the proxy's DNS overflow counter.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { httpRequest, setAll } from '../helpers/harness.js';
import { spawnProxy } from '../helpers/proxy-process.js';
import { outboundHttpListener, route, routeConfig, routerFilter, virtualOutbound, vhost } from '../helpers/resources.js';
import { StaticXds } from '../helpers/static-xds.js';
import { closedPort, startEcho } from '../helpers/upstreams.js';

const FLOOD = 300;

/** One request on its own connection: status (0: no answer) and ms until the answer or close. */
function get(port: number, host: string, timeoutMs = 10_000): Promise<{ status: number; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), ms: Math.round(performance.now() - t0) });
    };
    const timer = setTimeout(finish, timeoutMs);
    s.on('connect', () => s.write(`GET /dns HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('\r\n\r\n')) finish();
    });
    s.on('error', finish);
    s.on('close', finish);
  });
}

async function main(): Promise<void> {
  let queries = 0;
  const dnsServer = dgram.createSocket('udp4');
  dnsServer.on('message', () => queries++);
  await new Promise<void>((r) => dnsServer.bind(53, '127.0.0.53', () => r()));
  const echo = await startEcho('upstream', '127.0.0.1');
  const ports = { outbound: await closedPort(), admin: await closedPort(), ready: await closedPort(), stats: await closedPort() };
  const xds = new StaticXds();
  const passthrough: EnvoyResource = { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: { seconds: 3 } };
  setAll(xds, {
    clusters: [passthrough],
    endpoints: [],
    listeners: [virtualOutbound(15001, '0.0.0.0'), outboundHttpListener(echo.port, [routerFilter])],
    routes: [routeConfig(String(echo.port), [vhost('allow_any', ['*'], [route({ prefix: '/' }, 'PassthroughCluster')])])],
  }, false);
  await xds.start();
  const proxy = spawnProxy(['--xds-address', xds.address, '--id', 'client.default', '--outbound-port', String(ports.outbound), '--admin-port', String(ports.admin),
    '--stats-port', String(ports.stats), '--ready-port', String(ports.ready), '--log-level', 'error']);
  try {
    await proxy.waitReady(ports.ready, 20_000);
    const warm = await get(ports.outbound, `legit.test:${echo.port}`);
    const flood = Array.from({ length: FLOOD }, (_, i) => get(ports.outbound, `f${i}.invalid:${echo.port}`, 20_000));
    await new Promise((r) => setTimeout(r, 1000));
    const [cachedDuring, ipDuring] = await Promise.all([get(ports.outbound, `legit.test:${echo.port}`), get(ports.outbound, `127.0.0.1:${echo.port}`)]);
    const floodResults = await Promise.all(flood);
    // the lookups still waiting when the flood ended have timed out by now
    await new Promise((r) => setTimeout(r, 6000));
    const lateAfter = await get(ports.outbound, `late.test:${echo.port}`);
    const stats = (await httpRequest({ port: ports.admin, path: '/stats' })).body;
    const counter = (name: string): number => Number(new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(stats)?.[1] ?? -1);
    const statuses: Record<string, number> = {};
    for (const f of floodResults) statuses[f.status] = (statuses[f.status] ?? 0) + 1;
    const floodMs = floodResults.map((f) => f.ms).sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({
      warm, cachedDuring, ipDuring, lateAfter,
      flood: { statuses, p50: floodMs[floodMs.length >> 1], max: floodMs[floodMs.length - 1] },
      overflow: { lookups: counter('clew.overflow.dns_lookups'), cache: counter('clew.overflow.dns_cache') },
      queries,
      alive: proxy.child.exitCode === null,
    }) + '\n');
  } finally {
    proxy.child.kill('SIGKILL');
    await proxy.exited;
    await xds.stop();
    await echo.close();
    dnsServer.close();
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
