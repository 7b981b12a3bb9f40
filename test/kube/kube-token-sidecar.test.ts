/**
 * Issue 20, Must show 4 end to end: real `clew proxy` processes, started with the arguments the
 * injector gives an `istio-proxy` container (injectPod, with the downward API's values filled in
 * from the pod as the kubelet would), each with a projected-style token the API server's
 * TokenRequest issued (`kubectl create token SA --audience istio-ca --bound-object-kind Pod`),
 * against a real `clew control-plane --kubeconfig` that checks it with TokenReview.
 * - a client and a server pod: each sidecar gets a certificate for
 *   spiffe://cluster.local/ns/<ns>/sa/<sa> (`clew proxy-config secret`), registers, and one request
 *   through both reaches the server app with X-Forwarded-Client-Cert naming the caller;
 * - a sidecar claiming the server pod with the client service account's token: the control plane
 *   refuses its ADS stream (no registration) and it holds no certificate;
 * - a sidecar with the token of a pod that was deleted: TokenReview refuses it (no certificate, no
 *   registration).
 * There is no kubelet: pods are created and their status patched as a kubelet would; each pod is
 * a network namespace of this file's own network (prefix `ktok`, 10.209.0.0/16: EndpointSlices
 * refuse loopback addresses) where the injected init container's `clew iptables` arguments run,
 * then the sidecar as uid 1337 in REDIRECT mode, as in a real pod.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { kubeApiServerSkip, startKubeApiServer, type KubeApiServer } from '../helpers/kube-api-server.js';
import { CLEW_BIN } from '../helpers/paths.js';
import { sweep } from '../helpers/netns-mesh.js';
import { requireRoot } from '../helpers/netns.js';
import { applyCrds, must, until } from './kube-fixtures.js';
import { injectPod, DEFAULT_INJECT_SETTINGS } from '../../src/kube/inject/inject-pod.js';
import type { KubeObject } from '../../src/kube/kube-client.js';
import { clewCommand } from '../../src/local/local-clew-bin.js';
import { freePorts } from '../../src/local/local-ports.js';
import { httpReady } from '../../src/local/local-readiness.js';
import { NetnsNetwork, type PodNet } from '../../src/local/netns-network.js';
import { checkSidecarCanRead, PROXY_UID } from '../../src/local/netns-pod.js';

const PREFIX = 'ktok';
const CIDR = '10.209.0.0/16';
const skip = kubeApiServerSkip();
const NS = `kt-${crypto.randomBytes(3).toString('hex')}`;
const PORT = 8080;
let api: KubeApiServer;
let dir: string;
let network: NetnsNetwork;
let rootAddress: string;
let cp: Proc;
let cpPorts: { xds: number; secure: number; debug: number; webhook: number };
const pods: PodNet[] = [];
const procs: Proc[] = [];

interface Proc {
  proc: ChildProcess;
  output(): string;
}

function track(command: string, args: string[]): Proc {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const p = { proc, output: () => out };
  procs.push(p);
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

before(async () => {
  if (skip) return;
  requireRoot();
  checkSidecarCanRead();
  sweep(PREFIX);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-kube-token-'));
  fs.chmodSync(dir, 0o755);
  network = new NetnsNetwork({ prefix: PREFIX, podCidr: CIDR, stateDir: path.join(dir, 'state') });
  rootAddress = network.reserve('control-plane');
  api = await startKubeApiServer();
  await applyCrds(api, dir);
  await api.kubectl(['create', 'namespace', 'istio-system']);
  const [xds, secure, debug, webhook] = await freePorts('127.0.0.1', 4);
  cpPorts = { xds, secure, debug, webhook };
  fs.mkdirSync(path.join(dir, 'config'));
  // xDS, the certificate service and the webhooks on the network's root address (the pods reach
  // it), the debug API on loopback
  const cmd = clewCommand([
    'control-plane', '--config-dir', path.join(dir, 'config'), '--kubeconfig', api.kubeconfig, '--listen-address', rootAddress,
    '--xds-port', String(xds), '--secure-xds-port', String(secure), '--debug-port', String(debug), '--webhook-port', String(webhook),
    '--debounce', '50',
  ]);
  cp = track(cmd.command, cmd.args);
  await until('control plane ready', async () => {
    if (cp.proc.exitCode !== null) throw new Error(`control plane exited: ${cp.output()}`);
    return httpReady(`http://127.0.0.1:${debug}/ready`, 500);
  }, 30_000);
});

after(async () => {
  await Promise.all(procs.filter((p) => p !== cp).map((p) => stop(p.proc)));
  if (cp) await stop(cp.proc);
  if (network) {
    for (const p of pods) network.removePod(p.name, p.namespace);
    network.removePod('control-plane', '');
    network.gc();
  }
  sweep(PREFIX);
  await api?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function podNet(name: string): PodNet {
  const p = network.addPod({ name, namespace: NS });
  pods.push(p);
  return p;
}

/** A pod as a user writes it, injected as the webhook injects it, created and set Running at `ip`. */
async function createInjectedPod(name: string, sa: string, ip: string, ports: number[]): Promise<KubeObject> {
  const injected = injectPod({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: sa, version: 'v1' } },
    spec: {
      serviceAccountName: sa, automountServiceAccountToken: false,
      containers: [{ name: sa, image: 'app:latest', ...(ports.length ? { ports: ports.map((p) => ({ containerPort: p })) } : {}) }],
    },
  } as KubeObject, { ...DEFAULT_INJECT_SETTINGS, xdsAddress: `${rootAddress}:${cpPorts.secure}` });
  await must(api, 'POST', `/api/v1/namespaces/${NS}/pods`, injected);
  return must(api, 'PATCH', `/api/v1/namespaces/${NS}/pods/${name}/status`, {
    status: {
      phase: 'Running', podIP: ip, podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
    },
  }, 'application/merge-patch+json');
}

/** The kubelet's part: the projected token of audience istio-ca bound to the pod, in a file only the sidecar's uid reads. */
async function projectedToken(sa: string, pod: string, file: string): Promise<string> {
  const token = (await api.kubectl(['create', 'token', sa, '-n', NS, '--audience', 'istio-ca', '--bound-object-kind', 'Pod', '--bound-object-name', pod, '--duration', '10m'])).trim();
  assert.equal(token.split('.').length, 3, 'a JWT');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  fs.chownSync(file, PROXY_UID, PROXY_UID);
  return file;
}

function container(pod: KubeObject, name: string): any {
  const c = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((x: any) => x.name === name);
  assert.ok(c, `the pod has the injected ${name} container`);
  return c;
}

/**
 * The `clew proxy` command line of the pod's injected istio-proxy container: the downward API's
 * $(VARS) filled from the pod, the volume mounts' files replaced by this test's files.
 */
function sidecarArgs(pod: KubeObject, files: { token: string; root: string }): string[] {
  const c = container(pod, 'istio-proxy');
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const fp = e.valueFrom?.fieldRef?.fieldPath as string | undefined;
    if (!fp) continue;
    const v = fp.split('.').reduce((o: any, k: string) => o?.[k], pod);
    assert.equal(typeof v, 'string', `downward API ${fp}`);
    env[e.name] = v;
  }
  const args = (c.args as string[]).map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (_m, k: string) => env[k] ?? assert.fail(`$(${k}) is not in the container's env`)));
  const set = (flag: string, expected: string, value: string) => {
    const i = args.indexOf(flag);
    assert.equal(args[i + 1], expected, flag);
    args[i + 1] = value;
  };
  set('--token-file', '/var/run/secrets/tokens/istio-token', files.token);
  set('--root-cert', '/var/run/secrets/istio/root-cert.pem', files.root);
  return args;
}

/** The pod's init container (`clew iptables`, as root), then its sidecar as uid 1337, in the pod's namespace. */
function startPodSidecar(net: PodNet, pod: KubeObject, args: string[]): Proc {
  const init = container(pod, 'istio-init');
  const ic = clewCommand(init.args);
  const r = spawnSync('ip', ['netns', 'exec', net.ns, ic.command, ...ic.args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `istio-init of ${net.name}: ${r.stderr}${r.stdout}`);
  const pc = clewCommand(args);
  return track('ip', ['netns', 'exec', net.ns, 'setpriv', '--reuid', String(PROXY_UID), '--regid', String(PROXY_UID), '--clear-groups', pc.command, ...pc.args]);
}

async function metric(name: string): Promise<number> {
  const r = await request(`http://127.0.0.1:${cpPorts.debug}/metrics`);
  const line = (await r.body.text()).split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** `<name>.<namespace>` of the proxies the control plane registered (node id `sidecar~<ip>~<name>.<ns>~...`), as it saves them */
function registered(): string[] {
  const f = path.join(dir, 'config', '.clew', 'proxy-workloads.json');
  if (!fs.existsSync(f)) return [];
  return Object.keys(JSON.parse(fs.readFileSync(f, 'utf8'))).map((id) => id.split('~')[2]);
}

/** `<name>.<namespace>` of the proxies with an ADS stream served */
async function synced(): Promise<string[]> {
  const r = await request(`http://127.0.0.1:${cpPorts.debug}/debug/syncz`);
  return ((await r.body.json()) as any[]).map((s) => String(s.proxy).split('~')[2]);
}

/** the sidecar's admin /certs, from inside its pod (inbound capture covers port 15000, as in Istio) */
function adminCerts(net: PodNet): any[] {
  const r = spawnSync('ip', ['netns', 'exec', net.ns, 'curl', '-s', '-m', '5', 'http://127.0.0.1:15000/certs'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `admin of ${net.name}: ${r.stderr}`);
  return JSON.parse(r.stdout).certificates;
}

/** `clew proxy-config secret` inside the pod against its sidecar's admin port */
function proxyConfigSecret(net: PodNet, proxy: string): string {
  const r = spawnSync('ip', ['netns', 'exec', net.ns, process.execPath, CLEW_BIN, 'proxy-config', 'secret', proxy, '--admin', 'http://127.0.0.1:15000'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `proxy-config secret ${proxy}: ${r.stderr}`);
  return r.stdout;
}

test('sidecars with TokenRequest tokens get their SPIFFE certificates from TokenReview and carry mTLS; another account\'s token and a deleted pod\'s token get nothing', { skip, timeout: 90_000 }, async () => {
  await must(api, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  for (const sa of ['client', 'server']) {
    await must(api, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa } });
  }
  const serverNet = podNet('server-1');
  const clientNet = podNet('client-1');
  const serverPod = await createInjectedPod('server-1', 'server', serverNet.ip, [PORT]);
  const clientPod = await createInjectedPod('client-1', 'client', clientNet.ip, []);
  const svc = await must(api, 'POST', `/api/v1/namespaces/${NS}/services`, {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'server' },
    spec: { selector: { app: 'server' }, ports: [{ name: 'http', port: PORT, targetPort: PORT }] },
  });
  await must(api, 'POST', `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'server-1', labels: { 'kubernetes.io/service-name': 'server', 'endpointslice.kubernetes.io/managed-by': 'clew-test' } },
    addressType: 'IPv4', ports: [{ name: 'http', port: PORT, protocol: 'TCP' }],
    endpoints: [{ addresses: [serverNet.ip], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: 'Pod', name: 'server-1', namespace: NS } }],
  });

  // the root the sidecars mount (ConfigMap istio-ca-root-cert, published by the Lease holder)
  const cm = await until('istio-ca-root-cert in the namespace', async () => {
    const r = await api.request('GET', `/api/v1/namespaces/${NS}/configmaps/istio-ca-root-cert`);
    return r.status === 200 ? r.body : undefined;
  }, 20_000);
  const rootFile = path.join(dir, 'root-cert.pem');
  fs.writeFileSync(rootFile, cm.data['root-cert.pem'], { mode: 0o644 });
  const issuedBefore = await metric('citadel_server_success_cert_issuance_count');

  // the server app: answers with the headers it got (as root: not the proxy's uid)
  track('ip', ['netns', 'exec', serverNet.ns, process.execPath, '-e',
    `require('http').createServer((q,s)=>{s.setHeader('content-type','application/json');s.end(JSON.stringify(q.headers))}).listen(${PORT},'0.0.0.0',()=>console.log('app listening'))`]);
  const serverProxy = startPodSidecar(serverNet, serverPod, sidecarArgs(serverPod, { token: await projectedToken('server', 'server-1', path.join(dir, 'server.token')), root: rootFile }));
  const clientProxy = startPodSidecar(clientNet, clientPod, sidecarArgs(clientPod, { token: await projectedToken('client', 'client-1', path.join(dir, 'client.token')), root: rootFile }));
  for (const [p, net] of [[serverProxy, serverNet], [clientProxy, clientNet]] as const) {
    await until(`sidecar of ${net.name} ready`, async () => {
      if (p.proc.exitCode !== null) throw new Error(`sidecar exited: ${p.output()}`);
      return httpReady(`http://${net.ip}:15021/healthz/ready`, 500);
    }, 30_000).catch((err) => assert.fail(`${(err as Error).message}: ${p.output().slice(-3000)}\ncontrol plane: ${cp.output().slice(-3000)}`));
  }

  // one request from the client pod to the Service's ClusterIP, captured by its sidecar, through
  // the server's sidecar; the server app sees the caller's SPIFFE id
  let xfcc = '';
  let last = '';
  await until('a request through both sidecars with mTLS', async () => {
    const r = spawnSync('ip', ['netns', 'exec', clientNet.ns, 'curl', '-s', '-m', '5', '-H', `Host: server.${NS}.svc.cluster.local:${PORT}`, `http://${svc.spec.clusterIP}:${PORT}/hello`], { encoding: 'utf8', timeout: 10_000 });
    last = `${r.status} ${r.stdout} ${r.stderr}`;
    if (r.status !== 0) return undefined;
    try {
      xfcc = String(JSON.parse(r.stdout)['x-forwarded-client-cert'] ?? '');
    } catch {
      return undefined;
    }
    return xfcc ? true : undefined;
  }, 20_000).catch((err) => assert.fail(`${(err as Error).message}: ${last}\n${clientProxy.output().slice(-2000)}`));
  assert.match(xfcc, new RegExp(`By=spiffe://cluster\\.local/ns/${NS}/sa/server;`));
  assert.match(xfcc, new RegExp(`URI=spiffe://cluster\\.local/ns/${NS}/sa/client$`));

  // each sidecar's certificate: its own SPIFFE id (admin /certs and clew proxy-config secret)
  for (const [pod, net, sa] of [['server-1', serverNet, 'server'], ['client-1', clientNet, 'client']] as const) {
    // one entry per TLS context using it: one workload certificate
    const leaves = adminCerts(net).map((c) => c.cert_chain[0]);
    assert.ok(leaves.length >= 1, sa);
    assert.deepEqual([...new Set(leaves.map((l) => l.serial_number))].length, 1, `${sa}: one workload certificate`);
    assert.deepEqual(leaves[0].subject_alt_names, [{ uri: `spiffe://cluster.local/ns/${NS}/sa/${sa}` }], sa);
    const out = proxyConfigSecret(net, `${pod}.${NS}`);
    assert.match(out, new RegExp(`^default\\s+Cert Chain\\s+ACTIVE\\s+true\\s+${leaves[0].serial_number}\\s`, 'm'), out);
    assert.match(out, /^ROOTCA\s+CA\s+ACTIVE\s+true\s/m, out);
  }
  assert.ok((await metric('citadel_server_success_cert_issuance_count')) - issuedBefore >= 2, 'the CA issued the two certificates');
  const reg = registered();
  assert.ok(reg.includes(`server-1.${NS}`) && reg.includes(`client-1.${NS}`), `both pods registered: ${reg.join(', ')}`);
  const served = await synced();
  assert.ok(served.includes(`server-1.${NS}`) && served.includes(`client-1.${NS}`), served.join(', '));

  // an impostor: a pod claiming the server pod's name and service account with the client
  // service account's token
  const failuresBefore = await metric('citadel_server_authentication_failure_count');
  const issued = await metric('citadel_server_success_cert_issuance_count');
  const impostorNet = podNet('server-2');
  const impostorPod = { ...serverPod, status: { ...serverPod.status, podIP: impostorNet.ip, podIPs: [{ ip: impostorNet.ip }] } };
  const impostorArgs = sidecarArgs(impostorPod, { token: await projectedToken('client', 'client-1', path.join(dir, 'impostor.token')), root: rootFile });
  impostorArgs[impostorArgs.indexOf('--id') + 1] = `server-2.${NS}`;
  const impostor = startPodSidecar(impostorNet, impostorPod, impostorArgs);
  await until('the impostor\'s ADS stream refused', () => new RegExp(`refused \\(node sidecar~${impostorNet.ip}~server-2\\.${NS}~[^)]*\\): credential for ${NS}/client \\(pod client-1\\) cannot register .*: service account server is not client`).test(cp.output()), 20_000)
    .catch((err) => assert.fail(`${(err as Error).message}: ${impostor.output().slice(-2000)}\ncontrol plane: ${cp.output().slice(-3000)}`));

  // a pod deleted after its token was issued
  const goneNet = podNet('server-3');
  const gonePod = await createInjectedPod('server-3', 'server', goneNet.ip, []);
  const goneToken = await projectedToken('server', 'server-3', path.join(dir, 'gone.token'));
  await must(api, 'DELETE', `/api/v1/namespaces/${NS}/pods/server-3?gracePeriodSeconds=0`);
  await until('server-3 deleted', async () => ((await api.request('GET', `/api/v1/namespaces/${NS}/pods/server-3`)).status === 404 ? true : undefined));
  const gone = startPodSidecar(goneNet, gonePod, sidecarArgs(gonePod, { token: goneToken, root: rootFile }));
  await until('the deleted pod\'s ADS stream refused', () => new RegExp(`from ${goneNet.ip}:\\d+ refused: authentication failed: .*kubernetes-token-review: TokenReview: not authenticated: .*service account token has been invalidated`).test(cp.output()), 20_000)
    .catch((err) => assert.fail(`${(err as Error).message}: ${gone.output().slice(-2000)}\ncontrol plane: ${cp.output().slice(-3000)}`));

  // each sidecar hears why (the status of its refused stream) and keeps retrying
  await until('the refusals reach the sidecars', () => /xds stream closed \(grpc-status 7: .*service account server is not client\); reconnecting/.test(impostor.output())
    && /xds stream closed \(grpc-status 16: .*TokenReview: not authenticated.*\); reconnecting/.test(gone.output()), 20_000)
    .catch((err) => assert.fail(`${(err as Error).message}: ${impostor.output().slice(-1500)}\n${gone.output().slice(-1500)}`));
  for (const [what, p, net] of [['impostor', impostor, impostorNet], ['deleted pod', gone, goneNet]] as const) {
    assert.equal(p.proc.exitCode, null, `${what}: the sidecar keeps running (and retrying)`);
    assert.equal(await httpReady(`http://${net.ip}:15021/healthz/ready`, 500), false, `${what}: never ready`);
    assert.deepEqual(adminCerts(net), [], `${what}: no certificate`);
  }
  assert.equal(await metric('citadel_server_success_cert_issuance_count'), issued, 'the CA issued nothing more');
  assert.ok((await metric('citadel_server_authentication_failure_count')) > failuresBefore, 'the deleted pod\'s token failed TokenReview');
  const reg2 = registered();
  assert.ok(!reg2.includes(`server-2.${NS}`) && !reg2.includes(`server-3.${NS}`), `no registration: ${reg2.join(', ')}`);
  assert.ok(reg2.includes(`server-1.${NS}`), 'the real server stays registered');
  const served2 = await synced();
  assert.ok(!served2.includes(`server-2.${NS}`) && !served2.includes(`server-3.${NS}`), `no stream served: ${served2.join(', ')}`);
});
