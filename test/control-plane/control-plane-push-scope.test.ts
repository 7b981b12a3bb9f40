/**
 * Sidecar egress scoping through the real control plane and real ADS streams (issue 25 Must show
 * 4): a proxy whose Sidecar imports `./*` and `istio-system/*` gets only those hosts in CDS and
 * RDS, and a push for a change in an unrelated namespace is not sent to it (the push leaves its
 * stream out: clew_xds_push_scoped_out_total counts it), while a proxy without a Sidecar gets
 * that push; a change it imports reaches it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { tokenForNode } from '../helpers/workload-token.js';
import { TestAdsClient, CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../helpers/ads-client.js';

const svc = (name: string, ns: string, port = 9080) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: ${port}}]
`;

const CONFIG = [
  svc('cart', 'shop'), svc('reviews', 'shop'), svc('istiod', 'istio-system', 15014), svc('ledger', 'payments'),
  `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  egress:
  - hosts: ["./*", "istio-system/*"]
`,
].join('---\n');

let cp: ControlPlane;
let dir: string;
const clients: TestAdsClient[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-push-scope-'));
  fs.writeFileSync(path.join(dir, 'mesh.yaml'), CONFIG);
  cp = new ControlPlane({ configDir: dir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, debounceMs: 20, pollMs: 60_000, publishToken: false, metricsScrapeIntervalMs: 0, log: () => {} });
  await cp.start();
});

after(async () => {
  for (const c of clients) c.close();
  await cp.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function connect(name: string, ns: string, ip: string): Promise<TestAdsClient> {
  const node = {
    id: `sidecar~${ip}~${name}.${ns}~${ns}.svc.cluster.local`,
    metadata: { NAME: name, NAMESPACE: ns, LABELS: { app: name.split('-')[0] }, INSTANCE_IPS: ip },
  };
  const c = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, node, { token: await tokenForNode(cp, node) });
  clients.push(c);
  await c.until(() => [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE].every((t) => c.latest.has(t)), 10_000);
  return c;
}

async function apply(yaml: string): Promise<void> {
  const res = await request(`http://127.0.0.1:${cp.debugPort}/apis/v1/apply`, {
    method: 'POST', body: yaml, headers: { 'content-type': 'application/yaml', authorization: `Bearer ${cp.adminToken}` },
  });
  assert.equal(res.statusCode, 200, await res.body.text());
}

async function scopedOut(): Promise<number> {
  const res = await request(`http://127.0.0.1:${cp.debugPort}/metrics`);
  const line = (await res.body.text()).split('\n').find((l) => l.startsWith('clew_xds_push_scoped_out_total'));
  return line ? Number(line.split(' ').pop()) : 0;
}

const clusterHosts = (c: TestAdsClient) => [...new Set(c.latest.get(CLUSTER_TYPE)!.resources
  .map((r) => r.name as string).filter((n) => n.startsWith('outbound|')).map((n) => n.split('|')[3]))].sort();
const vhosts = (c: TestAdsClient) => c.latest.get(ROUTE_TYPE)!.resources.flatMap((rc) => rc.virtual_hosts.map((v: any) => v.name as string))
  .filter((n) => n !== 'allow_any').sort();

test('a Sidecar with egress ./* and istio-system/*: CDS and RDS hold only those hosts; an unrelated namespace\'s push does not reach it', async () => {
  const shop = await connect('cart-v1', 'shop', '127.0.5.1');
  const other = await connect('web-v1', 'other', '127.0.5.2');
  assert.deepEqual(clusterHosts(shop), ['cart.shop.svc.cluster.local', 'istiod.istio-system.svc.cluster.local', 'reviews.shop.svc.cluster.local']);
  assert.deepEqual(vhosts(shop), ['cart.shop.svc.cluster.local:9080', 'istiod.istio-system.svc.cluster.local:15014', 'reviews.shop.svc.cluster.local:9080']);
  assert.ok(clusterHosts(other).includes('ledger.payments.svc.cluster.local'));
  assert.ok(vhosts(other).includes('ledger.payments.svc.cluster.local:9080'));

  // a change in payments: the unscoped proxy gets a push, the scoped one is left out of it
  await new Promise((r) => setTimeout(r, 200));
  const [shopSeen, otherSeen, skipped] = [shop.received.length, other.received.length, await scopedOut()];
  await apply(`${svc('fraud', 'payments')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ledger, namespace: payments}
spec:
  hosts: [ledger]
  http: [{route: [{destination: {host: ledger}}], timeout: 3s}]
`);
  await other.until(() => clusterHosts(other).includes('fraud.payments.svc.cluster.local'), 10_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(other.received.length > otherSeen);
  assert.equal(shop.received.length, shopSeen, 'nothing was sent to the scoped proxy');
  assert.ok(await scopedOut() > skipped, 'the push left the scoped proxy\'s stream out');

  // a change it imports reaches it
  await apply(svc('wishlist', 'shop'));
  await shop.until(() => clusterHosts(shop).includes('wishlist.shop.svc.cluster.local'), 10_000);
  assert.ok(!clusterHosts(shop).includes('fraud.payments.svc.cluster.local'));
});
