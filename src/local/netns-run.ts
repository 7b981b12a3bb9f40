/**
 * `clew run --netns`: one pod in its own network namespace, in the foreground (root). The first
 * line printed is the pod's namespace and address. Then: the capture rules, the sidecar (uid
 * 1337) until ready, the app unchanged. They share their fate as in loopback mode; on exit,
 * Ctrl-C, SIGTERM or the death of either, the namespace and everything in it is removed (the
 * network too when it was the last pod); if this process is killed, the guard removes it, and a
 * later start removes what a killed guard left.
 */
import type { Command } from 'commander';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchRootCert, PodTokenFile, type ControlPlaneAccess } from './local-credentials.js';
import { LocalConsole } from './local-console.js';
import { LocalError } from './local-errors.js';
import { RestartingChild } from './local-restart.js';
import { Supervisor, type ManagedChild } from './local-supervisor.js';
import { awaitRunSidecar, runUntilAppOrSignal } from './run-lifecycle.js';
import { NetnsGuard } from './netns-guard.js';
import { netnsRootCheck, NetnsNetwork, type NetnsNetworkOptions } from './netns-network.js';
import {
  applyPodCapture, checkSidecarCanRead, describeNetnsPod, netnsReadyUrl, PROXY_UID, netnsSidecarSpec, planNetnsPod, startNetnsApp, type NetnsPodSpec,
} from './netns-pod.js';

export interface NetnsRunOptions {
  console?: LocalConsole;
  network?: NetnsNetworkOptions;
  readyTimeoutMs?: number;
  /** where the sidecar's credentials come from (given the network's root address); none: no identity */
  controlPlane?: (rootAddress: string) => ControlPlaneAccess;
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
  const stop = sup.awaitStopSignal((sig) => con.info(`clew run: ${sig}, stopping ${spec.name}`));
  let planned = false;
  let token: PodTokenFile | undefined;
  let credsDir: string | undefined;
  try {
    const p = planNetnsPod(network, { ...spec, xdsAddress: spec.xdsAddress || `${network.rootAddress}:15010` });
    planned = true;
    con.info(`netns ${p.pod.ns} ip ${p.pod.ip}`);
    con.info(`pod ${spec.name}.${spec.namespace} in network namespace ${p.pod.ns} at ${p.pod.ip}`);
    for (const l of describeNetnsPod(p)) con.info(l);
    let sidecar: ManagedChild | undefined;
    let restarting: RestartingChild | undefined;
    if (!spec.noSidecar && opts.controlPlane) {
      // a workload token and the root, readable by the sidecar's uid (1337) only
      const access = opts.controlPlane(network.rootAddress);
      const rootCert = await fetchRootCert(access);
      credsDir = mkdtempSync(join(tmpdir(), 'clew-netns-creds-'));
      chownSync(credsDir, PROXY_UID, PROXY_UID);
      token = await PodTokenFile.create(access, {
        name: spec.name, namespace: spec.namespace, serviceAccount: spec.serviceAccount, address: p.pod.ip, labels: spec.labels,
      }, rootCert, { dir: credsDir, owner: PROXY_UID, log: (l) => con.info(l) });
      p.plan.spec.credentials = token.credentials();
    }
    if (!spec.noSidecar) {
      applyPodCapture(p);
      restarting = new RestartingChild(sup, netnsSidecarSpec(p), `the sidecar of ${spec.name}`);
      sidecar = restarting.current;
      const failed = await awaitRunSidecar({ con, name: spec.name, sidecar, readyUrl: netnsReadyUrl(p), stop, timeoutMs: opts.readyTimeoutMs ?? 60_000 });
      if (failed !== undefined) return failed;
      // from now on a sidecar that dies is restarted (the capture rules stay), the app keeps running
      restarting.arm();
    }
    const app = spec.app ? startNetnsApp(sup, p) : undefined;
    if (app) con.info(`app ${spec.app!.command} started (pid ${app.pid})`);
    if (!app && !sidecar) return 0;
    return await runUntilAppOrSignal({ con, sup, app, restarting, stop });
  } finally {
    await sup.stop();
    stop.uninstall();
    if (planned) network.removePod(spec.name, spec.namespace);
    token?.stop();
    if (credsDir) rmSync(credsDir, { recursive: true, force: true });
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
