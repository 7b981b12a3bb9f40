/**
 * `clew demo`: the control plane, every Bookinfo workload and httpbin with their sidecars, a
 * sidecar-only mesh client ("fortio") and the ingress gateway, all children of one supervisor.
 * Resolves once Bookinfo answers through the gateway; the handle stops everything. Once ready, a
 * control plane, sidecar or gateway that dies is restarted with backoff (local-restart.ts): the
 * data plane keeps serving on its last config while the control plane is away, as outside the demo.
 */
import { rmSync } from 'node:fs';
import { BOOKINFO_WORKLOADS, HTTPBIN_WORKLOADS, samplePath, type SampleWorkload } from '../../samples/manifest.js';
import type { LocalConsole } from './local-console.js';
import { clewCommand } from './local-clew-bin.js';
import { seedDemoConfigDir, writeDemoMeshConfig } from './local-demo-config.js';
import { demoStatePath, removeDemoState, runningDemo, writeDemoState, type DemoState } from './local-demo-state.js';
import { LocalError } from './local-errors.js';
import { adminTokenOf, fetchRootCert, PodTokenFile, type ControlPlaneAccess } from './local-credentials.js';
import { startDashboardServer, type DashboardServer } from '../dashboard/dashboard-server.js';
import { inboundPortOf, planPod, readyUrl, sidecarSpec, startApp, outboundUrl, type PodPlan, type PodSpec } from './local-pod.js';
import { selectPodAddressing } from './pod-addressing-select.js';
import { RestartingChild } from './local-restart.js';
import type { NetnsDemoSettings } from './netns-demo.js';
import { assertPortsFree, freePorts } from './local-ports.js';
import { httpReady, tcpReady, waitReady } from './local-readiness.js';
import { Supervisor, type ManagedChild } from './local-supervisor.js';

export interface DemoOptions {
  gatewayPort: number;
  xdsPort: number;
  /** the control plane's TLS port (certificate service, ADS over TLS) */
  secureXdsPort: number;
  debugPort: number;
  /** where `clew dashboard` is served on 127.0.0.1 by the demo (0: not served) */
  dashboardPort?: number;
  configDir?: string;
  /** --mesh-config for the control plane (an absolute path) */
  meshConfig?: string;
  stateDir?: string;
  readyTimeoutMs: number;
  detached: boolean;
  logFile?: string;
  /** polled while starting: a message aborts the start (e.g. Ctrl-C) */
  abort?: () => string | undefined;
  /** `--netns`: pods in network namespaces (src/local/netns-demo.ts) */
  netns?: NetnsDemoSettings;
  /** `--pod-addressing loopback-ip|port` (else $CLEW_POD_ADDRESSING, else what the machine can do: pod-addressing.ts) */
  podAddressing?: string;
}

export interface DemoHandle {
  state: DemoState;
  supervisor: Supervisor;
  /** the control plane, sidecars and gateway, restarted when they die */
  restarting: RestartingChild[];
  stop(): Promise<void>;
}

const GATEWAY = { name: 'istio-ingressgateway', namespace: 'istio-system' };

function sampleSpec(w: SampleWorkload, xdsAddress: string): PodSpec {
  return {
    name: w.name,
    namespace: w.namespace,
    labels: w.labels,
    serviceAccount: w.serviceAccount,
    ports: w.ports,
    app: { command: process.execPath, args: [samplePath(w.script)], env: w.env },
    xdsAddress,
  };
}

/** Refuses to start over a running demo or on busy control-plane/gateway ports. */
export async function checkDemoCanStart(opts: DemoOptions): Promise<void> {
  const running = runningDemo(opts.stateDir);
  if (running) {
    throw new LocalError(
      'CLEW_LOCAL_DEMO_RUNNING',
      `a demo is already running (pid ${running.supervisorPid}, ${running.gateway.url}); stop it with: clew demo stop`,
    );
  }
  try {
    await assertPortsFree('127.0.0.1', [
      { port: opts.xdsPort, what: 'control-plane xDS, --xds-port' },
      { port: opts.secureXdsPort, what: 'control-plane TLS, --secure-xds-port' },
      { port: opts.debugPort, what: 'control-plane debug, --debug-port' },
      { port: opts.gatewayPort, what: 'ingress gateway, --gateway-port' },
      ...(opts.dashboardPort ? [{ port: opts.dashboardPort, what: 'dashboard, --dashboard-port' }] : []),
    ]);
  } catch (err) {
    if (!(err instanceof LocalError)) throw err;
    throw new LocalError(err.code, `${err.message}. Is another control plane or demo running? Stop it, or choose other ports.`);
  }
}

export async function startDemo(opts: DemoOptions, con: LocalConsole): Promise<DemoHandle> {
  await checkDemoCanStart(opts);
  const addressing = await selectPodAddressing(opts.podAddressing);
  const xdsAddress = `127.0.0.1:${opts.xdsPort}`;
  const debugUrl = `http://127.0.0.1:${opts.debugPort}`;
  const configDirIsTemp = !opts.configDir;
  const configDir = opts.configDir ?? seedDemoConfigDir();
  const sup = new Supervisor({ console: con });
  // a demo killed outright (SIGKILL) leaves its temporary config dir to the orphan guard
  if (configDirIsTemp) sup.guardDir(configDir);
  const plans: PodPlan[] = [];
  const tokens: PodTokenFile[] = [];
  let stopped: Promise<void> | undefined;
  /** without --mesh-config: tracing to the control plane's Zipkin receiver */
  let demoMesh: { file: string; remove(): void } | undefined;
  let dashboard: DashboardServer | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await dashboard?.close();
      await sup.stop();
      for (const t of tokens) t.stop();
      for (const p of plans) p.network.release();
      removeDemoState(opts.stateDir, process.pid);
      demoMesh?.remove();
      if (configDirIsTemp) rmSync(configDir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const abort = (): string | undefined => opts.abort?.() || sup.exitedBeforeReady('the demo');
  try {
    con.info(`config dir: ${configDir}${configDirIsTemp ? ' (temporary, seeded with the samples)' : ''}`);
    con.info(`pod addressing: ${addressing.mode} (${addressing.reason})`);
    const cpCmd = clewCommand([
      'control-plane', '--config-dir', configDir, '--xds-port', String(opts.xdsPort), '--secure-xds-port', String(opts.secureXdsPort),
      '--debug-port', String(opts.debugPort),
      '--mesh-config', opts.meshConfig ?? (demoMesh = writeDemoMeshConfig(configDir, '127.0.0.1', opts.debugPort)).file,
    ]);
    const cpR = new RestartingChild(sup, { name: 'control-plane', command: cpCmd.command, args: cpCmd.args }, 'the control plane');
    const restarting: RestartingChild[] = [cpR];
    await waitReady([{ label: 'control plane', check: () => httpReady(`${debugUrl}/ready`) }], {
      console: con, title: 'Starting the control plane', timeoutMs: opts.readyTimeoutMs, abort,
    });

    for (const w of [...BOOKINFO_WORKLOADS, ...HTTPBIN_WORKLOADS]) plans.push(await planPod(sampleSpec(w, xdsAddress), opts.stateDir, addressing));
    const client = await planPod({
      name: 'fortio', namespace: 'default', labels: { app: 'fortio' }, serviceAccount: 'fortio', ports: [], xdsAddress,
    }, opts.stateDir, addressing);
    plans.push(client);
    // The gateway sits on 127.0.0.1 (the URL users expect); its own admin/ready/stats ports are
    // ephemeral there so they cannot clash with anything else on the host.
    const [outbound, inbound, admin, stats, ready] = await freePorts('127.0.0.1', 5);
    const gateway = await planPod({
      ...GATEWAY,
      labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
      serviceAccount: 'istio-ingressgateway-service-account',
      ports: [],
      xdsAddress,
      type: 'router',
      address: '127.0.0.1',
      proxyPorts: { outbound, inbound, admin, stats, ready },
      extraProxyArgs: opts.gatewayPort === 80 ? [] : ['--remap-port', `80=${opts.gatewayPort}`],
    }, opts.stateDir, addressing);
    plans.push(gateway);
    for (const p of plans) for (const f of p.network.files) sup.guardFile(f);
    // every pod (and the gateway) gets a workload token and the root: certificates, mTLS, ADS over TLS
    await giveCredentials(plans, {
      debugUrl, adminToken: adminTokenOf(configDir), secureAddress: `127.0.0.1:${opts.secureXdsPort}`,
    }, opts.stateDir, tokens, (line) => con.info(line));

    const sidecars = new Map<PodPlan, RestartingChild>();
    for (const p of plans) {
      const r = new RestartingChild(sup, sidecarSpec(p), p === gateway ? 'the ingress gateway' : `the sidecar of ${p.spec.name}`);
      sidecars.set(p, r);
      restarting.push(r);
    }
    await waitReady(plans.map((p) => ({ label: p.spec.name, check: () => httpReady(readyUrl(p)) })), {
      console: con, title: 'Waiting for the sidecars', timeoutMs: opts.readyTimeoutMs, abort,
    });
    const apps = new Map<PodPlan, ManagedChild>();
    for (const p of plans) if (p.spec.app) apps.set(p, startApp(sup, p));
    await waitReady([...apps.keys()].map((p) => ({
      label: p.spec.name,
      check: () => tcpReady(p.address, p.appPorts.get(p.spec.ports[0])!),
    })), { console: con, title: 'Waiting for the apps', timeoutMs: opts.readyTimeoutMs, abort });
    const pageUrl = `http://127.0.0.1:${opts.gatewayPort}/productpage`;
    await waitReady([{ label: 'productpage through the gateway', check: () => httpReady(pageUrl, 5000) }], {
      console: con, title: 'Waiting for Bookinfo', timeoutMs: opts.readyTimeoutMs, abort,
    });

    if (opts.dashboardPort) {
      dashboard = await startDashboardServer({ address: '127.0.0.1', port: opts.dashboardPort, controlPlane: debugUrl });
    }
    const state: DemoState = {
      version: 1,
      supervisorPid: process.pid,
      guardPid: sup.guardPid,
      startedAt: new Date().toISOString(),
      detached: opts.detached,
      logFile: opts.logFile,
      configDir,
      configDirIsTemp,
      controlPlane: { pid: cpR.current.pid, xdsAddress, debugUrl },
      ...(demoMesh ? { tracing: true } : {}),
      podAddressing: { mode: addressing.mode, reason: addressing.reason },
      gateway: { pid: sidecars.get(gateway)!.current.pid, address: '127.0.0.1', port: opts.gatewayPort, url: pageUrl },
      client: { pid: sidecars.get(client)!.current.pid, address: client.address, proxyUrl: outboundUrl(client) },
      ...(dashboard ? { dashboard: { url: dashboard.url } } : {}),
      pods: plans.filter((p) => p.spec.app).map((p) => ({
        name: p.spec.name,
        namespace: p.spec.namespace,
        address: p.address,
        ports: Object.fromEntries(p.spec.ports.map((k) => [String(k), inboundPortOf(p, k)])),
        adminPort: p.proxyPorts.admin,
        appPorts: Object.fromEntries([...p.appPorts].map(([k, v]) => [String(k), v])),
        sidecarPid: sidecars.get(p)!.current.pid,
        appPid: apps.get(p)?.pid,
      })),
      pids: sup.children.map((c) => c.pid).filter((pid) => pid > 0),
    };
    writeDemoState(state, opts.stateDir);
    sup.guardFile(demoStatePath(opts.stateDir));
    // ready: from now on what dies comes back; the state file follows the new pids
    const onRestart = (): void => {
      state.controlPlane.pid = cpR.current.pid;
      state.gateway.pid = sidecars.get(gateway)!.current.pid;
      state.client.pid = sidecars.get(client)!.current.pid;
      for (const pod of state.pods) {
        const plan = plans.find((p) => p.spec.name === pod.name);
        if (plan) pod.sidecarPid = sidecars.get(plan)!.current.pid;
      }
      state.pids = sup.children.filter((c) => c.running).map((c) => c.pid);
      if (!stopped) writeDemoState(state, opts.stateDir);
    };
    for (const r of restarting) r.on('restart', onRestart).arm();
    return { state, supervisor: sup, restarting, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** What to tell the user once the demo is up. */
export function demoSummary(state: DemoState, opts: Pick<DemoOptions, 'debugPort' | 'gatewayPort'>): string[] {
  const cpFlag = opts.debugPort === 15014 ? '' : ` --control-plane ${state.controlPlane.debugUrl}`;
  const net = 'samples/bookinfo/networking';
  const lines = [
    '',
    `Bookinfo is ready: ${state.gateway.url}`,
  ];
  if (opts.gatewayPort !== 80) {
    lines.push(`  (the Gateway's port 80 is served on 127.0.0.1:${opts.gatewayPort}: ports below 1024 need root; --gateway-port changes it)`);
  }
  lines.push(
    `Control plane: xDS ${state.controlPlane.xdsAddress}, debug ${state.controlPlane.debugUrl}`,
    ...(state.dashboard ? [`Dashboard (traffic graph, services, config, proxies): ${state.dashboard.url}`] : [`Dashboard: clew dashboard${cpFlag}`]),
    ...(state.tracing ? [`Traces (every request sampled, received by the control plane at ${state.controlPlane.debugUrl}/api/v2/spans): ${state.dashboard ? `${state.dashboard.url}#/traces` : `clew dashboard${cpFlag}, page Traces`}`] : []),
    `Mesh client (fortio's sidecar): ${state.client.proxyUrl}`,
    ...(state.podAddressing ? [`Pod addressing: ${state.podAddressing.mode} (${state.podAddressing.reason})`] : []),
    'Workloads:',
    ...state.pods.map((p) => `  ${p.name.padEnd(16)} ${podEndpoints(p)}`),
    '',
    'Next steps:',
    `  clew apply -f ${net}/virtual-service-reviews-50-v3.yaml${cpFlag}      # 50% v1, 50% v3 (red stars)`,
    `  clew apply -f ${net}/virtual-service-reviews-jason-v2-v3.yaml${cpFlag} # jason: v2 (black), others: v3`,
    `  clew apply -f ${net}/virtual-service-ratings-test-delay.yaml${cpFlag}  # 7 s delay on ratings for jason`,
    `  clew apply -f ${net}/virtual-service-ratings-test-abort.yaml${cpFlag}  # HTTP 500 on ratings for jason`,
    `  clew apply -f samples/httpbin/destination-rule-circuit-breaker.yaml${cpFlag}`,
    `  clew load -c 3 -qps 0 -n 30 --proxy ${state.client.proxyUrl} http://httpbin:8000/get`,
    `  clew delete -f ${net}/virtual-service-ratings-test-abort.yaml${cpFlag}  # back to the original behaviour`,
    '',
    state.detached ? 'Stop it with: clew demo stop' : 'Stop it with Ctrl-C (or clew demo stop from another terminal)',
  );
  return lines;
}

/** `127.0.1.3` when the pod serves its ports as declared, else where each is (`9080 at 127.0.0.1:21007`). */
function podEndpoints(p: DemoState['pods'][number]): string {
  const moved = Object.entries(p.ports ?? {}).filter(([k, v]) => Number(k) !== v);
  if (moved.length === 0) return p.address;
  return moved.map(([k, v]) => `${k} at ${p.address}:${v}`).join(', ') + (p.adminPort ? `  (admin ${p.adminPort})` : '');
}

/** A workload token per pod (renewed while the demo runs) and the root certificate, in each plan's spec. */
export async function giveCredentials(
  plans: PodPlan[], access: ControlPlaneAccess, stateDir: string | undefined, tokens: PodTokenFile[], log: (line: string) => void,
): Promise<void> {
  const rootCert = await fetchRootCert(access);
  for (const p of plans) {
    const t = await PodTokenFile.create(access, {
      name: p.spec.name, namespace: p.spec.namespace, serviceAccount: p.spec.serviceAccount, address: p.address, labels: p.spec.labels,
    }, rootCert, { stateDir, log });
    tokens.push(t);
    p.spec.credentials = t.credentials();
  }
}
