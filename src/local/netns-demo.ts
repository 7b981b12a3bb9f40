/**
 * `clew demo --netns` (root): Bookinfo and httpbin as pods in network namespaces, spread over one
 * or more "machines" (`--hosts a,b,c`, each a host namespace with its own bridge and subnet), every
 * pod with capture rules, its sidecar (uid 1337) and its app unchanged, names resolved through the
 * sidecars' DNS proxies; a sidecar-only `sleep` pod to run clients from; the control plane on the
 * network's root address (or on a host: `--control-plane-host`); the ingress gateway on
 * 127.0.0.1 as in loopback mode. Everything stops (namespaces, veths, routes removed) on Ctrl-C,
 * SIGTERM, `clew demo stop`, or, if the supervisor is killed, by the guard.
 */
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminTokenOf, fetchRootCert, PodTokenFile, type ControlPlaneAccess } from './local-credentials.js';
import { BOOKINFO_WORKLOADS, HTTPBIN_WORKLOADS, samplePath, type SampleWorkload } from '../../samples/manifest.js';
import type { LocalConsole } from './local-console.js';
import { clewCommand } from './local-clew-bin.js';
import { seedDemoConfigDir, writeDemoMeshConfig } from './local-demo-config.js';
import { demoStatePath, removeDemoState, runningDemo, writeDemoState, type DemoState } from './local-demo-state.js';
import type { DemoHandle, DemoOptions } from './local-demo.js';
import { LocalError } from './local-errors.js';
import { planPod, readyUrl, sidecarSpec } from './local-pod.js';
import { RestartingChild } from './local-restart.js';
import { assertPortsFree, freePorts } from './local-ports.js';
import { httpReady, tcpReady, waitReady } from './local-readiness.js';
import { Supervisor, type ManagedChild } from './local-supervisor.js';
import { NetnsGuard } from './netns-guard.js';
import { netnsRootCheck, NetnsNetwork, type NetnsNetworkOptions } from './netns-network.js';
import {
  applyPodCapture, checkSidecarCanRead, netnsReadyUrl, netnsSidecarSpec, planNetnsPod, PROXY_UID, startNetnsApp, type NetnsPodPlan, type NetnsPodSpec,
} from './netns-pod.js';

export interface NetnsDemoSettings {
  /** the "machines" pods are spread over, round robin (default: one, `local`) */
  hosts: string[];
  /** run the control plane inside this host's namespace instead of the root namespace */
  controlPlaneHost?: string;
  /** the pods' name servers (default: this machine's) */
  dnsServers?: string[];
  network?: NetnsNetworkOptions;
}

const GATEWAY = { name: 'istio-ingressgateway', namespace: 'istio-system' };

function sampleSpec(w: SampleWorkload, xdsAddress: string, host: string, dnsServers: string[] | undefined): NetnsPodSpec {
  return {
    name: w.name, namespace: w.namespace, labels: w.labels, serviceAccount: w.serviceAccount, ports: w.ports,
    app: { command: process.execPath, args: [samplePath(w.script)], env: w.env },
    xdsAddress, host, dnsServers,
  };
}

export async function startNetnsDemo(opts: DemoOptions, settings: NetnsDemoSettings, con: LocalConsole): Promise<DemoHandle> {
  netnsRootCheck();
  const running = runningDemo(opts.stateDir);
  if (running) throw new LocalError('CLEW_LOCAL_DEMO_RUNNING', `a demo is already running (pid ${running.supervisorPid}, ${running.gateway.url}); stop it with: clew demo stop`);
  await assertPortsFree('127.0.0.1', [{ port: opts.gatewayPort, what: 'ingress gateway, --gateway-port' }]);
  checkSidecarCanRead();
  const network = new NetnsNetwork({ stateDir: opts.stateDir, ...settings.network });
  for (const p of network.gc()) con.info(`removed the leftover pod ${p.name}.${p.namespace} (${p.ns}) of a run that was killed`);
  const hosts = settings.hosts.length > 0 ? settings.hosts : ['local'];
  const guard = new NetnsGuard(network);
  const configDirIsTemp = !opts.configDir;
  const configDir = opts.configDir ?? seedDemoConfigDir();
  const sup = new Supervisor({ console: con });
  // a demo killed outright (SIGKILL) leaves its temporary config dir to the orphan guard
  if (configDirIsTemp) sup.guardDir(configDir);
  const plans: NetnsPodPlan[] = [];
  let reserved = false;
  const tokens: PodTokenFile[] = [];
  let credsDir: string | undefined;
  let stopped: Promise<void> | undefined;
  /** without --mesh-config: tracing to the control plane's Zipkin receiver */
  let demoMesh: { file: string; remove(): void } | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await sup.stop();
      for (const t of tokens) t.stop();
      if (credsDir) rmSync(credsDir, { recursive: true, force: true });
      for (const p of plans) network.removePod(p.spec.name, p.spec.namespace);
      if (reserved) network.removePod('control-plane', '');
      guard.close();
      removeDemoState(opts.stateDir, process.pid);
      demoMesh?.remove();
      if (configDirIsTemp) rmSync(configDir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const abort = (): string | undefined => opts.abort?.() || sup.exitedBeforeReady('the demo');
  try {
    const cpAddress = network.reserve('control-plane', process.pid, settings.controlPlaneHost);
    reserved = true;
    const xdsAddress = `${cpAddress}:${opts.xdsPort}`;
    const debugUrl = `http://${cpAddress}:${opts.debugPort}`;
    con.info(`network ${network.prefix}: pod CIDR ${network.podCidr}, hosts ${hosts.join(', ')}; config dir ${configDir}`);
    const cpArgs = [
      'control-plane', '--config-dir', configDir, '--listen-address', cpAddress, '--debug-address', cpAddress,
      '--xds-port', String(opts.xdsPort), '--debug-port', String(opts.debugPort),
      '--mesh-config', opts.meshConfig ?? (demoMesh = writeDemoMeshConfig(configDir, cpAddress, opts.debugPort)).file,
    ];
    const cpCmd = clewCommand(cpArgs);
    const cpR = new RestartingChild(sup, settings.controlPlaneHost
      ? { name: 'control-plane', command: 'ip', args: ['netns', 'exec', network.hostNs(settings.controlPlaneHost), cpCmd.command, ...cpCmd.args] }
      : { name: 'control-plane', command: cpCmd.command, args: cpCmd.args }, 'the control plane');
    const restarting: RestartingChild[] = [cpR];
    await waitReady([{ label: 'control plane', check: () => httpReady(`${debugUrl}/ready`) }], {
      console: con, title: 'Starting the control plane', timeoutMs: opts.readyTimeoutMs, abort,
    });

    const workloads = [...BOOKINFO_WORKLOADS, ...HTTPBIN_WORKLOADS];
    workloads.forEach((w, i) => plans.push(planNetnsPod(network, sampleSpec(w, xdsAddress, hosts[i % hosts.length], settings.dnsServers))));
    // a sidecar-only pod to run clients from (Istio's sleep sample)
    plans.push(planNetnsPod(network, {
      name: 'sleep', namespace: 'default', labels: { app: 'sleep' }, serviceAccount: 'sleep', ports: [], xdsAddress,
      host: hosts[workloads.length % hosts.length], dnsServers: settings.dnsServers,
    }));
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
    }, opts.stateDir);

    // credentials, as `clew demo` gives them: a workload token and the root per pod (netns pods'
    // files owned by the sidecar's uid 1337, in a directory it can enter), the TLS port 15012
    const access: ControlPlaneAccess = { debugUrl, adminToken: adminTokenOf(configDir), secureAddress: `${cpAddress}:15012` };
    const rootCert = await fetchRootCert(access);
    credsDir = mkdtempSync(join(tmpdir(), 'clew-netns-creds-'));
    chownSync(credsDir, PROXY_UID, PROXY_UID);
    for (const p of plans) {
      const t = await PodTokenFile.create(access, {
        name: p.spec.name, namespace: p.spec.namespace, serviceAccount: p.spec.serviceAccount, address: p.pod.ip, labels: p.spec.labels,
      }, rootCert, { dir: credsDir, owner: PROXY_UID, log: (l) => con.info(l) });
      tokens.push(t);
      p.plan.spec.credentials = t.credentials();
    }
    const gwToken = await PodTokenFile.create(access, {
      name: gateway.spec.name, namespace: gateway.spec.namespace, serviceAccount: gateway.spec.serviceAccount, address: gateway.address, labels: gateway.spec.labels,
    }, rootCert, { stateDir: opts.stateDir, log: (l) => con.info(l) });
    tokens.push(gwToken);
    gateway.spec.credentials = gwToken.credentials();

    const sidecars = new Map<NetnsPodPlan, RestartingChild>();
    for (const p of plans) {
      applyPodCapture(p);
      const r = new RestartingChild(sup, netnsSidecarSpec(p), `the sidecar of ${p.spec.name}`);
      sidecars.set(p, r);
      restarting.push(r);
    }
    const gw = new RestartingChild(sup, sidecarSpec(gateway), 'the ingress gateway');
    restarting.push(gw);
    await waitReady([
      ...plans.map((p) => ({ label: p.spec.name, check: () => httpReady(netnsReadyUrl(p)) })),
      { label: 'ingress gateway', check: () => httpReady(readyUrl(gateway)) },
    ], { console: con, title: 'Waiting for the sidecars', timeoutMs: opts.readyTimeoutMs, abort });
    const apps = new Map<NetnsPodPlan, ManagedChild>();
    for (const p of plans) if (p.spec.app) apps.set(p, startNetnsApp(sup, p));
    await waitReady([...apps.keys()].map((p) => ({ label: p.spec.name, check: () => tcpReady(p.pod.ip, p.spec.ports[0]) })), {
      console: con, title: 'Waiting for the apps', timeoutMs: opts.readyTimeoutMs, abort,
    });
    const pageUrl = `http://127.0.0.1:${opts.gatewayPort}/productpage`;
    await waitReady([{ label: 'productpage through the gateway', check: () => httpReady(pageUrl, 5000) }], {
      console: con, title: 'Waiting for Bookinfo', timeoutMs: opts.readyTimeoutMs, abort,
    });
    const sleep = plans.find((p) => p.spec.name === 'sleep')!;
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
      gateway: { pid: gw.current.pid, address: '127.0.0.1', port: opts.gatewayPort, url: pageUrl },
      client: { pid: sidecars.get(sleep)!.current.pid, address: sleep.pod.ip, proxyUrl: `ip netns exec ${sleep.pod.ns}` },
      pods: plans.filter((p) => p.spec.app).map((p) => ({
        name: p.spec.name,
        namespace: p.spec.namespace,
        address: p.pod.ip,
        appPorts: Object.fromEntries(p.spec.ports.map((port) => [String(port), port])),
        sidecarPid: sidecars.get(p)!.current.pid,
        appPid: apps.get(p)?.pid,
      })),
      pids: sup.children.map((c) => c.pid).filter((pid) => pid > 0),
      netns: {
        prefix: network.prefix, podCidr: network.podCidr, stateDir: network.stateDir, guardPid: guard.pid,
        pods: plans.map((p) => ({ name: p.spec.name, namespace: p.spec.namespace, ns: p.pod.ns, ip: p.pod.ip, host: p.pod.host })),
      },
    };
    writeDemoState(state, opts.stateDir);
    sup.guardFile(demoStatePath(opts.stateDir));
    // ready: from now on what dies comes back (the capture rules stay); the state follows the pids
    const onRestart = (): void => {
      state.controlPlane.pid = cpR.current.pid;
      state.gateway.pid = gw.current.pid;
      state.client.pid = sidecars.get(sleep)!.current.pid;
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

/** What to tell the user once the netns demo is up. */
export function netnsDemoSummary(state: DemoState): string[] {
  const net = 'samples/bookinfo/networking';
  const cp = ` --control-plane ${state.controlPlane.debugUrl}`;
  const sleep = state.client.proxyUrl;
  const pods = state.netns?.pods ?? [];
  return [
    '',
    `Bookinfo is ready: ${state.gateway.url}`,
    `Control plane: xDS ${state.controlPlane.xdsAddress}, debug ${state.controlPlane.debugUrl}`,
    ...(state.tracing ? [`Traces (every request sampled, received by the control plane at ${state.controlPlane.debugUrl}/api/v2/spans): clew dashboard${cp}, page Traces`] : []),
    'Pods (network namespace, address, host):',
    ...pods.map((p) => `  ${p.name.padEnd(16)} ${p.ns.padEnd(36)} ${p.ip.padEnd(14)} ${p.host}`),
    '',
    'Next steps:',
    `  ${sleep} curl http://reviews:9080/reviews/0       # from the sleep pod, unmodified: DNS, capture, both sidecars`,
    `  clew apply -f ${net}/virtual-service-reviews-50-v3.yaml${cp}`,
    `  clew apply -f ${net}/virtual-service-reviews-jason-v2-v3.yaml${cp}`,
    `  clew apply -f samples/httpbin/destination-rule-circuit-breaker.yaml${cp}`,
    `  ${sleep} clew load -c 3 -qps 0 -n 30 http://httpbin:8000/get`,
    `  clew run --netns --name myapp --port 8080 -- node app.js   # join the mesh: another pod`,
    '',
    state.detached ? 'Stop it with: clew demo stop' : 'Stop it with Ctrl-C (or clew demo stop from another terminal)',
  ];
}

/** The `clew demo` flags that give `settings` again (the background supervisor of --detach). */
export function netnsDemoArgs(settings: NetnsDemoSettings): string[] {
  return [
    '--netns',
    ...(settings.hosts.length ? ['--hosts', settings.hosts.join(',')] : []),
    ...(settings.controlPlaneHost ? ['--control-plane-host', settings.controlPlaneHost] : []),
    ...(settings.dnsServers ?? []).flatMap((s) => ['--dns-server', s]),
  ];
}
