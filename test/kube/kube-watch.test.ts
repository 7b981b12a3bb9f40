/**
 * Watch robustness against a real kube-apiserver (serving watches from etcd, --watch-cache=false,
 * so an etcd compaction expires a resumed watch): the API server restarted mid-run, a watch that
 * resumes from a compacted resourceVersion (410 → relist, which finds a change the watch never
 * delivered), and 1000 Services created at once reaching a proxy in a few debounced pushes.
 * Last, on the same API server: `clew install` checked by a server-side dry run, applied, and
 * removed again by `clew uninstall`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kubeApiServerSkip, startKubeApiServer, type KubeApiServer } from '../helpers/kube-api-server.js';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { KubeClient } from '../../src/kube/kube-client.js';
import { KubeSources } from '../../src/kube/kube-sources.js';
import { TestAdsClient, CLUSTER_TYPE } from '../helpers/ads-client.js';
import { must, until } from './kube-fixtures.js';
import { runClew } from '../helpers/run-clew.js';
import { installObjects, objectPath } from '../../src/kube/install/install-manifest.js';

const skip = kubeApiServerSkip();
let api: KubeApiServer;
let kube: KubeSources;
let cp: ControlPlane;
let dir: string;
const logs: string[] = [];

const svc = (name: string) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', labels: { bulk: name.startsWith('bulk-') ? 'yes' : 'no' } },
  spec: { ports: [{ name: 'http', port: 8080 }], selector: { app: name } },
});

before(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-kube-watch-'));
  api = await startKubeApiServer({ watchCache: false });
  await api.kubectl(['create', 'namespace', 'istio-system']);
  kube = new KubeSources(KubeClient.fromFile(api.kubeconfig), { backoffMs: 100, maxBackoffMs: 1000, log: (l) => logs.push(l) });
  // no Istio CRDs here: their informers keep retrying (404) without holding up the registry
  kube.registry.start();
  await kube.registry.synced();
  fs.mkdirSync(path.join(dir, 'config'));
  cp = new ControlPlane({
    configDir: path.join(dir, 'config'), xdsPort: 0, debugPort: 0, secureXdsPort: 0, publishToken: false, debounceMs: 100,
    registries: [kube.registrySource()], log: (l) => logs.push(l),
  });
  await cp.start();
});

after(async () => {
  await cp?.stop();
  kube?.registry.stop();
  kube?.client.close();
  await api?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const host = (name: string) => `${name}.default.svc.cluster.local`;

test('the API server restarted mid-run: the informers reconnect and see what changed after the restart', { skip }, async () => {
  await must(api, 'POST', '/api/v1/namespaces/default/services', svc('before-restart'));
  await until('before-restart seen', () => cp.registry.serviceByHostname(host('before-restart')));
  const watchesBefore = kube.registry.services$.stats.watches;
  await api.stopApiServer();
  // the watch broke and reconnection attempts fail while the server is down
  await until('a failed reconnection', () => kube.registry.services$.stats.errors > 0, 20_000);
  await api.startApiServer();
  await must(api, 'POST', '/api/v1/namespaces/default/services', svc('after-restart'));
  await until('after-restart seen', () => cp.registry.serviceByHostname(host('after-restart')), 30_000);
  assert.ok(kube.registry.services$.stats.watches > watchesBefore, 'a new watch was opened');
  assert.ok(cp.registry.serviceByHostname(host('before-restart')), 'what was listed before stays');
});

test('a watch resuming from a compacted resourceVersion gets 410 and relists, finding a delete it never saw', { skip }, async () => {
  await must(api, 'POST', '/api/v1/namespaces/default/services', svc('gone-behind-the-back'));
  await until('gone-behind-the-back seen', () => cp.registry.serviceByHostname(host('gone-behind-the-back')));
  const inf = kube.registry.services$;
  const expiredBefore = inf.stats.expired;
  const relistsBefore = inf.stats.relists;
  await api.stopApiServer();
  // a change no watch delivers (the API server is down), then the history before it is compacted
  await api.etcdDelete('/registry/services/specs/default/gone-behind-the-back');
  await api.compactEtcd();
  await api.startApiServer();
  await until('410 and a relist', () => inf.stats.expired > expiredBefore && inf.stats.relists > relistsBefore, 30_000);
  await until('the deleted service gone from the registry', () => !cp.registry.serviceByHostname(host('gone-behind-the-back')), 10_000);
  assert.ok(logs.some((l) => l.includes('/api/v1/services: watch from resourceVersion') && l.includes('expired (410)')), logs.join('\n'));
  assert.ok(cp.registry.serviceByHostname(host('after-restart')), 'the relist keeps the others');
});

test('1000 Services created at once: the proxy converges in a few debounced pushes, not one per Service', { skip, timeout: 240_000 }, async () => {
  const a = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, { id: 'sidecar~10.244.9.9~watcher.default~default.svc.cluster.local' });
  try {
    const bulkClusters = () => (a.latest.get(CLUSTER_TYPE)?.resources ?? []).filter((c) => /^outbound\|8080\|\|bulk-/.test(c.name)).length;
    await a.until(() => a.latest.has(CLUSTER_TYPE), 10_000);
    const mark = a.received.length;
    const items = Array.from({ length: 1000 }, (_, i) => svc(`bulk-${i}`));
    const file = path.join(dir, 'bulk.json');
    fs.writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    const t0 = performance.now();
    await api.kubectl(['create', '-f', file]);
    const created = performance.now();
    await a.until(() => bulkClusters() === 1000, 120_000);
    const converged = performance.now();
    const cdsPushes = a.received.slice(mark).filter((r) => r.typeUrl === CLUSTER_TYPE).length;
    const line = `1000 Services: kubectl create ${Math.round(created - t0)} ms, proxy had every cluster ${Math.round(converged - t0)} ms after the start, in ${cdsPushes} CDS pushes`;
    process.stdout.write(`# ${line}\n`);
    assert.ok(cdsPushes <= 100, line);
    assert.equal(kube.registry.services().filter((s) => s.name.startsWith('bulk-')).length, 1000);
  } finally {
    a.close();
  }
});

test('clew install: its dry-run output passes kubectl apply --dry-run=server; install applies every object, uninstall removes them', { skip, timeout: 180_000 }, async () => {
  const dry = await runClew(['install', '--dry-run', '-o', 'yaml']);
  assert.equal(dry.code, 0, dry.stderr);
  const server = await api.kubectl(['apply', '--dry-run=server', '-f', '-'], dry.stdout);
  const objects = installObjects();
  for (const o of objects) {
    assert.match(server, new RegExp(`${o.metadata.name.replace(/\./g, '\\.')} (created|configured|unchanged) \\(server dry run\\)`), `${o.kind} ${o.metadata.name}`);
  }
  assert.equal((await api.request('GET', objectPath(objects.find((o) => o.kind === 'Deployment')!))).status, 404, 'a dry run stores nothing');

  const inst = await runClew(['install', '--kubeconfig', api.kubeconfig], { timeoutMs: 60_000 });
  assert.equal(inst.code, 0, inst.stderr);
  for (const o of objects) {
    const r = await api.request('GET', objectPath(o));
    assert.equal(r.status, 200, `${o.kind} ${o.metadata.name}`);
    assert.equal(r.body.metadata.labels['app.kubernetes.io/part-of'], 'clew', `${o.kind} ${o.metadata.name}`);
  }
  const again = await runClew(['install', '--kubeconfig', api.kubeconfig], { timeoutMs: 60_000 });
  assert.equal(again.code, 0, `install twice: ${again.stderr}`);

  const un = await runClew(['uninstall', '--kubeconfig', api.kubeconfig], { timeoutMs: 60_000 });
  assert.equal(un.code, 0, un.stderr);
  for (const o of objects) {
    if (o.kind === 'Namespace') {
      // without a controller manager here nothing finishes a namespace's deletion: it is Terminating
      const r = await api.request('GET', objectPath(o));
      assert.ok(r.status === 404 || r.body.metadata.deletionTimestamp, 'namespace being deleted');
      continue;
    }
    await until(`${o.kind} ${o.metadata.name} gone`, async () => ((await api.request('GET', objectPath(o))).status === 404 ? true : undefined), 30_000);
  }
});
