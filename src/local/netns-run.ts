/**
 * `clew run --netns`: one pod in its own network namespace, in the foreground (root). The first
 * line printed is the pod's namespace and address. Then: the capture rules, the sidecar (uid
 * 1337) until ready, the app unchanged. They share their fate as in loopback mode; on exit,
 * Ctrl-C, SIGTERM or the death of either, the namespace and everything in it is removed (the
 * network too when it was the last pod); if this process is killed, the guard removes it, and a
 * later start removes what a killed guard left.
 */
import type { Command } from 'commander';
import { LocalConsole } from './local-console.js';
import { LocalError } from './local-errors.js';
import { httpReady, waitReady } from './local-readiness.js';
import { RestartingChild } from './local-restart.js';
import { exitCodeOf, Supervisor, type ManagedChild } from './local-supervisor.js';
import { NetnsGuard } from './netns-guard.js';
import { netnsRootCheck, NetnsNetwork, type NetnsNetworkOptions } from './netns-network.js';
import {
  applyPodCapture, checkSidecarCanRead, describeNetnsPod, netnsReadyUrl, netnsSidecarSpec, planNetnsPod, startNetnsApp, type NetnsPodSpec,
} from './netns-pod.js';

export interface NetnsRunOptions {
  console?: LocalConsole;
  network?: NetnsNetworkOptions;
  readyTimeoutMs?: number;
}

export async function runNetnsPod(spec: NetnsPodSpec, opts: NetnsRunOptions = {}): Promise<number> {
  netnsRootCheck();
  const con = opts.console ?? new LocalConsole();
  const network = new NetnsNetwork(opts.network);
  const cleaned = network.gc();
  for (const p of cleaned) con.info(`clew run: removed the leftover pod ${p.name}.${p.namespace} (${p.ns}) of a run that was killed`);
  if (!spec.noSidecar) checkSidecarCanRead();
  const guard = new NetnsGuard(network);
  const sup = new Supervisor({ console: con });
  let signalled: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  const woken = new Promise<void>((r) => (wake = r));
  const uninstall = sup.onSignals((sig) => {
    if (signalled) return;
    signalled = sig;
    con.info(`clew run: ${sig}, stopping ${spec.name}`);
    wake();
  });
  let planned = false;
  try {
    const p = planNetnsPod(network, { ...spec, xdsAddress: spec.xdsAddress || `${network.rootAddress}:15010` });
    planned = true;
    con.info(`netns ${p.pod.ns} ip ${p.pod.ip}`);
    con.info(`pod ${spec.name}.${spec.namespace} in network namespace ${p.pod.ns} at ${p.pod.ip}`);
    for (const l of describeNetnsPod(p)) con.info(l);
    let sidecar: ManagedChild | undefined;
    let restarting: RestartingChild | undefined;
    if (!spec.noSidecar) {
      applyPodCapture(p);
      restarting = new RestartingChild(sup, netnsSidecarSpec(p), `the sidecar of ${spec.name}`);
      sidecar = restarting.current;
      try {
        await Promise.race([
          waitReady([{ label: `${spec.name} sidecar`, check: () => httpReady(netnsReadyUrl(p)) }], {
            console: con,
            title: 'Waiting for the sidecar',
            timeoutMs: opts.readyTimeoutMs ?? 60_000,
            abort: () => (signalled ? `interrupted by ${signalled}` : sidecar!.exit ? `sidecar exited (code ${exitCodeOf(sidecar!.exit)})` : undefined),
          }),
          woken,
        ]);
      } catch (err) {
        con.info(`clew run: ${(err as Error).message}`);
        return sidecar.exit ? exitCodeOf(sidecar.exit) || 1 : 1;
      }
      if (signalled) return 130;
      // from now on a sidecar that dies is restarted (the capture rules stay), the app keeps running
      restarting!.arm();
    }
    const app = spec.app ? startNetnsApp(sup, p) : undefined;
    if (app) con.info(`app ${spec.app!.command} started (pid ${app.pid})`);
    if (!app && !sidecar) return 0;
    const first = await Promise.race([
      ...(app ? [app.exited.then(() => 'app' as const)] : []),
      woken.then(() => 'signal' as const),
    ]);
    restarting?.disarm();
    if (first === 'app') con.info(`clew run: the app exited (code ${exitCodeOf(app!.exit!)}), stopping the sidecar`);
    await sup.stop();
    if (app?.exit) return exitCodeOf(app.exit);
    return 130;
  } finally {
    await sup.stop();
    uninstall();
    if (planned) network.removePod(spec.name, spec.namespace);
    guard.close();
  }
}

/** `clew run` flags of the netns mode (kept here so cmd-run.ts only dispatches). */
export function addNetnsRunOptions(cmd: Command): Command {
  return cmd
    .option('--netns', 'run the pod in its own network namespace (root): transparent capture, DNS through the sidecar, the app unchanged')
    .option('--host <name>', 'with --netns: the "machine" (a host namespace with its own bridge and subnet) the pod runs on', 'local')
    .option('--no-sidecar', 'with --netns: a plain namespace, no sidecar and no capture (a client outside the mesh)')
    .option('--dns-server <ip>', 'with --netns: a name server of the pod (repeatable; default: this machine\'s); DNS to it goes through the sidecar', (v: string, prev: string[] = []) => [...prev, v])
    .option('--exclude-inbound-ports <ports>', 'with --netns: inbound ports not captured (traffic.sidecar.istio.io/excludeInboundPorts)')
    .option('--exclude-outbound-ports <ports>', 'with --netns: outbound ports not captured')
    .option('--exclude-outbound-ip-ranges <cidrs>', 'with --netns: outbound CIDRs not captured')
    .option('--include-outbound-ip-ranges <cidrs>', "with --netns: outbound CIDRs captured (default '*')")
    .option('--interception-mode <mode>', 'with --netns: REDIRECT (default) or TPROXY for inbound');
}

const ports = (v: string | undefined, flag: string): number[] | undefined => {
  if (v === undefined) return undefined;
  return v.split(',').filter(Boolean).map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `${flag}: invalid port ${JSON.stringify(p)}`);
    return n;
  });
};

/** The netns part of a pod spec from `clew run` flags. */
export function netnsSpecFromFlags(flags: Record<string, any>): Pick<NetnsPodSpec, 'host' | 'noSidecar' | 'dnsServers' | 'capture'> {
  const mode = flags.interceptionMode ? String(flags.interceptionMode).toUpperCase() : undefined;
  if (mode !== undefined && mode !== 'REDIRECT' && mode !== 'TPROXY') throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', '--interception-mode must be REDIRECT or TPROXY');
  const cidrs = (v: string | undefined): string[] | undefined => (v === undefined ? undefined : v.split(',').filter(Boolean));
  return {
    host: flags.host,
    noSidecar: flags.sidecar === false,
    dnsServers: flags.dnsServer,
    capture: {
      excludeInboundPorts: ports(flags.excludeInboundPorts, '--exclude-inbound-ports'),
      excludeOutboundPorts: ports(flags.excludeOutboundPorts, '--exclude-outbound-ports'),
      excludeOutboundIpRanges: cidrs(flags.excludeOutboundIpRanges),
      includeOutboundIpRanges: cidrs(flags.includeOutboundIpRanges),
      interceptionMode: mode as 'REDIRECT' | 'TPROXY' | undefined,
    },
  };
}
