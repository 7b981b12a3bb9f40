/**
 * `clew run --name NAME [...] -- COMMAND ARGS...`: runs COMMAND as a mesh workload on its own
 * loopback address, with its sidecar (local mode, no root). See src/local/local-run.ts.
 */
import type { Command } from 'commander';
import { CliError, UsageError } from './errors.js';
import { addSidecarPortOptions, collectPort, parseHostPort, parseLabels, parsePort } from './cli-options.js';
import { LocalError } from '../local/local-errors.js';
import { runPod } from '../local/local-run.js';
import { addNetnsRunOptions, netnsSpecFromFlags, runNetnsPod } from '../local/netns-run.js';

interface RunFlags {
  name: string;
  namespace: string;
  labels?: string;
  serviceAccount?: string;
  port?: number[];
  xdsAddress: string;
  address?: string;
  outboundPort: string;
  inboundPort: string;
  adminPort: string;
  statsPort: string;
  readyPort: string;
  readyTimeout: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('run COMMAND as a mesh workload with its own sidecar: on its own loopback address, or (--netns, root) in its own network namespace with transparent capture')
    .usage('--name NAME [options] -- COMMAND [ARGS...]')
    .requiredOption('--name <name>', 'workload (pod) name')
    .option('--namespace <ns>', 'namespace', 'default')
    .option('--labels <k=v,...>', 'workload labels (default app=<name>)')
    .option('--service-account <sa>', 'service account (default: the name)')
    .option('--port <port>', 'a workload port the sidecar serves (repeatable); the app gets a free port for each', collectPort)
    .option('--xds-address <host:port>', 'control plane xDS address', '127.0.0.1:15010')
    .option('--address <ip>', 'pod address (default: lease a free 127.0.x.y)');
  addNetnsRunOptions(addSidecarPortOptions(cmd))
    .option('--ready-timeout <seconds>', 'how long to wait for the sidecar', '60')
    .argument('[command...]', 'the app to run (after --); none: sidecar only')
    .action(async (command: string[], flags: RunFlags) => {
      try {
        parseHostPort(flags.xdsAddress);
        const labels = parseLabels(flags.labels);
        if (Object.keys(labels).length === 0) labels.app = flags.name;
        const [app, ...args] = command;
        if ((flags as unknown as { netns?: boolean }).netns) {
          // --netns: the pod in its own network namespace (src/local/netns-run.ts); the control
          // plane is reached on the network's root address unless --xds-address says otherwise
          const xds = cmd.getOptionValueSource('xdsAddress') === 'default' ? '' : flags.xdsAddress;
          process.exit(await runNetnsPod({
            name: flags.name,
            namespace: flags.namespace,
            labels,
            serviceAccount: flags.serviceAccount ?? flags.name,
            ports: flags.port ?? [],
            app: app ? { command: app, args } : undefined,
            xdsAddress: xds,
            ...netnsSpecFromFlags(flags as unknown as Record<string, unknown>),
          }, { readyTimeoutMs: Number(flags.readyTimeout) * 1000 }));
        }
        const code = await runPod({
          name: flags.name,
          namespace: flags.namespace,
          labels,
          serviceAccount: flags.serviceAccount ?? flags.name,
          ports: flags.port ?? [],
          app: app ? { command: app, args } : undefined,
          xdsAddress: flags.xdsAddress,
          address: flags.address,
          proxyPorts: {
            outbound: parsePort(flags.outboundPort),
            inbound: parsePort(flags.inboundPort),
            admin: parsePort(flags.adminPort),
            stats: parsePort(flags.statsPort),
            ready: parsePort(flags.readyPort),
          },
        }, { readyTimeoutMs: Number(flags.readyTimeout) * 1000 });
        process.exit(code);
      } catch (err) {
        if (err instanceof LocalError) {
          if (err.code === 'CLEW_LOCAL_BAD_ARGUMENT') throw new UsageError(err.message);
          throw new CliError(err.message, 1, err.code);
        }
        throw err;
      }
    });
}
