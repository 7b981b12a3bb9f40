/** `clew proxy` as a real child process: spawn with flags, collect stderr, await readiness and exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLEW_BIN } from '../../helpers/paths.js';
import { httpRequest, setAll, waitFor } from './harness.js';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, virtualOutbound, vhost } from './resources.js';
import { StaticXds } from './static-xds.js';
import { closedPort, startEcho, type EchoServer } from './upstreams.js';

export interface ProxyProcess {
  child: ChildProcess;
  readonly stderr: string;
  /** exit code (or the signal name) and when it happened */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** resolves when stderr has a line matching re (polled) */
  waitLog(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  waitReady(readyPort: number, ms?: number): Promise<void>;
}

/** `wrapper`: a command the proxy runs under, e.g. `['prlimit', '--nofile=256:256']` */
export function spawnProxy(args: string[], wrapper: string[] = []): ProxyProcess {
  const argv = [process.execPath, CLEW_BIN, 'proxy', ...args];
  const child = spawn(wrapper[0] ?? argv[0], [...wrapper.slice(1), ...(wrapper.length > 0 ? argv : argv.slice(1))], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal, at: Date.now() })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  return {
    child,
    get stderr() {
      return stderr;
    },
    exited,
    async waitLog(re, ms = 10_000) {
      let m: RegExpExecArray | null = null;
      await waitFor(() => (m = re.exec(stderr)) !== null || gone, ms, `log ${re} (stderr: ${stderr})`);
      if (!m) throw new Error(`proxy exited before logging ${re}: ${stderr}`);
      return m;
    },
    async waitReady(readyPort, ms = 10_000) {
      await waitFor(async () => {
        if (gone) throw new Error(`proxy exited: ${stderr}`);
        try {
          return (await httpRequest({ port: readyPort, path: '/healthz/ready' })).status === 200;
        } catch {
          return false;
        }
      }, ms, `ready (${stderr})`);
    },
  };
}

/**
 * What the process tests share: an `inventory` echo upstream behind a static xDS server that
 * serves an outbound HTTP listener on 9080 routing to it, and four fixed sidecar ports for the
 * spawned `clew proxy`.
 */
export const INVENTORY_CLUSTER = 'outbound|9080||inventory.default.svc.cluster.local';

export interface InventoryXds {
  echo: EchoServer;
  xds: StaticXds;
  ports: { outbound: number; admin: number; stats: number; ready: number };
  /** the `clew proxy` flags naming the xDS server and the four ports */
  proxyArgs: string[];
}

export async function startInventoryXds(): Promise<InventoryXds> {
  const echo = await startEcho('inventory');
  const xds = new StaticXds();
  const ports = { outbound: await closedPort(), admin: await closedPort(), stats: await closedPort(), ready: await closedPort() };
  setAll(xds, {
    clusters: [edsCluster(INVENTORY_CLUSTER), passthroughCluster()],
    endpoints: [assignment(INVENTORY_CLUSTER, [['127.0.0.1', echo.port]])],
    listeners: [virtualOutbound(15001, '0.0.0.0'), outboundHttpListener(9080)],
    routes: [routeConfig('9080', [vhost('inventory', ['inventory:9080'], [route({ prefix: '/' }, INVENTORY_CLUSTER)])])],
  }, false);
  await xds.start();
  const proxyArgs = ['--xds-address', xds.address, '--outbound-port', String(ports.outbound), '--admin-port', String(ports.admin),
    '--stats-port', String(ports.stats), '--ready-port', String(ports.ready)];
  return { echo, xds, ports, proxyArgs };
}
