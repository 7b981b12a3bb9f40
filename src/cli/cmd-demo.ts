/**
 * `clew demo [--detach]` and `clew demo stop`: Bookinfo + httpbin in the mesh, on this machine,
 * without root. See src/local/local-demo*.ts.
 */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { CliError, UsageError } from './errors.js';
import { parsePort } from './cli-options.js';
import { detachDemo } from '../local/local-demo-detach.js';
import { runDemo } from '../local/local-demo-run.js';
import { stopDemo } from '../local/local-demo-stop.js';
import { LocalError } from '../local/local-errors.js';
import { parsePodAddressingMode } from '../local/pod-addressing.js';
import { assertLocalModeSupported, assertNetnsSupported } from '../local/local-platform.js';

interface DemoFlags {
  detach?: boolean;
  supervise?: boolean;
  gatewayPort: string;
  xdsPort: string;
  secureXdsPort: string;
  debugPort: string;
  dashboardPort: string;
  configDir?: string;
  meshConfig?: string;
  readyTimeout: string;
  logFile?: string;
  netns?: boolean;
  podAddressing?: string;
  hosts?: string;
  controlPlaneHost?: string;
  dnsServer?: string[];
}

function toCliError(err: unknown): unknown {
  if (!(err instanceof LocalError)) return err;
  if (err.code === 'CLEW_LOCAL_BAD_ARGUMENT') return new UsageError(err.message);
  return new CliError(err.message, 1, err.code);
}

export function register(program: Command): void {
  const demo = program
    .command('demo')
    .description('run Bookinfo and httpbin in the mesh on this machine (control plane, sidecars, ingress gateway)')
    .option('--detach', 'return once everything is ready and leave it running (stop with: clew demo stop)')
    .option('--gateway-port <port>', "where the Gateway's port 80 is served on 127.0.0.1", '8080')
    .option('--xds-port <port>', 'control-plane xDS port', '15010')
    .option('--secure-xds-port <port>', 'control-plane TLS port (certificates and xDS over TLS)', '15012')
    .option('--debug-port <port>', 'control-plane debug port (clew apply/get/delete talk to it)', '15014')
    .option('--dashboard-port <port>', 'where the dashboard is served on 127.0.0.1 (0: not served)', '20001')
    .option('--config-dir <dir>', 'control-plane config dir (default: a temporary one seeded with the samples)')
    .option('--mesh-config <file>', 'Istio MeshConfig YAML for the control plane (access logs, tracing, extensionProviders)')
    .option('--ready-timeout <seconds>', 'how long to wait for everything to be ready', '90')
    .option('--pod-addressing <mode>', 'loopback-ip: every pod on its own 127.0.x.y (Linux); port: every pod on 127.0.0.1 with its own ports (macOS); default $CLEW_POD_ADDRESSING, else loopback-ip where 127.0.1.1 can be bound, else port')
    .option('--netns', 'pods in network namespaces (root, Linux): transparent capture, DNS through the sidecars, apps unchanged')
    .option('--hosts <names>', 'with --netns: spread the pods over these "machines" (host namespaces with their own bridge and subnet), e.g. a,b,c')
    .option('--control-plane-host <name>', 'with --netns: run the control plane on this host (default: the root namespace)')
    .option('--dns-server <ip>', "with --netns: the pods' name server (repeatable; default: this machine's)", (v: string, prev: string[] = []) => [...prev, v])
    .addOption(new Option('--supervise', 'internal: the background supervisor of --detach').hideHelp())
    .addOption(new Option('--log-file <file>', 'internal').hideHelp())
    .action(async (flags: DemoFlags) => {
      try {
        assertLocalModeSupported();
        if (flags.netns) assertNetnsSupported();
        if (flags.netns && flags.podAddressing !== undefined) throw new UsageError('--pod-addressing is for pods on loopback; --netns gives every pod its own network namespace');
        const opts = {
          gatewayPort: parsePort(flags.gatewayPort, '--gateway-port'),
          xdsPort: parsePort(flags.xdsPort, '--xds-port'),
          secureXdsPort: parsePort(flags.secureXdsPort, '--secure-xds-port'),
          debugPort: parsePort(flags.debugPort, '--debug-port'),
          dashboardPort: flags.dashboardPort === '0' ? 0 : parsePort(flags.dashboardPort, '--dashboard-port'),
          configDir: flags.configDir,
          meshConfig: flags.meshConfig ? resolve(flags.meshConfig) : undefined,
          readyTimeoutMs: Number(flags.readyTimeout) * 1000,
          detached: Boolean(flags.detach || flags.supervise),
          logFile: flags.logFile,
          podAddressing: flags.podAddressing !== undefined ? parsePodAddressingMode(flags.podAddressing, '--pod-addressing') : undefined,
          netns: flags.netns ? {
            hosts: (flags.hosts ?? '').split(',').map((h) => h.trim()).filter(Boolean),
            controlPlaneHost: flags.controlPlaneHost,
            dnsServers: flags.dnsServer,
          } : undefined,
        };
        const code = flags.detach && !flags.supervise ? await detachDemo(opts) : await runDemo(opts);
        process.exit(code);
      } catch (err) {
        throw toCliError(err);
      }
    });
  demo
    .command('stop')
    .description('stop the demo started with clew demo --detach (or running in another terminal)')
    .action(async () => {
      try {
        const r = await stopDemo();
        process.stdout.write(`clew demo: stopped (supervisor pid ${r.supervisorPid})\n`);
      } catch (err) {
        throw toCliError(err);
      }
    });
}
