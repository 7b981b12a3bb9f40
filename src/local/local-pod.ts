/**
 * A local "pod": a workload address and ports (pod-addressing.ts: its own 127.0.x.y, or its own
 * ports on 127.0.0.1), its sidecar (`clew proxy` in INTERCEPTION_MODE=NONE, binding the workload's
 * ports on that address) and optionally its app (listening on the same address at free ports the
 * sidecar forwards to, calling out through the sidecar as its HTTP proxy).
 * Shared by `clew run` (one pod) and `clew demo` (many, in one supervisor).
 */
import { clewCommand } from './local-clew-bin.js';
import { LocalError } from './local-errors.js';
import type { ChildSpec, ManagedChild, Supervisor } from './local-supervisor.js';
import { credentialArgs, type PodCredentials } from './local-credentials.js';
import { DEFAULT_PROXY_PORTS, type PodAddressing, type PodNetwork, type ProxyPorts } from './pod-addressing.js';
import { loopbackIpAddressing } from './pod-addressing-loopback.js';

export { DEFAULT_PROXY_PORTS, type ProxyPorts };

export interface PodSpec {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** the workload's (container) ports, bound by the sidecar on the pod address */
  ports: number[];
  /** the app; none for a sidecar-only pod (e.g. a mesh client) */
  app?: { command: string; args: string[]; env?: Record<string, string>; cwd?: string };
  xdsAddress: string;
  /**
   * the pod's workload credentials: the sidecar then gets its certificate from the CA and speaks
   * ADS over TLS on the secure address instead of `xdsAddress`
   */
  credentials?: PodCredentials;
  /** a fixed address; default: lease one */
  address?: string;
  type?: 'sidecar' | 'router';
  proxyPorts?: Partial<ProxyPorts>;
  /** more `clew proxy` flags (e.g. `--remap-port 80=8080` for the gateway) */
  extraProxyArgs?: string[];
  /** label of its processes in the output; default the name */
  label?: string;
}

export interface PodPlan {
  spec: PodSpec;
  address: string;
  /** the pod's address and ports, and their leases (`network.release()` gives them back) */
  network: PodNetwork;
  proxyPorts: ProxyPorts;
  /** workload port -> where its sidecar listener binds on the pod address (the EDS endpoint's port) */
  inboundPorts: Map<number, number>;
  /** workload port -> the app's port on the pod address */
  appPorts: Map<number, number>;
}

/** The pod's address and ports by `addressing` (default loopback-ip): leased unless fixed in the spec. */
export async function planPod(spec: PodSpec, stateDir?: string, addressing: PodAddressing = loopbackIpAddressing()): Promise<PodPlan> {
  const network = await addressing.allocate({
    owner: `${spec.name}.${spec.namespace}`, ports: spec.ports, app: !!spec.app, address: spec.address, proxyPorts: spec.proxyPorts,
  }, stateDir);
  return { spec, address: network.address, network, proxyPorts: network.proxyPorts, inboundPorts: network.inboundPorts, appPorts: network.appPorts };
}

/** Where workload port `p` is served on the pod address (its own port, unless the addressing moved it). */
export function inboundPortOf(plan: PodPlan, p: number): number {
  return plan.inboundPorts.get(p) ?? p;
}

export function sidecarArgs(plan: PodPlan): string[] {
  const { spec, address, proxyPorts: pp } = plan;
  const creds = spec.credentials;
  const args = [
    'proxy',
    '--xds-address', creds ? creds.secureAddress : spec.xdsAddress,
    ...(creds ? credentialArgs(creds) : []),
    '--id', `${spec.name}.${spec.namespace}`,
    '--type', spec.type ?? 'sidecar',
    '--service-account', spec.serviceAccount,
    '--address', address,
    '--interception-mode', 'NONE',
    '--outbound-port', String(pp.outbound),
    '--inbound-port', String(pp.inbound),
    '--admin-port', String(pp.admin),
    '--stats-port', String(pp.stats),
    '--ready-port', String(pp.ready),
  ];
  const labels = Object.entries(spec.labels).map(([k, v]) => `${k}=${v}`).join(',');
  if (labels) args.push('--labels', labels);
  for (const p of spec.ports) args.push('--port', String(p));
  for (const [p, appPort] of plan.appPorts) args.push('--app-port', `${p}=${address}:${appPort}`);
  // port addressing: workload port P is bound (and published as the endpoint's port) elsewhere
  for (const p of spec.ports) if (inboundPortOf(plan, p) !== p) args.push('--remap-port', `${p}=${inboundPortOf(plan, p)}`);
  args.push(...(spec.extraProxyArgs ?? []));
  return args;
}

/** The app's environment: where to listen, and the sidecar as its HTTP proxy. */
export function appEnv(plan: PodPlan, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { spec, address } = plan;
  const proxy = outboundUrl(plan);
  const env: NodeJS.ProcessEnv = {
    ...base,
    ...spec.app?.env,
    HOST: address,
    POD_NAME: spec.name,
    POD_NAMESPACE: spec.namespace,
    POD_IP: address,
    SERVICE_ACCOUNT: spec.serviceAccount,
    HTTP_PROXY: proxy,
    http_proxy: proxy,
    // only the host itself bypasses the sidecar; service names (reviews, httpbin...) never match
    NO_PROXY: 'localhost,127.0.0.1',
    no_proxy: 'localhost,127.0.0.1',
  };
  const first = spec.ports[0];
  if (first !== undefined && plan.appPorts.has(first)) env.PORT = String(plan.appPorts.get(first));
  for (const [p, appPort] of plan.appPorts) env[`PORT_${p}`] = String(appPort);
  return env;
}

export function outboundUrl(plan: PodPlan): string {
  return `http://${plan.address}:${plan.proxyPorts.outbound}`;
}

export function readyUrl(plan: PodPlan): string {
  return `http://${plan.address}:${plan.proxyPorts.ready}/healthz/ready`;
}

/** How the pod's sidecar is started (also what a restart starts again). */
export function sidecarSpec(plan: PodPlan): ChildSpec {
  const cmd = clewCommand(sidecarArgs(plan));
  const label = plan.spec.label ?? plan.spec.name;
  return { name: `${label}/proxy`, command: cmd.command, args: cmd.args };
}

export function startSidecar(sup: Supervisor, plan: PodPlan): ManagedChild {
  return sup.spawn(sidecarSpec(plan));
}

export function startApp(sup: Supervisor, plan: PodPlan): ManagedChild {
  const app = plan.spec.app;
  if (!app) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `${plan.spec.name} has no app to start`);
  const label = plan.spec.label ?? plan.spec.name;
  return sup.spawn({ name: label, command: app.command, args: app.args, env: appEnv(plan), cwd: app.cwd });
}

/** Human lines describing the pod: address, ports and who listens where. */
export function describePod(plan: PodPlan): string[] {
  const { spec, address, proxyPorts: pp } = plan;
  const lines = [`pod ${spec.name}.${spec.namespace} on ${address}`];
  for (const p of spec.ports) {
    const appPort = plan.appPorts.get(p);
    lines.push(`  port ${p}: sidecar inbound ${address}:${inboundPortOf(plan, p)}${appPort ? ` -> app ${address}:${appPort}` : ''}`);
  }
  lines.push(`  outbound (HTTP_PROXY): ${outboundUrl(plan)}`);
  lines.push(`  admin http://${address}:${pp.admin}  stats http://${address}:${pp.stats}/stats/prometheus  ready ${readyUrl(plan)}`);
  return lines;
}
