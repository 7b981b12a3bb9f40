/**
 * Proxy-registered workloads survive a control-plane restart (saved under the config dir's
 * `.clew/`): the first proxy to reconnect already gets the endpoints of proxies not back yet;
 * a restored workload goes when its grace ends without a reconnect, or at once when another
 * proxy connects with its address.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { tokenForNode } from '../helpers/workload-token.js';
import { TestAdsClient, CLUSTER_TYPE, ENDPOINT_TYPE } from '../helpers/ads-client.js';

const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-cp-restart-'));
fs.writeFileSync(path.join(dir, 'services.yaml'), `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
---
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: default}
spec:
  selector: {app: productpage}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
`);
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function sidecar(cp: ControlPlane, name: string, app: string, ip: string): Promise<TestAdsClient> {
  const node = {
    id: `sidecar~${ip}~${name}.default~default.svc.cluster.local`,
    metadata: {
      NAME: name, NAMESPACE: 'default', LABELS: { app }, INSTANCE_IPS: ip, INTERCEPTION_MODE: 'NONE',
      POD_PORTS: JSON.stringify([{ name: 'http', containerPort: 9080, protocol: 'TCP' }]),
    },
  };
  return new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, node, { token: await tokenForNode(cp, node) });
}

function reviewsEndpoints(c: TestAdsClient): string[] {
  const e = c.latest.get(ENDPOINT_TYPE)?.resources.find((x) => x.cluster_name === REVIEWS);
  return (e?.endpoints?.[0]?.lb_endpoints ?? []).map((l: any) => l.endpoint.address.socket_address.address);
}

function instances(cp: ControlPlane): string[] {
  return cp.registry.instances('reviews.default.svc.cluster.local', 9080).map((i) => i.endpoint.address);
}

async function start(opts: Partial<ConstructorParameters<typeof ControlPlane>[0]> = {}): Promise<ControlPlane> {
  const cp = new ControlPlane({ configDir: dir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, debounceMs: 20, log: () => {}, ...opts });
  await cp.start();
  return cp;
}

test('a restarted control plane starts with the workloads of the proxies connected before', async () => {
  const first = await start();
  const reviews = await sidecar(first, 'reviews-v1', 'reviews', '127.0.3.2');
  await reviews.until(() => reviews.latest.has(CLUSTER_TYPE));
  assert.deepEqual(instances(first), ['127.0.3.2']);
  await first.stop();
  reviews.close();

  const second = await start({ restoredWorkloadGraceMs: 1500 });
  try {
    assert.deepEqual(instances(second), ['127.0.3.2'], 'restored before any proxy reconnects');
    // productpage's proxy is back first: its very first EDS already has reviews' endpoint
    const pp = await sidecar(second, 'productpage-v1', 'productpage', '127.0.3.1');
    try {
      await pp.until(() => pp.latest.has(ENDPOINT_TYPE));
      assert.deepEqual(reviewsEndpoints(pp), ['127.0.3.2']);
      // reviews never comes back: its workload goes when the grace ends
      await pp.until(() => reviewsEndpoints(pp).length === 0, 5000);
    } finally {
      pp.close();
    }
  } finally {
    await second.stop();
  }
  const saved = JSON.parse(fs.readFileSync(path.join(dir, '.clew', 'proxy-workloads.json'), 'utf8'));
  assert.deepEqual(Object.keys(saved), ['sidecar~127.0.3.1~productpage-v1.default~default.svc.cluster.local']);
});

test('a restored workload goes at once when another proxy connects with its address', async () => {
  const first = await start();
  const reviews = await sidecar(first, 'reviews-v1', 'reviews', '127.0.3.2');
  await reviews.until(() => reviews.latest.has(CLUSTER_TYPE));
  await first.stop();
  reviews.close();

  const second = await start({ restoredWorkloadGraceMs: 60_000 });
  try {
    assert.deepEqual(instances(second), ['127.0.3.2']);
    const other = await sidecar(second, 'ratings-v1', 'ratings', '127.0.3.2');
    try {
      await other.until(() => other.latest.has(CLUSTER_TYPE));
      assert.deepEqual(instances(second), []);
    } finally {
      other.close();
    }
  } finally {
    await second.stop();
  }
});
