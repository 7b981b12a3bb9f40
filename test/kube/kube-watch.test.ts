/**
 * Watch robustness against a real kube-apiserver (serving watches from etcd, --watch-cache=false,
 * so an etcd compaction expires a resumed watch): the API server restarted mid-run, a watch that
 * resumes from a compacted resourceVersion (410 → relist, which finds a change the watch never
 * delivered), and 1000 Services created at once reaching a proxy in a few debounced pushes.
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
