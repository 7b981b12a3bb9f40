/**
 * The control plane against an independent xDS client: @grpc/grpc-js-xds. A Service, workloads
 * in two subsets, a DestinationRule and a VirtualService in the config directory; calls over
 * xds:/// follow the weights, header matches and injected faults; a `clew apply` changes routing
 * on the same channel within 1 s; a resource the client rejects shows as NACK in proxy-status.
 * (One file per grpc-js-xds process: its xDS client is global.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { startEchoServer, echoDefinition, type EchoServer } from '../helpers/echo-grpc.js';
import { runClew, type ClewResult } from '../helpers/run-clew.js';

let cp: ControlPlane;
let dir: string;
let v1: EchoServer;
let v2: EchoServer;
let client: any;

const HOST = 'echo.default.svc.cluster.local';

function clew(...args: string[]): Promise<ClewResult> {
  return runClew([...args, '--control-plane', `http://127.0.0.1:${cp.debugPort}`]);
}

function vsYaml(http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
  namespace: default
spec:
  hosts: [echo]
  http:
${http}`;
}

const SPLIT_80_20 = vsYaml(`  - match:
    - headers:
        x-user:
          exact: tester
    route:
    - destination: {host: echo, subset: v2}
  - route:
    - destination: {host: echo, subset: v1}
      weight: 80
    - destination: {host: echo, subset: v2}
      weight: 20
`);

function say(metadata?: Record<string, string>): Promise<{ server?: string; code?: number; details?: string }> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata ?? {})) md.set(k, v);
  return new Promise((resolve) => {
    client.Say({ message: 'hi' }, md, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, reply: any) => {
      if (err) resolve({ code: err.code, details: err.details });
      else resolve({ server: reply.server });
    });
  });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-grpcxds-'));
  v1 = await startEchoServer('v1');
  v2 = await startEchoServer('v2');
  fs.writeFileSync(path.join(dir, 'echo.yaml'), `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports:
  - {name: grpc-echo, port: 7070, targetPort: 7070}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v1, namespace: default}
spec:
  address: 127.0.0.1
  labels: {app: echo, version: v1}
  ports: {grpc-echo: ${v1.port}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v2, namespace: default}
spec:
  address: 127.0.0.1
  labels: {app: echo, version: v2}
  ports: {grpc-echo: ${v2.port}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`);
  fs.writeFileSync(path.join(dir, 'echo-vs.yaml'), SPLIT_80_20);
  cp = new ControlPlane({ configDir: dir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, debounceMs: 20, log: () => {} });
  await cp.start();
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${cp.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: {
      id: 'sidecar~127.0.0.1~grpc-client.default~default.svc.cluster.local',
      locality: {},
      metadata: { NAMESPACE: 'default', LABELS: { app: 'grpc-client' } },
    },
  });
  const xds = await import('@grpc/grpc-js-xds');
  xds.register();
  const Echo = echoDefinition().Echo;
  client = new Echo(`xds:///${HOST}:7070`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await cp?.stop();
  await v1?.stop();
  await v2?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('500 calls follow the 80/20 split between subsets', async () => {
  const counts: Record<string, number> = {};
  const N = 500;
  for (let i = 0; i < N; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, () => say()));
    for (const r of batch) {
      assert.equal(r.code, undefined, `call failed: ${r.details}`);
      counts[r.server!] = (counts[r.server!] ?? 0) + 1;
    }
  }
  // binomial(500, 0.2): sd ~ 8.9; accept 4 sd either way
  assert.ok(counts.v2 >= 64 && counts.v2 <= 136, `v2 got ${counts.v2} of ${N}`);
  assert.equal((counts.v1 ?? 0) + counts.v2, N);
});

test('a header match picks its subset', async () => {
  for (let i = 0; i < 20; i++) assert.equal((await say({ 'x-user': 'tester' })).server, 'v2');
});

test('an injected abort reaches the client', async () => {
  const r = await clew('apply', '-f', writeTemp('fault.yaml', vsYaml(`  - match:
    - headers:
        x-fault: {exact: abort}
    fault:
      abort:
        grpcStatus: RESOURCE_EXHAUSTED
        percentage: {value: 100}
    route:
    - destination: {host: echo, subset: v1}
  - route:
    - destination: {host: echo, subset: v1}
`)));
  assert.equal(r.code, 0, r.stderr);
  const deadline = Date.now() + 5000;
  let got: { code?: number } = {};
  while (Date.now() < deadline) {
    got = await say({ 'x-fault': 'abort' });
    if (got.code === grpc.status.RESOURCE_EXHAUSTED) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(got.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.equal((await say()).server, 'v1');
});

test('clew apply of a changed VirtualService takes effect within 1 s on the same channel', async () => {
  const r0 = await clew('apply', '-f', writeTemp('split.yaml', SPLIT_80_20));
  assert.equal(r0.code, 0, r0.stderr);
  await waitFor(async () => (await Promise.all(Array.from({ length: 20 }, () => say()))).some((x) => x.server === 'v2'), 5000);
  const file = writeTemp('all-v2.yaml', vsYaml(`  - route:
    - destination: {host: echo, subset: v2}
`));
  const started = Date.now();
  const r = await clew('apply', '-f', file);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /virtualservice\.networking\.istio\.io\/echo configured/);
  const applied = Date.now();
  // after the apply returns, new calls must reach v2 only within 1 s
  let consecutive = 0;
  while (consecutive < 30) {
    const x = await say();
    consecutive = x.server === 'v2' ? consecutive + 1 : 0;
    assert.ok(Date.now() - applied < 1000, `routing not switched 1 s after apply (apply itself took ${applied - started} ms)`);
  }
});

test('a resource the client rejects shows as NACK with its message in proxy-status', async () => {
  const r = await clew('apply', '-f', writeTemp('dr-lr.yaml', `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`));
  assert.equal(r.code, 0, r.stderr);
  let status = '';
  await waitFor(async () => {
    status = (await clew('proxy-status')).stdout;
    return /NACK/.test(status);
  }, 5000);
  assert.match(status, /grpc-client\.default\s+sidecar\s+NACK/);
  assert.match(status, /CDS NACK: .*LEAST_REQUEST/);
  const json = JSON.parse((await clew('proxy-status', '-o', 'json')).stdout);
  const row = json.find((x: any) => x.name === 'grpc-client.default');
  assert.equal(row.CDS, 'NACK');
  assert.equal(row.LDS, 'SYNCED');
  // the client keeps its last good config
  assert.ok((await say()).server);
});

function writeTemp(name: string, text: string): string {
  const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'clew-apply-')), name);
  fs.writeFileSync(p, text);
  return p;
}

async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`condition not met within ${ms} ms`);
}
