/**
 * A pod in its own network namespace (`--netns`): the namespace and address come from
 * NetnsNetwork; inside it, `clew iptables` programs the capture rules (istio-init's step), the
 * sidecar runs as uid/gid 1337 with INTERCEPTION_MODE=REDIRECT (its own connections are not
 * captured again), and the app runs unchanged: no proxy variables, only PORT, POD_IP, POD_NAME
 * and POD_NAMESPACE. Service names resolve through the sidecar's DNS proxy (port 53 is captured).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { clewCommand, PACKAGE_ROOT } from './local-clew-bin.js';
import { LocalError } from './local-errors.js';
import { DEFAULT_PROXY_PORTS, sidecarArgs, type PodPlan, type PodSpec } from './local-pod.js';
import type { PodNetwork } from './pod-addressing.js';
import type { ChildSpec, ManagedChild, Supervisor } from './local-supervisor.js';
import type { NetnsNetwork, PodNet } from './netns-network.js';

/** The uid/gid the sidecar runs as (the capture rules let its traffic through). */
export const PROXY_UID = 1337;

export const MESH_DOMAIN = 'svc.cluster.local';

/** Capture choices of a pod (Istio's traffic.sidecar.istio.io annotations). */
export interface NetnsCapture {
  /** -d: inbound ports not captured (besides 15090, 15021, 15020) */
  excludeInboundPorts?: number[];
  /** -b: only these inbound ports captured (default all) */
  includeInboundPorts?: number[];
  /** -o: outbound ports not captured */
  excludeOutboundPorts?: number[];
  /** -x: outbound CIDRs not captured */
  excludeOutboundIpRanges?: string[];
  /** -i: outbound CIDRs captured (default all) */
  includeOutboundIpRanges?: string[];
  /** REDIRECT (default) or TPROXY for inbound */
  interceptionMode?: 'REDIRECT' | 'TPROXY';
}

export interface NetnsPodSpec extends PodSpec {
  host?: string;
  /** no sidecar and no capture: a plain namespace (a client outside the mesh, an "outside" server) */
  noSidecar?: boolean;
  capture?: NetnsCapture;
  /** the pod's name servers (resolv.conf); DNS to them is captured by the sidecar's DNS proxy */
  dnsServers?: string[];
}

export interface NetnsPodPlan {
  spec: NetnsPodSpec;
  pod: PodNet;
  /** the PodPlan shape the shared sidecar arguments are built from */
  plan: PodPlan;
}

/** The name servers of this machine (the default upstream of the pods' DNS). */
export function hostNameServers(): string[] {
  try {
    const text = readFileSync('/etc/resolv.conf', 'utf8');
    return text.split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((s): s is string => !!s && !s.startsWith('127.'));
  } catch {
    return [];
  }
}

/** resolv.conf of a pod in mesh namespace `namespace` (Kubernetes' search path and ndots). */
export function podResolvConf(namespace: string, servers: string[]): string {
  return [
    `search ${namespace}.${MESH_DOMAIN} ${MESH_DOMAIN} cluster.local`,
    ...servers.map((s) => `nameserver ${s}`),
    'options ndots:5',
    '',
  ].join('\n');
}

/** The sidecar, as uid 1337, must read the package (a home directory of mode 0700 stops it). */
export function checkSidecarCanRead(): void {
  const r = spawnSync('setpriv', ['--reuid', String(PROXY_UID), '--regid', String(PROXY_UID), '--clear-groups', process.execPath, '-e',
    `require('fs').accessSync(${JSON.stringify(`${PACKAGE_ROOT}bin/clew.js`)}, require('fs').constants.R_OK)`], { encoding: 'utf8' });
  if (r.error) throw new LocalError('CLEW_LOCAL_NETNS', `setpriv (util-linux) is needed to run the sidecar as uid ${PROXY_UID}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new LocalError('CLEW_LOCAL_NETNS', `the sidecar runs as uid ${PROXY_UID} and cannot read ${PACKAGE_ROOT} (make it and its parent directories readable by other users)`);
  }
}

/** Creates the pod's namespace (address, route, resolv.conf) on its host. */
export function planNetnsPod(network: NetnsNetwork, spec: NetnsPodSpec): NetnsPodPlan {
  const servers = spec.dnsServers ?? hostNameServers();
  const pod = network.addPod({ name: spec.name, namespace: spec.namespace, host: spec.host, resolvConf: podResolvConf(spec.namespace, servers) });
  // the namespace is the pod's: its own address, the well-known ports, nothing leased
  const net: PodNetwork = { address: pod.ip, proxyPorts: { ...DEFAULT_PROXY_PORTS }, inboundPorts: new Map(), appPorts: new Map(), files: [], release: () => {} };
  const plan: PodPlan = { spec, address: pod.ip, network: net, proxyPorts: net.proxyPorts, inboundPorts: net.inboundPorts, appPorts: net.appPorts };
  return { spec: { ...spec, dnsServers: servers }, pod, plan };
}

/** `clew iptables` arguments for the pod (istio-init's, with the pod's annotations). */
export function iptablesArgs(p: NetnsPodPlan): string[] {
  const c = p.spec.capture ?? {};
  const args = ['iptables', '-m', c.interceptionMode ?? 'REDIRECT'];
  args.push('-d', [15090, 15021, 15020, ...(c.excludeInboundPorts ?? [])].join(','));
  if (c.includeInboundPorts) args.push('-b', c.includeInboundPorts.join(','));
  if (c.excludeOutboundPorts?.length) args.push('-o', c.excludeOutboundPorts.join(','));
  if (c.excludeOutboundIpRanges?.length) args.push('-x', c.excludeOutboundIpRanges.join(','));
  if (c.includeOutboundIpRanges) args.push('-i', c.includeOutboundIpRanges.join(','));
  const servers = p.spec.dnsServers ?? [];
  if (servers.length > 0) args.push('--redirect-dns', '--dns-servers', servers.join(','));
  return args;
}

/** Runs `clew iptables` inside the pod's namespace (before the sidecar and the app start). */
export function applyPodCapture(p: NetnsPodPlan): void {
  const cmd = clewCommand(iptablesArgs(p));
  const r = spawnSync('ip', ['netns', 'exec', p.pod.ns, cmd.command, ...cmd.args], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new LocalError('CLEW_LOCAL_NETNS', `capture rules for ${p.spec.name}: ${(r.stderr || r.stdout || r.error?.message || '').trim()}`);
}

/** The sidecar's `clew proxy` arguments: the shared ones (local-pod.ts), in REDIRECT/TPROXY mode. */
export function netnsSidecarArgs(p: NetnsPodPlan): string[] {
  const args = sidecarArgs(p.plan);
  const i = args.indexOf('--interception-mode');
  if (i >= 0) args[i + 1] = p.spec.capture?.interceptionMode ?? 'REDIRECT';
  // Istio binds the admin port to localhost only; stats and readiness stay on the pod address
  args.push('--admin-address', '127.0.0.1');
  // DNS to the pod's name servers is captured: the sidecar answers it (istio-agent's DNS proxy)
  if ((p.spec.dnsServers ?? []).length > 0) args.push('--dns-capture');
  return args;
}

/** The sidecar as a child: inside the pod's namespace, as uid/gid 1337 (TPROXY: with CAP_NET_ADMIN). */
export function netnsSidecarSpec(p: NetnsPodPlan): ChildSpec {
  const cmd = clewCommand(netnsSidecarArgs(p));
  const caps = p.spec.capture?.interceptionMode === 'TPROXY' ? ['--inh-caps', '+net_admin', '--ambient-caps', '+net_admin'] : [];
  return {
    name: `${p.spec.label ?? p.spec.name}/proxy`,
    command: 'ip',
    args: ['netns', 'exec', p.pod.ns, 'setpriv', '--reuid', String(PROXY_UID), '--regid', String(PROXY_UID), '--clear-groups', ...caps, cmd.command, ...cmd.args],
  };
}

export function startNetnsSidecar(sup: Supervisor, p: NetnsPodPlan): ManagedChild {
  return sup.spawn(netnsSidecarSpec(p));
}

const PROXY_VARIABLES = /^(https?_proxy|all_proxy|no_proxy|grpc_proxy)$/i;

/** The app's environment: the caller's minus proxy variables, plus the pod's identity. */
export function netnsAppEnv(p: NetnsPodPlan, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!PROXY_VARIABLES.test(k)) env[k] = v;
  Object.assign(env, p.spec.app?.env ?? {});
  for (const k of Object.keys(env)) if (PROXY_VARIABLES.test(k)) delete env[k];
  env.POD_NAME = p.spec.name;
  env.POD_NAMESPACE = p.spec.namespace;
  env.POD_IP = p.pod.ip;
  delete env.HOST;
  const first = p.spec.ports[0];
  if (first !== undefined) env.PORT = String(first);
  else delete env.PORT;
  return env;
}

export function startNetnsApp(sup: Supervisor, p: NetnsPodPlan): ManagedChild {
  const app = p.spec.app;
  if (!app) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `${p.spec.name} has no app to start`);
  return sup.spawn({
    name: p.spec.label ?? p.spec.name,
    command: 'ip',
    args: ['netns', 'exec', p.pod.ns, app.command, ...app.args],
    env: netnsAppEnv(p),
    cwd: app.cwd,
  });
}

export function netnsReadyUrl(p: NetnsPodPlan): string {
  return `http://${p.pod.ip}:${p.plan.proxyPorts.ready}/healthz/ready`;
}

/** Human lines describing the pod. */
export function describeNetnsPod(p: NetnsPodPlan): string[] {
  const lines = [`  host ${p.pod.host}, ${p.spec.noSidecar ? 'no sidecar' : `sidecar (uid ${PROXY_UID}, capture ${p.spec.capture?.interceptionMode ?? 'REDIRECT'})`}`];
  for (const port of p.spec.ports) lines.push(`  port ${port}: app on ${p.pod.ip}:${port}${p.spec.noSidecar ? '' : ' (inbound through the sidecar)'}`);
  if (!p.spec.noSidecar) lines.push(`  stats http://${p.pod.ip}:15090/stats/prometheus  ready ${netnsReadyUrl(p)}`);
  lines.push(`  shell: ip netns exec ${p.pod.ns} sh`);
  return lines;
}
