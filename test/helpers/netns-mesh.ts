/**
 * A mesh of pods in network namespaces for capture tests (root only), built from the same code
 * `clew run --netns` uses (src/local/netns-*.ts): a NetnsNetwork with its own prefix and pod
 * CIDR (one per test file, so parallel files never meet), the control plane in this process on
 * the network's root address, and pods whose sidecars (uid 1337, REDIRECT) and apps run under a
 * Supervisor. close() stops everything and removes every namespace and link (at exit a sweep
 * removes whatever a failure left).
 */
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { LocalConsole } from '../../src/local/local-console.js';
import { httpReady } from '../../src/local/local-readiness.js';
import { Supervisor, type ManagedChild } from '../../src/local/local-supervisor.js';
import { adminTokenOf, fetchRootCert, PodTokenFile, type ControlPlaneAccess } from '../../src/local/local-credentials.js';
import { NetnsNetwork } from '../../src/local/netns-network.js';
import {
  applyPodCapture, checkSidecarCanRead, netnsReadyUrl, PROXY_UID, planNetnsPod, startNetnsApp, startNetnsSidecar, type NetnsPodPlan, type NetnsPodSpec,
} from '../../src/local/netns-pod.js';
import { requireRoot } from './netns.js';

export interface NetnsMesh {
  network: NetnsNetwork;
  cp: ControlPlane;
  xdsAddress: string;
  configDir: string;
  pods: Map<string, NetnsPodPlan>;
  output(): string;
  addPod(spec: Partial<NetnsPodSpec> & { name: string }): Promise<NetnsPodPlan>;
  apply(yaml: string): Promise<void>;
  remove(yaml: string): Promise<void>;
  /** a shell command inside a pod's namespace (root, not captured as the proxy) */
  sh(pod: string, command: string, allowFail?: boolean): { code: number; stdout: string; stderr: string };
  /** an admin stat of a pod's sidecar (`/stats` line value; 0 when absent) */
  stat(pod: string, name: string): number;
  prometheus(pod: string): string;
  close(): Promise<void>;
}

export const APP_FIXTURE = new URL('../capture/fixture-netns-app.js', import.meta.url).pathname;

export async function startNetnsMesh(opts: { prefix: string; podCidr: string; meshConfigFile?: string }): Promise<NetnsMesh> {
  requireRoot();
  checkSidecarCanRead();
  const stateDir = mkdtempSync(join(tmpdir(), `clew-${opts.prefix}-state-`));
  const configDir = mkdtempSync(join(tmpdir(), `clew-${opts.prefix}-config-`));
  // a fixed state dir per prefix would let gc() clean a crashed earlier run; a fresh one plus a
  // sweep of namespaces with our prefix does the same
  sweep(opts.prefix);
  const network = new NetnsNetwork({ prefix: opts.prefix, podCidr: opts.podCidr, stateDir });
  const rootAddress = network.reserve('control-plane');
  const cp = new ControlPlane({ configDir, listenAddress: rootAddress, xdsPort: 15010, debugPort: 15014, meshConfigFile: opts.meshConfigFile, log: () => undefined });
  await cp.start();
  // each sidecar gets a workload token and the root, as `clew run` gives them (files owned by the
  // sidecar's uid 1337, in a directory it can enter), and talks to the TLS port
  const credsDir = mkdtempSync(join(tmpdir(), `clew-${opts.prefix}-creds-`));
  chownSync(credsDir, PROXY_UID, PROXY_UID);
  const access: ControlPlaneAccess = {
    debugUrl: `http://127.0.0.1:${cp.debugPort}`, adminToken: adminTokenOf(configDir), secureAddress: `${rootAddress}:${cp.secureXdsPort}`,
  };
  const rootCert = await fetchRootCert(access);
  const tokens: PodTokenFile[] = [];
  let text = '';
  const out = new PassThrough();
  out.on('data', (d: Buffer) => (text += d.toString()));
  const sup = new Supervisor({ console: new LocalConsole({ out, err: out, tty: false }) });
  const pods = new Map<string, NetnsPodPlan>();
  const children: ManagedChild[] = [];
  let closed: Promise<void> | undefined;
  const mesh: NetnsMesh = {
    network,
    cp,
    xdsAddress: `${rootAddress}:15010`,
    configDir,
    pods,
    output: () => text,
    async addPod(partial) {
      const spec: NetnsPodSpec = {
        namespace: 'default', labels: { app: partial.name }, serviceAccount: partial.name, ports: [], xdsAddress: `${rootAddress}:15010`, dnsServers: [], ...partial,
      };
      const p = planNetnsPod(network, spec);
      pods.set(spec.name, p);
      if (!spec.noSidecar) {
        const t = await PodTokenFile.create(access, {
          name: spec.name, namespace: spec.namespace, serviceAccount: spec.serviceAccount, address: p.pod.ip, labels: spec.labels,
        }, rootCert, { dir: credsDir, owner: PROXY_UID });
        tokens.push(t);
        p.plan.spec.credentials = t.credentials();
        applyPodCapture(p);
        const sidecar = startNetnsSidecar(sup, p);
        children.push(sidecar);
        const deadline = Date.now() + 30_000;
        while (!(await httpReady(netnsReadyUrl(p), 500))) {
          if (sidecar.exit) throw new Error(`sidecar of ${spec.name} exited: ${text}`);
          if (Date.now() > deadline) throw new Error(`sidecar of ${spec.name} not ready: ${text}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      if (spec.app) {
        const app = startNetnsApp(sup, p);
        children.push(app);
        const deadline = Date.now() + 15_000;
        while (!new RegExp(`^\\[${spec.label ?? spec.name}\\] app .* listening`, 'm').test(text)) {
          if (app.exit) throw new Error(`app of ${spec.name} exited: ${text}`);
          if (Date.now() > deadline) throw new Error(`app of ${spec.name} not listening: ${text}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      return p;
    },
    async apply(yaml) {
      cp.store.applyText(yaml, 'netns-test.yaml');
      // the push is debounced (100 ms); give it time to reach the proxies
      await new Promise((res) => setTimeout(res, 600));
    },
    async remove(yaml) {
      cp.store.deleteText(yaml, 'netns-test.yaml');
      await new Promise((res) => setTimeout(res, 600));
    },
    sh(pod, command, allowFail = false) {
      const p = pods.get(pod);
      if (!p) throw new Error(`no pod ${pod}`);
      const r = spawnSync('ip', ['netns', 'exec', p.pod.ns, 'sh', '-c', command], { encoding: 'utf8', timeout: 30_000 });
      const res = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
      if (!allowFail && res.code !== 0) throw new Error(`[${pod}] ${command}: exit ${res.code} ${res.stderr}`);
      return res;
    },
    stat(pod, name) {
      const body = mesh.sh(pod, 'curl -s -m 5 http://127.0.0.1:15000/stats').stdout;
      const line = body.split('\n').find((l) => l.startsWith(`${name}: `));
      return line ? Number(line.slice(name.length + 2)) : 0;
    },
    prometheus(pod) {
      const p = pods.get(pod)!;
      return spawnSync('curl', ['-s', '-m', '5', `http://${p.pod.ip}:15090/stats/prometheus`], { encoding: 'utf8' }).stdout;
    },
    close() {
      closed ??= (async () => {
        await sup.stop(3000);
        await cp.stop();
        for (const t of tokens) t.stop();
        rmSync(credsDir, { recursive: true, force: true });
        for (const p of pods.values()) network.removePod(p.spec.name, p.spec.namespace);
        network.removePod('control-plane', '');
        network.gc();
        rmSync(stateDir, { recursive: true, force: true });
        rmSync(configDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
  // the caller registers after(() => mesh.close()) at its top level (after() inside a before()
  // hook would run at the end of that hook); a crash still leaves nothing behind:
  process.once('exit', () => sweep(opts.prefix));
  return mesh;
}

/** Removes namespaces and the root link of `prefix` left by an earlier (killed) run of this test. */
export function sweep(prefix: string): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`${prefix}-`));
  for (const ns of list) {
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(join('/etc/netns', ns), { recursive: true, force: true });
  }
  spawnSync('ip', ['link', 'del', `${prefix}0`]);
}
