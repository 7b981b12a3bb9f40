/**
 * Clew's control plane on a real kube-apiserver: the registry from Services, EndpointSlices, Pods
 * and Nodes; Istio config from CRDs applied with kubectl; status written back by the Lease holder;
 * an EndpointSlice change reaching a proxy as an EDS-only push.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { kubeApiServerSkip, startKubeApiServer, type KubeApiServer } from '../helpers/kube-api-server.js';
import { spawn } from 'node:child_process';
import { CLEW_BIN, REPO_ROOT } from '../helpers/paths.js';
import { freePorts } from '../../src/local/local-ports.js';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { KubeClient } from '../../src/kube/kube-client.js';
import { KubeSources } from '../../src/kube/kube-sources.js';
import { TestAdsClient, CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../helpers/ads-client.js';
import { applyCrds, createNode, createRunningPod, must, putSlice, until } from './kube-fixtures.js';

const skip = kubeApiServerSkip();
let api: KubeApiServer;
let kube: KubeSources;
let cp: ControlPlane;
let dir: string;
const logs: string[] = [];

const PODS = [
  { name: 'details-v1-0', labels: { app: 'details', version: 'v1' }, sa: 'bookinfo-details', ip: '10.244.1.10', node: 'node-a' },
  { name: 'ratings-v1-0', labels: { app: 'ratings', version: 'v1' }, sa: 'bookinfo-ratings', ip: '10.244.1.11', node: 'node-a' },
  { name: 'reviews-v1-0', labels: { app: 'reviews', version: 'v1' }, sa: 'bookinfo-reviews', ip: '10.244.1.12', node: 'node-a' },
  { name: 'reviews-v2-0', labels: { app: 'reviews', version: 'v2' }, sa: 'bookinfo-reviews', ip: '10.244.2.12', node: 'node-b' },
  { name: 'reviews-v3-0', labels: { app: 'reviews', version: 'v3' }, sa: 'bookinfo-reviews', ip: '10.244.2.13', node: 'node-b' },
  { name: 'productpage-v1-0', labels: { app: 'productpage', version: 'v1' }, sa: 'bookinfo-productpage', ip: '10.244.1.14', node: 'node-a' },
];

before(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-kube-reg-'));
  api = await startKubeApiServer();
  await applyCrds(api, dir);
  await api.kubectl(['create', 'namespace', 'istio-system']);
  await api.kubectl(['apply', '-f', path.join(REPO_ROOT, 'samples/bookinfo/platform/kube/bookinfo.yaml')]);
  await createNode(api, 'node-a', { 'topology.kubernetes.io/region': 'eu-west', 'topology.kubernetes.io/zone': 'eu-west-1a' });
  await createNode(api, 'node-b', { 'topology.kubernetes.io/region': 'eu-west', 'topology.kubernetes.io/zone': 'eu-west-1b', 'topology.istio.io/subzone': 'rack7' });
  for (const p of PODS) await createRunningPod(api, { name: p.name, labels: p.labels, serviceAccount: p.sa, ip: p.ip, node: p.node });
  for (const app of ['details', 'ratings', 'reviews', 'productpage']) {
    await putSlice(api, app, `${app}-abc`, PODS.filter((p) => p.labels.app === app).map((p) => ({ ip: p.ip, pod: p.name, node: p.node })));
  }
  kube = new KubeSources(KubeClient.fromFile(api.kubeconfig), { backoffMs: 100, maxBackoffMs: 1000, renewMs: 500, log: (l) => logs.push(l) });
  await kube.start();
  fs.mkdirSync(path.join(dir, 'config'));
  cp = new ControlPlane({
    configDir: path.join(dir, 'config'), xdsPort: 0, debugPort: 0, secureXdsPort: 0, publishToken: false, debounceMs: 50,
    registries: [kube.registrySource()], configSources: [kube.configSource()], log: (l) => logs.push(l),
  });
  await cp.start();
});

after(async () => {
  await cp?.stop();
  await kube?.stop();
  await api?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('registry: Services with ClusterIPs, endpoints from EndpointSlices with pod labels, service account and node locality', { skip }, async () => {
  const reviews = cp.registry.serviceByHostname('reviews.default.svc.cluster.local');
  assert.ok(reviews, 'reviews service');
  assert.equal(cp.registry.clusterOf('reviews.default.svc.cluster.local'), 'Kubernetes');
  assert.match(reviews.addresses[0] ?? '', /^10\.96\./, 'ClusterIP from the API server');
  assert.equal(reviews.ports[0].protocol, 'HTTP');
  const eps = cp.registry.instances('reviews.default.svc.cluster.local', 9080).map((i) => i.endpoint);
  assert.deepEqual(eps.map((e) => [e.address, e.port, e.labels.version, e.serviceAccount, e.locality]), [
    ['10.244.1.12', 9080, 'v1', 'bookinfo-reviews', 'eu-west/eu-west-1a/'],
    ['10.244.2.12', 9080, 'v2', 'bookinfo-reviews', 'eu-west/eu-west-1b/rack7'],
    ['10.244.2.13', 9080, 'v3', 'bookinfo-reviews', 'eu-west/eu-west-1b/rack7'],
  ]);
  const workloads = cp.registry.workloads().filter((w) => w.origin === 'Pod').map((w) => w.name).sort();
  assert.deepEqual(workloads, PODS.map((p) => p.name).sort());
});

test('a pod that appears after the EndpointSlice naming it gives the endpoint its labels and service account', { skip }, async () => {
  const host = 'details.default.svc.cluster.local';
  const details = PODS.filter((p) => p.labels.app === 'details').map((p) => ({ ip: p.ip, pod: p.name, node: p.node }));
  await putSlice(api, 'details', 'details-abc', [...details, { ip: '10.244.3.30', pod: 'details-v2-late', node: 'node-b' }]);
  const late = () => cp.registry.instances(host, 9080).map((i) => i.endpoint).find((e) => e.address === '10.244.3.30');
  const before = await until('the endpoint without its pod', () => late());
  assert.equal(before.labels.version, undefined);
  await createRunningPod(api, { name: 'details-v2-late', labels: { app: 'details', version: 'v2' }, serviceAccount: 'bookinfo-details', ip: '10.244.3.30', node: 'node-b' });
  const after = await until('the endpoint with its pod\'s labels', () => (late()?.labels.version === 'v2' ? late() : undefined));
  assert.equal(after.serviceAccount, 'bookinfo-details');
  assert.equal(after.locality, 'eu-west/eu-west-1b/rack7');
  await putSlice(api, 'details', 'details-abc', details);
  await api.kubectl(['delete', 'pod', 'details-v2-late', '--wait=false']);
  await until('back to one details endpoint', () => cp.registry.instances(host, 9080).length === 1);
});

test('an EndpointSlice change reaches a proxy as an EDS-only push; a kubectl-applied VirtualService as LDS/RDS', { skip }, async () => {
  const a = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, {
    id: 'sidecar~10.244.1.14~productpage-v1-0.default~default.svc.cluster.local',
    metadata: { NAME: 'productpage-v1-0', NAMESPACE: 'default', LABELS: { app: 'productpage', version: 'v1' }, INSTANCE_IPS: '10.244.1.14' },
  });
  try {
    const reviewsEds = () => a.latest.get(ENDPOINT_TYPE)?.resources.find((e) => e.cluster_name === 'outbound|9080||reviews.default.svc.cluster.local');
    const addrs = () => (reviewsEds()?.endpoints ?? []).flatMap((l: any) => l.lb_endpoints).map((e: any) => e.endpoint.address.socket_address.address).sort();
    await a.until(() => [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE].every((t) => a.latest.has(t)) && addrs().length === 3, 10_000);
    const mark = a.received.length;
    // the endpoint controller would mark reviews-v3 not ready (it is terminating)
    await putSlice(api, 'reviews', 'reviews-abc', [
      { ip: '10.244.1.12', pod: 'reviews-v1-0', node: 'node-a' },
      { ip: '10.244.2.12', pod: 'reviews-v2-0', node: 'node-b' },
      { ip: '10.244.2.13', pod: 'reviews-v3-0', node: 'node-b', ready: false, terminating: true },
    ]);
    await a.until(() => addrs().length === 2, 10_000);
    assert.deepEqual(addrs(), ['10.244.1.12', '10.244.2.12']);
    const types = new Set(a.received.slice(mark).map((r) => r.typeUrl));
    assert.deepEqual([...types], [ENDPOINT_TYPE], 'only EDS was pushed');

    // Istio config through kubectl: subsets (CDS) and routes (RDS)
    const mark2 = a.received.length;
    await api.kubectl(['apply', '-f', path.join(REPO_ROOT, 'samples/bookinfo/networking/destination-rule-all.yaml')]);
    await api.kubectl(['apply', '-f', path.join(REPO_ROOT, 'samples/bookinfo/networking/virtual-service-all-v1.yaml')]);
    await a.until(() => (a.latest.get(CLUSTER_TYPE)?.resources ?? []).some((c) => c.name === 'outbound|9080|v1|reviews.default.svc.cluster.local'), 10_000);
    await a.until(() => JSON.stringify(a.latest.get(ROUTE_TYPE)?.resources ?? []).includes('outbound|9080|v1|reviews.default.svc.cluster.local'), 10_000);
    assert.ok(a.received.slice(mark2).some((r) => r.typeUrl === ROUTE_TYPE));
  } finally {
    a.close();
  }
});

test('the same Bookinfo through the config directory (Services, WorkloadEntries, the same DR/VS) gives a proxy the same clusters, routes and endpoints', { skip }, async () => {
  // what the Kubernetes control plane has now: the EndpointSlice test left reviews-v3 not ready
  const live = PODS.filter((p) => p.name !== 'reviews-v3-0');
  const cfgDir = path.join(dir, 'same-config');
  fs.mkdirSync(cfgDir);
  fs.copyFileSync(path.join(REPO_ROOT, 'samples/bookinfo/platform/bookinfo.yaml'), path.join(cfgDir, 'bookinfo.yaml'));
  for (const f of ['destination-rule-all.yaml', 'virtual-service-all-v1.yaml']) fs.copyFileSync(path.join(REPO_ROOT, 'samples/bookinfo/networking', f), path.join(cfgDir, f));
  fs.writeFileSync(path.join(cfgDir, 'workloads.yaml'), live.map((p) => JSON.stringify({
    apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: p.name, namespace: 'default' },
    spec: { address: p.ip, labels: p.labels, serviceAccount: p.sa },
  })).join('\n---\n'));
  // the API server's own Service (default/kubernetes) exists only on the Kubernetes side
  const KUBE_API = '|kubernetes.default.svc.cluster.local';
  const other = new ControlPlane({ configDir: cfgDir, xdsPort: 0, debugPort: 0, secureXdsPort: 0, publishToken: false, debounceMs: 50, log: () => {} });
  await other.start();
  const node = {
    id: 'sidecar~10.244.1.14~productpage-v1-0.default~default.svc.cluster.local',
    metadata: { NAME: 'productpage-v1-0', NAMESPACE: 'default', LABELS: { app: 'productpage', version: 'v1' }, INSTANCE_IPS: '10.244.1.14' },
  };
  const a = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, node);
  const b = new TestAdsClient(`127.0.0.1:${other.xdsPort}`, node);
  try {
    const ready = (c: TestAdsClient) => [CLUSTER_TYPE, ENDPOINT_TYPE, ROUTE_TYPE].every((t) => c.latest.has(t))
      && (c.latest.get(ENDPOINT_TYPE)?.resources.length ?? 0) >= (c.latest.get(CLUSTER_TYPE)?.resources.filter((x: any) => x.type === 'EDS' || x.eds_cluster_config).length ?? 1);
    await a.until(() => ready(a), 10_000);
    await b.until(() => ready(b), 10_000);
    const outbound = (c: TestAdsClient) => (c.latest.get(CLUSTER_TYPE)?.resources ?? []).map((x: any) => x.name as string).filter((n) => n.startsWith('outbound|') && !n.endsWith(KUBE_API)).sort();
    assert.deepEqual(outbound(a), outbound(b));
    assert.ok(outbound(a).includes('outbound|9080|v2|reviews.default.svc.cluster.local'), outbound(a).join('\n'));
    const endpoints = (c: TestAdsClient) => Object.fromEntries((c.latest.get(ENDPOINT_TYPE)?.resources ?? []).filter((e: any) => !e.cluster_name.endsWith(KUBE_API)).map((e: any) => [e.cluster_name,
      (e.endpoints ?? []).flatMap((l: any) => l.lb_endpoints).map((x: any) => `${x.endpoint.address.socket_address.address}:${x.endpoint.address.socket_address.port_value}`).sort()]));
    assert.deepEqual(endpoints(a), endpoints(b));
    // Kubernetes Services have ClusterIPs; the config directory's have none: the VIP domains differ, nothing else
    const routes = (c: TestAdsClient) => JSON.parse(JSON.stringify(c.latest.get(ROUTE_TYPE)?.resources ?? [], (k, v) => (k === 'domains' ? v.filter((d: string) => !/^\d+\.\d+\.\d+\.\d+(:\d+)?$/.test(d)) : v)));
    assert.ok(JSON.stringify(routes(a)).includes('outbound|9080|v1|reviews.default.svc.cluster.local'), 'the VirtualService is in the routes');
    assert.deepEqual(routes(a), routes(b));
  } finally {
    a.close();
    b.close();
    await other.stop();
  }
});

test('status: a valid VirtualService gets Reconciled=True, an invalid one (no webhook here) ERROR messages and stays out of the config', { skip }, async () => {
  await api.kubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'ratings-ok', namespace: 'default' },
    spec: { hosts: ['ratings'], http: [{ route: [{ destination: { host: 'ratings' } }] }] },
  }));
  await api.kubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService', metadata: { name: 'ratings-bad', namespace: 'default' },
    spec: { hosts: ['ratings'], http: [{ route: [{ destination: { host: 'ratings' }, weight: -5 }], timeout: 'soon' }] },
  }));
  const ok = await until('status of ratings-ok', async () => {
    const o = await must(api, 'GET', '/apis/networking.istio.io/v1/namespaces/default/virtualservices/ratings-ok');
    return o.status?.conditions ? o : undefined;
  });
  assert.equal(ok.status.conditions[0].type, 'Reconciled');
  assert.equal(ok.status.conditions[0].status, 'True');
  assert.equal(String(ok.status.observedGeneration), String(ok.metadata.generation));
  assert.equal(ok.status.validationMessages, undefined);
  const bad = await until('status of ratings-bad', async () => {
    const o = await must(api, 'GET', '/apis/networking.istio.io/v1/namespaces/default/virtualservices/ratings-bad');
    return o.status?.validationMessages ? o : undefined;
  });
  assert.equal(bad.status.conditions[0].status, 'False');
  const texts = bad.status.validationMessages.map((m: any) => `${m.level} ${m.description}`);
  assert.ok(texts.some((t: string) => t.startsWith('ERROR spec.http[0].route[0].weight')), texts.join('\n'));
  assert.ok(texts.some((t: string) => t.startsWith('ERROR spec.http[0].timeout')), texts.join('\n'));
  const keys = cp.allConfig().map((r) => `${r.kind}/${r.metadata.name}`);
  assert.ok(keys.includes('VirtualService/ratings-ok'));
  assert.ok(!keys.includes('VirtualService/ratings-bad'));
  // the Lease says who wrote it
  const lease = await must(api, 'GET', '/apis/coordination.k8s.io/v1/namespaces/istio-system/leases/clew-status-leader');
  assert.equal(lease.spec.holderIdentity, kube.leader.identity);
});

test('clew control-plane --kubeconfig: the registry from Kubernetes, Istio CRDs in /debug/configz, webhooks served', { skip }, async () => {
  const [xds, secure, debug, webhook] = await freePorts('127.0.0.1', 4);
  const p = spawn(process.execPath, [CLEW_BIN, 'control-plane', '--config-dir', path.join(dir, 'cli-config'), '--kubeconfig', api.kubeconfig,
    '--xds-port', String(xds), '--secure-xds-port', String(secure), '--debug-port', String(debug), '--webhook-port', String(webhook),
    '--system-namespace', 'istio-system'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    const registry = await until('registryz', async () => {
      const r = await fetch(`http://127.0.0.1:${debug}/debug/registryz`).catch(() => undefined);
      return r?.ok ? (await r.json()) as any[] : undefined;
    }, 60_000).catch((e) => { throw new Error(`${(e as Error).message}\n${err}`); });
    const reviews = registry.find((s) => s.hostname === 'reviews.default.svc.cluster.local');
    assert.equal(reviews?.cluster, 'Kubernetes');
    assert.deepEqual(reviews.endpoints['9080'].map((e: any) => e.address).sort(), ['10.244.1.12', '10.244.2.12']);
    const configz = await (await fetch(`http://127.0.0.1:${debug}/debug/configz`)).json() as any;
    assert.ok(configz.resources.some((r: any) => r.kind === 'VirtualService' && r.metadata.name === 'ratings-ok'), JSON.stringify(configz.resources.map((r: any) => r.key)));
    assert.match(err, /kubernetes: https:\/\/127\.0\.0\.1:\d+: waiting for the informers to list/);
    await until('webhooks started', () => err.includes(`webhooks on https://127.0.0.1:${webhook} (/validate, /inject)`), 20_000);
    // served with a certificate of the control plane's CA
    const root = fs.readFileSync(path.join(dir, 'cli-config', '.clew', 'root-cert.pem'), 'utf8');
    const status = await new Promise<number>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: webhook, path: '/validate', ca: root }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(status, 405, 'GET of a webhook: only POST');
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }
});
