/** `clew proxy`: runs the data plane (Envoy's role) against an xDS server. */
import type { Command } from 'commander';
import type { LogLevel } from '../proxy/bootstrap.js';
import { startProxy } from '../proxy/proxy.js';
import { UsageError } from './errors.js';
import { addSidecarPortOptions, collect, parseLabels, parsePort as port } from './cli-options.js';

export function register(program: Command): void {
  const cmd = program
    .command('proxy')
    .description('run the Clew sidecar/gateway proxy (xDS-driven, Envoy-compatible)')
    .requiredOption('--xds-address <host:port>', 'control plane ADS address')
    .requiredOption('--id <name.namespace>', 'workload name and namespace')
    .option('--type <type>', 'sidecar or router (gateway)', 'sidecar')
    .option('--labels <k=v,...>', 'workload labels')
    .option('--service-account <sa>', 'service account', 'default')
    .option('--address <ip>', "workload address (admin/stats/ready bind here too)")
    .option('--port <n>', 'workload port (repeatable)', collect, [])
    .option('--app-port <port=host:port>', 'where the app listens for a workload port (repeatable)', collect, [])
    .option('--interception-mode <mode>', 'NONE (local mode) or REDIRECT (iptables)', 'NONE');
  addSidecarPortOptions(cmd)
    .option('--concurrency <n>', 'worker count (1 supported)', '1')
    .option('--log-level <level>', 'trace|debug|info|warn|error|off', 'info')
    .option('--remap-port <from=to>', 'bind listener port FROM on port TO instead, e.g. 80=8080 without root (repeatable)', collect, [])
    .action(async (o: Record<string, any>) => {
      const type = o.type === 'router' ? 'router' : o.type === 'sidecar' ? 'sidecar' : undefined;
      if (!type) throw new UsageError(`--type must be sidecar or router`);
      const mode = String(o.interceptionMode).toUpperCase();
      if (mode !== 'NONE' && mode !== 'REDIRECT') throw new UsageError('--interception-mode must be NONE or REDIRECT');
      const appPorts: Record<string, string> = {};
      for (const a of o.appPort as string[]) {
        const i = a.indexOf('=');
        if (i <= 0) throw new UsageError(`--app-port: expected PORT=HOST:PORT, got ${JSON.stringify(a)}`);
        appPorts[String(port(a.slice(0, i), '--app-port'))] = a.slice(i + 1);
      }
      const remapPorts: Record<number, number> = {};
      for (const r of o.remapPort as string[]) {
        const [from, to] = r.split('=');
        if (!from || !to) throw new UsageError(`--remap-port: expected FROM=TO, got ${JSON.stringify(r)}`);
        remapPorts[port(from, '--remap-port')] = port(to, '--remap-port');
      }
      const handle = await startProxy({
        remapPorts,
        xdsAddress: String(o.xdsAddress),
        id: String(o.id),
        type,
        labels: parseLabels(o.labels),
        serviceAccount: String(o.serviceAccount),
        address: o.address,
        ports: (o.port as string[]).map((p) => port(p, '--port')),
        appPorts,
        interceptionMode: mode as 'NONE' | 'REDIRECT',
        outboundPort: port(o.outboundPort, '--outbound-port'),
        inboundPort: port(o.inboundPort, '--inbound-port'),
        adminPort: port(o.adminPort, '--admin-port'),
        statsPort: port(o.statsPort, '--stats-port'),
        readyPort: port(o.readyPort, '--ready-port'),
        concurrency: Number(o.concurrency),
        logLevel: o.logLevel as LogLevel,
        onQuit: () => process.exit(0),
      });
      const stop = (): void => void handle.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise<never>(() => undefined);
    });
}
