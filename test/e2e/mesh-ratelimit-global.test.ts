/**
 * Global rate limit the way Istio's rate-limit task does it: its `ratelimit-config` ConfigMap
 * (envoyproxy/ratelimit's format) mounted as a directory for `clew ratelimit`, which counts in a
 * real Redis (redis-server on a free loopback port), and its two EnvoyFilters applied unchanged
 * (the ratelimit filter before the router on the ingress gateway, and the VIRTUAL_HOST MERGE
 * adding a `:path` → PATH descriptor). Two gateway proxies (both `istio: ingressgateway`) front
 * the same service and share one budget: /productpage's 1 per minute lets the first request
 * through either gateway and refuses the next one through the other with 429
 * `x-envoy-ratelimited`, counted in each proxy's stats. With Redis stopped the service cannot
 * answer: failure_mode_deny true (the task's) refuses with 500, false lets traffic through; Redis
 * back, the limits apply again without a restart.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { planPod } from '../../src/local/local-pod.js';
import { freePorts } from '../../src/local/local-ports.js';
import { applyConfig, curl, planSidecar, spawnClew, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Proc, type Sidecar } from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '131';

const WEB_CLUSTER = 'outbound|8080||web.default.svc.cluster.local';

/** Istio's task: samples/ratelimit/rate-limit-service.yaml's ConfigMap, unchanged */
const ISTIO_RATELIMIT_CONFIGMAP = `apiVersion: v1
kind: ConfigMap
metadata:
  name: ratelimit-config
data:
  config.yaml: |
    domain: ratelimit
    descriptors:
      - key: PATH
        value: "/productpage"
        rate_limit:
          unit: minute
          requests_per_unit: 1
      - key: PATH
        rate_limit:
          unit: minute
          requests_per_unit: 100
`;

/** Istio's task: the two EnvoyFilters of the global rate limit, unchanged */
function istioEnvoyFilters(failureModeDeny = true): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-ratelimit
  namespace: istio-system
spec:
  workloadSelector:
    # select by label in the same namespace
    labels:
      istio: ingressgateway
  configPatches:
    # The Envoy config you want to modify
    - applyTo: HTTP_FILTER
      match:
        context: GATEWAY
        listener:
          filterChain:
            filter:
              name: "envoy.filters.network.http_connection_manager"
              subFilter:
                name: "envoy.filters.http.router"
      patch:
        operation: INSERT_BEFORE
        # Adds the Envoy Rate Limit Filter in HTTP filter chain.
        value:
          name: envoy.filters.http.ratelimit
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
            # domain can be anything! Match it to the ratelimter service config
            domain: ratelimit
            failure_mode_deny: ${failureModeDeny}
            timeout: 10s
            rate_limit_service:
              grpc_service:
                envoy_grpc:
                  cluster_name: outbound|8081||ratelimit.default.svc.cluster.local
                  authority: ratelimit.default.svc.cluster.local
              transport_api_version: V3
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-ratelimit-svc
  namespace: istio-system
spec:
  workloadSelector:
    labels:
      istio: ingressgateway
  configPatches:
    - applyTo: VIRTUAL_HOST
      match:
        context: GATEWAY
        routeConfiguration:
          vhost:
            name: ""
            route:
              action: ANY
      patch:
        operation: MERGE
        # Applies the rate limit rules.
        value:
          rate_limits:
            - actions: # any actions in here
              - request_headers:
                  header_name: ":path"
                  descriptor_key: "PATH"
`;
}

let cp: ControlPlaneProc;
let gateways: Array<{ proxy: Sidecar; port: number }> = [];
let app: http.Server | undefined;
let redis: ChildProcess | undefined;
let redisPort = 0;
let rls: Proc | undefined;
const closers: Array<() => void> = [];

function startRedis(): Promise<ChildProcess> {
  const p = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.on('error', () => undefined);
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    p.stdout!.on('data', () => {
      if (/Ready to accept connections/i.test(out)) {
        clearTimeout(timer);
        resolve(p);
      }
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited ${code}: ${out}`));
    });
  });
}

async function stopRedis(): Promise<void> {
  const p = redis;
  redis = undefined;
  if (!p || p.exitCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGKILL');
  await gone;
}

interface Reply { status: number; head: string; body: string }

async function call(gw: number, path: string): Promise<Reply> {
  const g = gateways[gw];
  const out = await curl(['-sD', '-', '-H', 'Host: bookinfo.example.com', `http://${g.proxy.address}:${g.port}${path}`]);
  const i = out.indexOf('\r\n\r\n');
  const head = out.slice(0, i);
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), head, body: out.slice(i + 4) };
}

const stat = (gw: number, name: string): Promise<number> => gateways[gw].proxy.stat(`cluster.${WEB_CLUSTER}.ratelimit.${name}`);

/** waits until a minute's fixed window has at least `s` seconds left (the test must not straddle two windows) */
async function awayFromWindowEnd(s: number): Promise<void> {
  const left = 60 - (Date.now() / 1000) % 60;
  if (left < s) await new Promise((r) => setTimeout(r, left * 1000 + 100));
}

before(async () => {
  [redisPort] = await freePorts('127.0.0.1', 1);
  redis = await startRedis();
  // the ConfigMap as Kubernetes mounts it: a directory with one file per data key
  const mounted = tempDir('clew-e2e-rlg-configmap-');
  for (const [k, v] of Object.entries((parse(ISTIO_RATELIMIT_CONFIGMAP) as { data: Record<string, string> }).data)) writeFileSync(join(mounted, k), v);
  rls = spawnClew(['ratelimit', '--config', mounted, '--redis-url', `redis://127.0.0.1:${redisPort}`, '--grpc-address', '127.0.0.1:0']);
  let rlsPort = 0;
  await waitFor(() => {
    const m = /listening on port (\d+)/.exec(rls!.output());
    if (m) rlsPort = Number(m[1]);
    if (rls!.proc.exitCode !== null) throw new Error(`clew ratelimit exited: ${rls!.output()}`);
    return rlsPort > 0;
  }, 15_000, () => `clew ratelimit to listen: ${rls!.output()}`);

  const stateDir = tempDir('clew-e2e-rlg-state-');
  const configDir = tempDir('clew-e2e-rlg-config-');
  writeFileSync(join(configDir, 'platform.yaml'), `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http-web, port: 8080, targetPort: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: ratelimit, namespace: default}
spec:
  selector: {app: ratelimit}
  ports:
  - {name: grpc-server, port: 8081, targetPort: 8081}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratelimit, namespace: default}
spec:
  address: 127.0.0.1
  labels: {app: ratelimit}
  ports: {grpc-server: ${rlsPort}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: ['*']
  gateways: [istio-system/bookinfo-gateway]
  http:
  - route: [{destination: {host: web, port: {number: 8080}}}]
`);
  cp = await startControlPlane(configDir);
  const webPlan = await planSidecar({ name: 'web', ports: [8080], xdsAddress: cp.xdsAddress, stateDir });
  app = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`page ${req.url}`));
  });
  await new Promise<void>((r) => app!.listen(0, webPlan.address, () => r()));
  const ports = await freePorts('127.0.0.1', 2);
  const gwPlans = await Promise.all(['a', 'b'].map((n, i) => planPod({
    name: `istio-ingressgateway-${n}`, namespace: 'istio-system', labels: { istio: 'ingressgateway' }, serviceAccount: 'istio-ingressgateway-service-account',
    ports: [], xdsAddress: cp.xdsAddress, type: 'router', extraProxyArgs: ['--remap-port', `80=${ports[i]}`],
  }, stateDir)));
  for (const p of gwPlans) closers.push(() => p.network.release());
  const [, ...gws] = await Promise.all([startSidecar(webPlan, { 8080: (app!.address() as net.AddressInfo).port }), ...gwPlans.map((p) => startSidecar(p))]);
  gateways = gws.map((proxy, i) => ({ proxy, port: ports[i] }));
  for (const i of [0, 1]) {
    await waitFor(async () => (await call(i, '/ping').catch(() => ({ status: 0 }))).status === 200, 30_000, () => `gateway ${i} to serve the app: ${gateways[i].proxy.output().slice(-2000)}`);
  }
}, { timeout: 90_000 });

after(async () => {
  await stopRedis();
  rls?.proc.kill('SIGTERM');
  app?.close();
  for (const c of closers) c();
});

test("Istio's global rate limit YAML: two gateways share /productpage's 1 per minute through clew ratelimit and Redis", async () => {
  await applyConfig(cp, istioEnvoyFilters(true));
  // the filter is in on both gateways once a request counts in its stats (the 100/minute default keeps /ping open)
  for (const i of [0, 1]) {
    let last: Reply | undefined;
    await waitFor(async () => (last = await call(i, '/ping')).status === 200 && (await stat(i, 'ok')) > 0, 20_000,
      () => `gateway ${i} to apply the rate limit filter: ${JSON.stringify(last)}\n${gateways[i].proxy.output().slice(-2000)}`);
  }
  await awayFromWindowEnd(5);
  const first = await call(0, '/productpage');
  assert.equal(first.status, 200, 'the first /productpage of the minute passes');
  assert.equal(first.body, 'page /productpage');
  const second = await call(1, '/productpage');
  assert.equal(second.status, 429, 'the second, through the OTHER gateway, is over the shared limit');
  assert.match(second.head, /^x-envoy-ratelimited: true$/im);
  const third = await call(0, '/productpage');
  assert.equal(third.status, 429, 'and the first gateway refuses too');
  // other paths fall under PATH's 100/minute default
  assert.equal((await call(1, '/reviews')).status, 200);

  assert.ok((await stat(0, 'ok')) >= 2, 'gateway a counted its allowed requests');
  assert.equal(await stat(0, 'over_limit'), 1);
  assert.equal(await stat(1, 'over_limit'), 1);
  assert.equal(await stat(0, 'error') + await stat(1, 'error'), 0);
  // the shared counter lives in Redis: envoyproxy/ratelimit's fixed-window key for the minute
  const client = new Redis({ port: redisPort, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const keys = await client.keys('ratelimit_PATH_/productpage_*');
    assert.equal(keys.length, 1, `one window key: ${keys.join(', ')}`);
    assert.equal(Number(await client.get(keys[0])), 3);
    const ttl = await client.ttl(keys[0]);
    assert.ok(ttl > 0 && ttl <= 60, `the key expires with its minute (ttl ${ttl})`);
  } finally {
    client.disconnect();
  }
});

test('Redis down: failure_mode_deny true refuses with 500 (RLSE), false lets traffic through; Redis back, limits apply again', async () => {
  await stopRedis();
  const errorsBefore = await stat(0, 'error');
  const denied = await call(0, '/ping');
  assert.equal(denied.status, 500, `failure_mode_deny: true refuses while the service cannot count: ${JSON.stringify(denied)}`);
  assert.ok((await stat(0, 'error')) > errorsBefore);

  await applyConfig(cp, istioEnvoyFilters(false));
  for (const i of [0, 1]) {
    await waitFor(async () => (await call(i, '/productpage')).status === 200, 20_000, `gateway ${i} to fail open`);
  }
  assert.ok((await stat(0, 'failure_mode_allowed')) > 0);
  assert.ok((await stat(1, 'failure_mode_allowed')) > 0);

  // Redis comes back (empty): the service reconnects by itself and the shared budget holds again
  redis = await startRedis();
  await awayFromWindowEnd(5);
  let statuses: number[] = [];
  await waitFor(async () => {
    const r = await call(0, '/productpage');
    statuses.push(r.status);
    return r.status === 429;
  }, 15_000, () => `the limit to apply again after Redis restarted: ${statuses.join(',')}`);
  statuses = [(await call(1, '/productpage')).status];
  assert.deepEqual(statuses, [429]);
});
