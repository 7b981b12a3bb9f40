/**
 * The control-plane process: config store (apply validates first, persists, hand edits), the
 * resource API through the real CLI, pushes (debounce, EDS-only on endpoint changes),
 * proxy-status and config_dump.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { runClew, type ClewResult } from '../helpers/run-clew.js';
import { tokenForNode } from '../helpers/workload-token.js';
import { TestAdsClient, CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../helpers/ads-client.js';

let cp: ControlPlane;
let dir: string;
const tmpFiles: string[] = [];

const SERVICES = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 9080}]
`;

function clew(...args: string[]): Promise<ClewResult> {
  return runClew([...args, '--control-plane', `http://127.0.0.1:${cp.debugPort}`]);
}

function temp(name: string, text: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-cp-in-'));
  const p = path.join(d, name);
  fs.writeFileSync(p, text);
  tmpFiles.push(d);
  return p;
}

async function get(p: string): Promise<{ status: number; text: string }> {
  const r = await request(`http://127.0.0.1:${cp.debugPort}${p}`);
  return { status: r.statusCode, text: await r.body.text() };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-cp-'));
  fs.writeFileSync(path.join(dir, 'services.yaml'), SERVICES);
  cp = new ControlPlane({ configDir: dir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, debounceMs: 30, pollMs: 200, log: () => {} });
  await cp.start();
});

after(async () => {
  await cp.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of tmpFiles) fs.rmSync(d, { recursive: true, force: true });
});

const VS = `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
    - reviews
  http:
    - route:
        - destination:
            host: reviews
          weight: 100
`;

test('ready and metrics endpoints answer', async () => {
  assert.equal((await get('/ready')).status, 200);
  const m = await get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /# TYPE pilot_xds gauge/);
  assert.match(m.text, /pilot_services 2/);
});

test('apply stores, persists to the config dir, and get lists it', async () => {
  const r = await clew('apply', '-f', temp('vs.yaml', VS));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'virtualservice.networking.istio.io/reviews created');
  assert.ok(fs.existsSync(path.join(dir, 'virtualservice-default-reviews.yaml')));
  const again = await clew('apply', '-f', temp('vs.yaml', VS));
  assert.equal(again.stdout.trim(), 'virtualservice.networking.istio.io/reviews unchanged');
  const table = await clew('get', 'virtualservices');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^NAME\s+GATEWAYS\s+HOSTS/m);
  assert.match(table.stdout, /^reviews\s+\[\]\s+\["reviews"\]/m);
  const json = JSON.parse((await clew('get', 'vs', 'reviews', '-o', 'json')).stdout);
  assert.equal(json.kind, 'VirtualService');
  assert.equal(json.spec.http[0].route[0].weight, 100);
  const yaml = (await clew('get', 'vs', '-o', 'yaml')).stdout;
  assert.match(yaml, /kind: List/);
  assert.equal((await clew('get', 'vs', 'nope')).code, 1);
  assert.equal((await clew('get', 'bogus-kind')).code, 2);
});

test('invalid config is refused with file, line, resource and field, and nothing changes', async () => {
  const before = JSON.stringify(cp.store.all());
  const bad = VS.replace('weight: 100', 'weight: -5');
  const file = temp('bad-vs.yaml', bad);
  const r = await clew('apply', '-f', file);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad-vs\.yaml:12: VirtualService default\/reviews: spec\.http\[0\]\.route\[0\]\.weight: /);
  assert.equal(JSON.stringify(cp.store.all()), before);
  assert.equal((await clew('apply')).code, 2);
});

test('a restart keeps applied config', async () => {
  const other = new ControlPlane({ configDir: dir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, log: () => {} });
  await other.start();
  try {
    assert.ok(other.store.get('VirtualService', 'default', 'reviews'));
    assert.ok(other.store.get('Service', 'default', 'ratings'));
  } finally {
    await other.stop();
  }
});

test('hand edits to the config dir are picked up; invalid ones keep the last good version', async () => {
  const file = path.join(dir, 'hand.yaml');
  fs.writeFileSync(file, VS.replace(/name: reviews\n/, 'name: hand\n').replace('weight: 100', 'weight: 100'));
  await waitFor(() => !!cp.store.get('VirtualService', 'default', 'hand'));
  fs.writeFileSync(file, VS.replace(/name: reviews\n/, 'name: hand\n').replace('weight: 100', 'weight: -1'));
  await waitFor(() => cp.store.rejectedFiles().length > 0);
  const kept = cp.store.get('VirtualService', 'default', 'hand') as any;
  assert.equal(kept.spec.http[0].route[0].weight, 100);
  const configz = JSON.parse((await get('/debug/configz')).text);
  assert.match(configz.rejected[0].messages[0], /hand\.yaml:\d+: VirtualService default\/hand: spec\.http\[0\]\.route\[0\]\.weight/);
  fs.rmSync(file);
  await waitFor(() => !cp.store.get('VirtualService', 'default', 'hand'));
});

test('delete by file and by kind/name', async () => {
  const file = temp('ratings-vs.yaml', VS.replace(/reviews/g, 'ratings'));
  assert.equal((await clew('apply', '-f', file)).code, 0);
  const d = await clew('delete', '-f', file);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.stdout.trim(), 'virtualservice.networking.istio.io/ratings deleted');
  assert.equal((await clew('delete', 'vs', 'ratings')).code, 1);
  assert.equal((await clew('apply', '-f', file)).code, 0);
  assert.equal((await clew('delete', 'virtualservice', 'ratings')).code, 0);
  assert.equal(cp.store.get('VirtualService', 'default', 'ratings'), undefined);
});

test('pushes: a proxy gets CDS/EDS/LDS/RDS, an endpoint-only change pushes EDS only, proxy-status shows SYNCED', async () => {
  const addr = `127.0.0.1:${cp.xdsPort}`;
  const nodeA = {
    id: 'sidecar~127.0.3.1~productpage-v1.default~default.svc.cluster.local',
    metadata: { NAME: 'productpage-v1', NAMESPACE: 'default', LABELS: { app: 'productpage' }, INSTANCE_IPS: '127.0.3.1' },
  };
  const a = new TestAdsClient(addr, nodeA, { token: await tokenForNode(cp, nodeA) });
  try {
    await a.until(() => [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE].every((t) => a.latest.has(t)));
    const clusters = a.latest.get(CLUSTER_TYPE)!.resources.map((c) => c.name);
    assert.ok(clusters.includes('outbound|9080||reviews.default.svc.cluster.local'));
    const eds0 = a.latest.get(ENDPOINT_TYPE)!.resources.find((e) => e.cluster_name === 'outbound|9080||reviews.default.svc.cluster.local');
    assert.equal(eds0?.endpoints?.[0]?.lb_endpoints?.length ?? 0, 0);
    await new Promise((r) => setTimeout(r, 200));
    const countBefore = a.received.length;

    // a reviews workload's proxy connects: only endpoints change
    const nodeB = {
      id: 'sidecar~127.0.3.2~reviews-v1.default~default.svc.cluster.local',
      metadata: {
        NAME: 'reviews-v1', NAMESPACE: 'default', LABELS: { app: 'reviews', version: 'v1' }, INSTANCE_IPS: '127.0.3.2',
        INTERCEPTION_MODE: 'NONE', POD_PORTS: JSON.stringify([{ name: 'http', containerPort: 9080, protocol: 'TCP' }]),
      },
    };
    const b = new TestAdsClient(addr, nodeB, { token: await tokenForNode(cp, nodeB) });
    try {
      await a.until(() => {
        const e = a.latest.get(ENDPOINT_TYPE)!.resources.find((x) => x.cluster_name === 'outbound|9080||reviews.default.svc.cluster.local');
        return (e?.endpoints?.[0]?.lb_endpoints?.length ?? 0) === 1;
      });
      // the first reviews workload brings a new service account: the cluster's SANs change (CDS), as in Istio
      const first = a.received.slice(countBefore);
      assert.deepEqual([...new Set(first.map((r) => r.typeUrl))].sort(), [CLUSTER_TYPE, ENDPOINT_TYPE].sort());
      const ep = a.latest.get(ENDPOINT_TYPE)!.resources.find((x) => x.cluster_name === 'outbound|9080||reviews.default.svc.cluster.local');
      assert.deepEqual(ep!.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: '127.0.3.2', port_value: 9080 });
      // a second one with the same account: only endpoints change
      await new Promise((r) => setTimeout(r, 200));
      const countMid = a.received.length;
      const nodeC = {
        id: 'sidecar~127.0.3.3~reviews-v2.default~default.svc.cluster.local',
        metadata: {
          NAME: 'reviews-v2', NAMESPACE: 'default', LABELS: { app: 'reviews', version: 'v2' }, INSTANCE_IPS: '127.0.3.3',
          INTERCEPTION_MODE: 'NONE', POD_PORTS: JSON.stringify([{ name: 'http', containerPort: 9080, protocol: 'TCP' }]),
        },
      };
      const c = new TestAdsClient(addr, nodeC, { token: await tokenForNode(cp, nodeC) });
      try {
        await a.until(() => {
          const e = a.latest.get(ENDPOINT_TYPE)!.resources.find((x) => x.cluster_name === 'outbound|9080||reviews.default.svc.cluster.local');
          return (e?.endpoints?.[0]?.lb_endpoints?.length ?? 0) === 2;
        });
        assert.deepEqual([...new Set(a.received.slice(countMid).map((r) => r.typeUrl))], [ENDPOINT_TYPE]);
      } finally {
        c.close();
      }

      await b.until(() => b.latest.has(ROUTE_TYPE));
      await new Promise((r) => setTimeout(r, 100));
      const ps = await clew('proxy-status');
      assert.equal(ps.code, 0, ps.stderr);
      assert.match(ps.stdout, /^NAME\s+TYPE\s+CDS\s+LDS\s+EDS\s+RDS/m);
      assert.match(ps.stdout, /productpage-v1\.default\s+sidecar\s+SYNCED\s+SYNCED\s+SYNCED\s+SYNCED/);

      const lc = await clew('proxy-config', 'clusters', 'productpage-v1.default');
      assert.equal(lc.code, 0, lc.stderr);
      assert.match(lc.stdout, /reviews\.default\.svc\.cluster\.local\s+9080\s+-\s+outbound\s+EDS/);
      const le = await clew('proxy-config', 'endpoints', 'productpage-v1.default');
      assert.match(le.stdout, /127\.0\.3\.2:9080\s+HEALTHY\s+outbound\|9080\|\|reviews\.default\.svc\.cluster\.local/);
      const lr = await clew('proxy-config', 'routes', 'productpage-v1.default', '-o', 'json');
      assert.ok(JSON.parse(lr.stdout).some((rc: any) => rc.name === '9080'));
      assert.equal((await clew('proxy-config', 'clusters', 'nobody.default')).code, 1);
      const dump = JSON.parse((await get('/debug/config_dump?proxyID=reviews-v1.default')).text);
      assert.ok(dump.configs.some((c: any) => c['@type'].endsWith('ListenersConfigDump')));
    } finally {
      b.close();
    }
    // the workload leaves with its stream: endpoints empty again
    await a.until(() => {
      const e = a.latest.get(ENDPOINT_TYPE)!.resources.find((x) => x.cluster_name === 'outbound|9080||reviews.default.svc.cluster.local');
      return (e?.endpoints?.[0]?.lb_endpoints?.length ?? 0) === 0;
    }, 5000);
  } finally {
    a.close();
  }
});

test('a NACK shows in proxy-status with the client message', async () => {
  const c = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, {
    id: 'sidecar~127.0.3.9~picky.default~default.svc.cluster.local',
    metadata: { NAME: 'picky', NAMESPACE: 'default' },
  }, { nackTypes: new Set([ROUTE_TYPE]) });
  try {
    await c.until(() => c.latest.has(ROUTE_TYPE));
    await new Promise((r) => setTimeout(r, 100));
    const ps = await clew('proxy-status');
    assert.match(ps.stdout, /picky\.default\s+sidecar\s+SYNCED\s+SYNCED\s+SYNCED\s+NACK/);
    assert.match(ps.stdout, /picky\.default RDS NACK: test rejects this/);
    const m = await get('/metrics');
    assert.match(m.text, /pilot_total_xds_rejects\{type="RDS"\} [1-9]/);
  } finally {
    c.close();
  }
});

test('quick successive applies are debounced into fewer pushes', async () => {
  // its own control plane with a debounce window longer than five applies' file writes take
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-cp-debounce-'));
  const cp2 = new ControlPlane({ configDir: d, xdsPort: 0, secureXdsPort: 0, debugPort: 0, debounceMs: 400, publishToken: false, log: () => {} });
  await cp2.start();
  try {
    const pushes = () => {
      const m = /pilot_xds_pushes\{type="RDS"\} (\d+)/.exec(cp2.metrics.render());
      return m ? Number(m[1]) : 0;
    };
    const before = pushes();
    for (let i = 1; i <= 5; i++) await cp2.store.apply(VS.replace('weight: 100', `weight: 100\n      timeout: ${i}s`), 'x.yaml');
    await waitFor(() => pushes() > before);
    await new Promise((r) => setTimeout(r, 600));
    const n = pushes() - before;
    assert.ok(n >= 1 && n < 5, `expected debounced pushes, got ${n}`);
  } finally {
    await cp2.stop();
    fs.rmSync(d, { recursive: true, force: true });
  }
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
