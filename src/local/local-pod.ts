/**
 * A local "pod": a workload address, its sidecar (`clew proxy` in INTERCEPTION_MODE=NONE, binding
 * the workload's ports on that address) and optionally its app (listening on the same address at
 * free ports the sidecar forwards to, calling out through the sidecar as its HTTP proxy).
 * Shared by `clew run` (one pod) and `clew demo` (many, in one supervisor).
 */
import { allocateAddress, type AddressLease } from './local-address.js';
import { clewCommand } from './local-clew-bin.js';
import { LocalError } from './local-errors.js';
import { assertPortsFree, freePorts } from './local-ports.js';
import type { ChildSpec, ManagedChild, Supervisor } from './local-supervisor.js';
import { credentialArgs, type PodCredentials } from './local-credentials.js';

export interface ProxyPorts {
  outbound: number;
  inbound: number;
  admin: number;
  stats: number;
  ready: number;
}

export const DEFAULT_PROXY_PORTS: ProxyPorts = { outbound: 15001, inbound: 15006, admin: 15000, stats: 15090, ready: 15021 };

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
  lease?: AddressLease;
  proxyPorts: ProxyPorts;
  /** workload port -> the app's port on the pod address */
  appPorts: Map<number, number>;
}

export function proxyPortsOf(spec: PodSpec): ProxyPorts {
  return { ...DEFAULT_PROXY_PORTS, ...spec.proxyPorts };
}

/** Leases the address (unless fixed) and picks a free app port per workload port. */
export async function planPod(spec: PodSpec, stateDir?: string): Promise<PodPlan> {
  const proxyPorts = proxyPortsOf(spec);
  const needed = [proxyPorts.outbound, proxyPorts.admin, proxyPorts.stats, proxyPorts.ready, ...spec.ports];
  let address = spec.address;
  let lease: AddressLease | undefined;
  if (address) {
    await assertPortsFree(address, needed.map((port) => ({ port, what: `${spec.name}` })));
  } else {
    lease = await allocateAddress({ stateDir, owner: `${spec.name}.${spec.namespace}`, probePorts: needed });
    address = lease.address;
  }
  const appPorts = new Map<number, number>();
  if (spec.app && spec.ports.length > 0) {
    const free = await freePorts(address, spec.ports.length);
    spec.ports.forEach((p, i) => appPorts.set(p, free[i]));
  }
  return { spec, address, lease, proxyPorts, appPorts };
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
    lines.push(`  port ${p}: sidecar inbound ${address}:${p}${appPort ? ` -> app ${address}:${appPort}` : ''}`);
  }
  lines.push(`  outbound (HTTP_PROXY): ${outboundUrl(plan)}`);
  lines.push(`  admin http://${address}:${pp.admin}  ready ${readyUrl(plan)}`);
  return lines;
}
