/**
 * `clew run --name NAME [...] -- COMMAND ARGS...`: runs COMMAND as a mesh workload on its own
 * loopback address, with its sidecar (local mode, no root). See src/local/local-run.ts.
 */
import type { Command } from 'commander';
import { CliError, UsageError } from './errors.js';
import { addSidecarPortOptions, collectPort, parseHostPort, parseLabels, parsePort } from './cli-options.js';
import { LocalError } from '../local/local-errors.js';
import { runPod } from '../local/local-run.js';
import { assertLocalModeSupported, assertNetnsSupported } from '../local/local-platform.js';
import { selectPodAddressing } from '../local/pod-addressing-select.js';
import type { ControlPlaneAccess } from '../local/local-credentials.js';
import { DEFAULT_CONTROL_PLANE, findAdminToken } from './control-plane-client.js';
import { addNetnsRunOptions, netnsSpecFromFlags, runNetnsPod } from '../local/netns-run.js';

interface RunFlags {
  name: string;
  namespace: string;
  labels?: string;
  serviceAccount?: string;
  port?: number[];
  xdsAddress: string;
  controlPlane: string;
  caAddress?: string;
  address?: string;
  outboundPort: string;
  inboundPort: string;
  adminPort: string;
  statsPort: string;
  readyPort: string;
  readyTimeout: string;
  podAddressing?: string;
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
    .option('--xds-address <host:port>', 'control plane xDS address (plaintext; used only for the host when --ca-address is not given)', '127.0.0.1:15010')
    .option('--control-plane <url>', "the control plane's API: the pod's workload token is minted there (admin token: $CLEW_CONTROL_PLANE_TOKEN or the one published for your user)", DEFAULT_CONTROL_PLANE)
    .option('--ca-address <host:port>', "the control plane's TLS port: certificates and ADS over TLS (default: the xDS host, port 15012)")
    .option('--address <ip>', 'pod address (default: lease a free 127.0.x.y; with --pod-addressing port: 127.0.0.1)')
    .option('--pod-addressing <mode>', 'loopback-ip: the pod on its own 127.0.x.y with the well-known sidecar ports (Linux); port: on 127.0.0.1 with ports of its own (macOS); default $CLEW_POD_ADDRESSING, else loopback-ip where 127.0.1.1 can be bound, else port');
  addNetnsRunOptions(addSidecarPortOptions(cmd))
    .option('--ready-timeout <seconds>', 'how long to wait for the sidecar', '60')
    .argument('[command...]', 'the app to run (after --); none: sidecar only')
    .action(async (command: string[], flags: RunFlags) => {
      try {
        assertLocalModeSupported();
        const netns = !!(flags as unknown as { netns?: boolean }).netns;
        if (netns) assertNetnsSupported();
        if (netns && flags.podAddressing !== undefined) throw new UsageError('--pod-addressing is for pods on loopback; --netns gives the pod its own network namespace');
        const bracket = (h: string): string => (h.includes(':') ? `[${h}]` : h);
        // the pod's credentials: a workload token minted with the admin token, the root, the TLS port
        const access = (xdsHost: string, debugUrl: string): ControlPlaneAccess => {
          const secureAddress = flags.caAddress ?? `${bracket(xdsHost)}:15012`;
          parseHostPort(secureAddress);
          const adminToken = findAdminToken(debugUrl);
          if (!adminToken) {
            throw new CliError(`no admin token for ${debugUrl} (the pod's workload token is minted with it): set $CLEW_CONTROL_PLANE_TOKEN, or run as the control plane's user`, 1, 'CLEW_LOCAL_CREDENTIALS');
          }
          return { debugUrl, adminToken, secureAddress };
        };
        const labels = parseLabels(flags.labels);
        if (Object.keys(labels).length === 0) labels.app = flags.name;
        const [app, ...args] = command;
        if (netns) {
          // --netns: the pod in its own network namespace (src/local/netns-run.ts); the control
          // plane is reached on the network's root address unless --xds-address says otherwise
          const xds = cmd.getOptionValueSource('xdsAddress') === 'default' ? '' : flags.xdsAddress;
          const cpGiven = cmd.getOptionValueSource('controlPlane') !== 'default';
          process.exit(await runNetnsPod({
            name: flags.name,
            namespace: flags.namespace,
            labels,
            serviceAccount: flags.serviceAccount ?? flags.name,
            ports: flags.port ?? [],
            app: app ? { command: app, args } : undefined,
            xdsAddress: xds,
            ...netnsSpecFromFlags(flags as unknown as Record<string, unknown>),
          }, {
            readyTimeoutMs: Number(flags.readyTimeout) * 1000,
            // by default the control plane is on the network's root address (as `clew demo --netns` runs it)
            controlPlane: (rootAddress) => {
              const host = xds ? parseHostPort(xds).host : rootAddress;
              return access(host, cpGiven ? flags.controlPlane : `http://${bracket(rootAddress)}:15014`);
            },
          }));
        }
        const addressing = await selectPodAddressing(flags.podAddressing);
        // the sidecar's ports: as given; with per-pod ports, those not given are leased
        const given = (flag: keyof RunFlags): number | undefined => (addressing.mode === 'port' && cmd.getOptionValueSource(flag) === 'default'
          ? undefined : parsePort(String(flags[flag])));
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
            outbound: given('outboundPort'),
            inbound: given('inboundPort'),
            admin: given('adminPort'),
            stats: given('statsPort'),
            ready: given('readyPort'),
          },
        }, {
          addressing,
          readyTimeoutMs: Number(flags.readyTimeout) * 1000,
          controlPlane: access(parseHostPort(flags.xdsAddress).host, flags.controlPlane),
        });
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
