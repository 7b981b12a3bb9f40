/**
 * AuthorizationPolicy CUSTOM end to end (Istio's ext-authz task, with its sample authorizer as
 * Clew's samples/ext-authz): curl -> client sidecar -> server sidecar (shadow RBAC + ext_authz) ->
 * app. The authorizer runs outside the mesh on loopback, reached through a ServiceEntry as in
 * Istio's local-authorizer setup; the mesh config names it as HTTP and gRPC providers, plus one
 * that is down (fail open / statusOnError) and one that never answers (timeout). A second
 * authorizer runs in the mesh behind its own sidecar (Istio's main task): the checks reach it
 * over mTLS.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { DENIED_BODY, startExtAuthz, type ExtAuthzServers } from '../../samples/ext-authz/ext-authz-app.js';
import { applyConfig, curl, planSidecar, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '85';

const WEB = 8080;
let cp: ControlPlaneProc;
let client: Sidecar;
let server: Sidecar;
let app: http.Server;
let authz: ExtAuthzServers;
let httpPort = 0;
let grpcPort = 0;
let slow: net.Server;
let meshAuthz: ExtAuthzServers | undefined;
let authzPod: Sidecar;
const held: net.Socket[] = [];

interface Reply { status: number; head: string; body: string }

async function call(path: string, allow = false): Promise<Reply> {
  const out = await curl(['-x', client.outboundUrl, '-sD', '-', ...(allow ? ['-H', 'x-ext-authz: allow'] : []), `http://web:${WEB}${path}`]);
  const i = out.indexOf('\r\n\r\n');
  const head = out.slice(0, i);
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), head, body: out.slice(i + 4) };
}

const seenHeaders = (r: Reply): Record<string, string> => (JSON.parse(r.body) as { headers: Record<string, string> }).headers;

/** the sum of one ext_authz counter over the server sidecar's HCMs */
async function authzStat(name: string): Promise<number> {
  const text = await (await request(`${server.adminUrl}/stats`)).body.text();
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^http\\..*\\.ext_authz\\.${name}: (\\d+)$`, 'gm'))) n += Number(m[1]);
  return n;
}

function customPolicy(provider: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  action: CUSTOM
  provider: {name: ${provider}}
  rules:
  - to:
    - operation: {paths: ["/check/*"]}
`;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

before(async () => {
  authz = await startExtAuthz('127.0.0.1');
  ({ httpPort, grpcPort } = authz);
  slow = net.createServer((s) => {
    held.push(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
  const slowPort = (slow.address() as net.AddressInfo).port;
  const downPort = await freePort();

  const stateDir = tempDir('clew-e2e-extauthz-state-');
  const configDir = tempDir('clew-e2e-extauthz-config-');
  writeFileSync(join(configDir, 'platform.yaml'), `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http-web, port: ${WEB}, targetPort: ${WEB}}
---
apiVersion: v1
kind: Service
metadata: {name: ext-authz, namespace: default}
spec:
  selector: {app: ext-authz}
  ports:
  - {name: http, port: 8000, targetPort: 8000}
  - {name: grpc, port: 9000, targetPort: 9000}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext-authz, namespace: default}
spec:
  hosts: [ext-authz.local]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {number: ${httpPort}, name: http, protocol: HTTP}
  - {number: ${grpcPort}, name: grpc, protocol: GRPC}
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: broken-authz, namespace: default}
spec:
  hosts: [down.local, slow.local]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {number: ${downPort}, name: grpc-down, protocol: GRPC}
  - {number: ${slowPort}, name: grpc-slow, protocol: GRPC}
  endpoints: [{address: 127.0.0.1}]
`);
  const meshFile = join(tempDir('clew-e2e-extauthz-mesh-'), 'mesh.yaml');
  writeFileSync(meshFile, `extensionProviders:
- name: ext-authz-http
  envoyExtAuthzHttp:
    service: ext-authz.local
    port: "${httpPort}"
    includeRequestHeadersInCheck: [x-ext-authz]
    headersToUpstreamOnAllow: [x-ext-authz-check-result]
    headersToDownstreamOnDeny: [x-ext-authz-check-result]
- name: ext-authz-grpc
  envoyExtAuthzGrpc:
    service: ext-authz.local
    port: ${grpcPort}
- name: down-open
  envoyExtAuthzGrpc: {service: down.local, port: ${downPort}, failOpen: true}
- name: down-closed
  envoyExtAuthzGrpc: {service: down.local, port: ${downPort}, statusOnError: "503"}
- name: slow
  envoyExtAuthzGrpc: {service: slow.local, port: ${slowPort}, timeout: 0.3s}
- name: mesh-grpc
  envoyExtAuthzGrpc: {service: ext-authz.default.svc.cluster.local, port: "9000"}
- name: mesh-http
  envoyExtAuthzHttp:
    service: default/ext-authz
    port: 8000
    includeRequestHeadersInCheck: [x-ext-authz]
    headersToUpstreamOnAllow: [x-ext-authz-check-result]
    headersToDownstreamOnDeny: [x-ext-authz-check-result]
`);
  cp = await startControlPlane(configDir, undefined, meshFile);
  const serverPlan = await planSidecar({ name: 'web', labels: { app: 'web' }, ports: [WEB], xdsAddress: cp.xdsAddress, stateDir });
  app = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, headers: req.headers })));
  });
  await new Promise<void>((r) => app.listen(0, serverPlan.address, () => r()));
  const clientPlan = await planSidecar({ name: 'sleep', labels: { app: 'sleep' }, xdsAddress: cp.xdsAddress, stateDir });
  const authzPlan = await planSidecar({ name: 'ext-authz', labels: { app: 'ext-authz' }, ports: [8000, 9000], xdsAddress: cp.xdsAddress, stateDir });
  meshAuthz = await startExtAuthz(authzPlan.address);
  [server, client, authzPod] = await Promise.all([
    startSidecar(serverPlan, { [WEB]: (app.address() as net.AddressInfo).port }),
    startSidecar(clientPlan),
    startSidecar(authzPlan, { 8000: meshAuthz.httpPort, 9000: meshAuthz.grpcPort }),
  ]);
  await waitFor(async () => (await call('/').catch(() => ({ status: 0 }))).status === 200, 20_000, 'web to answer through the mesh');
}, { timeout: 60_000 });

after(async () => {
  app?.close();
  for (const s of held) s.destroy();
  slow?.close();
  await authz?.close();
  await meshAuthz?.close();
});

test('HTTP provider: allowed with the authorizer\'s header upstream; denied with its status, header and body; uncovered paths are not checked', async () => {
  await applyConfig(cp, customPolicy('ext-authz-http'));
  await waitFor(async () => (await call('/check/x')).status === 403, 15_000, 'the CUSTOM policy to reach the server sidecar');
  const ok = await call('/check/ok', true);
  assert.equal(ok.status, 200, ok.body);
  assert.equal(seenHeaders(ok)['x-ext-authz-check-result'], 'allowed');
  const denied = await call('/check/denied');
  assert.equal(denied.status, 403);
  assert.equal(denied.body, DENIED_BODY);
  assert.match(denied.head, /^x-ext-authz-check-result: denied$/im);
  assert.doesNotMatch(denied.head, /^x-ext-authz-check-received:/im, 'only headersToDownstreamOnDeny reach the client');
  const checks = authz.counters.checks;
  assert.equal((await call('/public')).status, 200);
  assert.equal(authz.counters.checks, checks, 'a path no CUSTOM rule covers is not sent to the authorizer');
  assert.ok((await authzStat('denied')) >= 2);
  assert.ok((await authzStat('ok')) >= 1);
});

test('gRPC provider: Check allows (its headers reach the app) and denies with its denied_response', async () => {
  await applyConfig(cp, customPolicy('ext-authz-grpc'));
  // the gRPC sample also sends x-ext-authz-check-received upstream: that says the provider switched
  await waitFor(async () => {
    const r = await call('/check/ok', true);
    return r.status === 200 && seenHeaders(r)['x-ext-authz-check-received'] === 'GET /check/ok';
  }, 15_000, 'the gRPC provider to be in force');
  const denied = await call('/check/denied');
  assert.equal(denied.status, 403);
  assert.equal(denied.body, DENIED_BODY);
  assert.match(denied.head, /^x-ext-authz-check-result: denied$/im);
});

test('authorizer down: failOpen lets requests through; otherwise statusOnError (503)', async () => {
  await applyConfig(cp, customPolicy('down-open'));
  await waitFor(async () => (await call('/check/open')).status === 200, 15_000, 'fail open');
  assert.ok((await authzStat('failure_mode_allowed')) >= 1);
  await applyConfig(cp, customPolicy('down-closed'));
  await waitFor(async () => (await call('/check/closed', true)).status === 503, 15_000, 'statusOnError 503');
  assert.ok((await authzStat('error')) >= 2);
});

test('an authorizer that never answers: 403 after the provider timeout (0.3 s)', async () => {
  await applyConfig(cp, customPolicy('slow'));
  await waitFor(async () => (await call('/check/slow', true)).status === 403, 15_000, 'the slow provider to be in force');
  const t0 = Date.now();
  const r = await call('/check/slow-again', true);
  const ms = Date.now() - t0;
  assert.equal(r.status, 403);
  assert.ok(ms >= 250 && ms < 3000, `took ${ms} ms`);
});

test('the authorizer goes down and comes back: denied (fail closed) meanwhile, allowed again without a restart', async () => {
  await applyConfig(cp, customPolicy('ext-authz-grpc'));
  await waitFor(async () => (await call('/check/ok', true)).status === 200, 15_000, 'the gRPC provider again');
  await authz.close();
  await waitFor(async () => (await call('/check/ok', true)).status === 403, 10_000, 'fail closed while the authorizer is down');
  authz = await startExtAuthz('127.0.0.1', httpPort, grpcPort);
  await waitFor(async () => (await call('/check/ok', true)).status === 200, 10_000, 'checks to work again');
});

test('an authorizer in the mesh behind its own sidecar: gRPC and HTTP checks go over mTLS', async () => {
  await applyConfig(cp, customPolicy('mesh-grpc'));
  // the previous provider (the loopback gRPC authorizer) answers the same: the meshed one counting says it switched
  const before = meshAuthz!.counters.checks;
  await waitFor(async () => {
    const r = await call('/check/mesh', true);
    return r.status === 200 && seenHeaders(r)['x-ext-authz-check-received'] === 'GET /check/mesh' && meshAuthz!.counters.checks > before;
  }, 15_000, 'the meshed gRPC provider to be in force');
  const checks = meshAuthz!.counters.checks;
  const denied = await call('/check/mesh-denied');
  assert.equal(denied.status, 403);
  assert.equal(denied.body, DENIED_BODY);
  assert.equal(meshAuthz!.counters.checks, checks + 1, 'the meshed authorizer answered');
  const handshakes = async (port: number) => {
    const text = await (await request(`${server.adminUrl}/stats`)).body.text();
    return Number(new RegExp(`^cluster\\.outbound\\|${port}\\|\\|ext-authz\\.default\\.svc\\.cluster\\.local\\.ssl\\.handshake: (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  };
  assert.ok((await handshakes(9000)) >= 1, 'the server sidecar reached the authorizer over TLS');
  await applyConfig(cp, customPolicy('mesh-http'));
  await waitFor(async () => {
    const r = await call('/check/mesh-http', true);
    return r.status === 200 && seenHeaders(r)['x-ext-authz-check-received'] === undefined && seenHeaders(r)['x-ext-authz-check-result'] === 'allowed';
  }, 15_000, 'the meshed HTTP provider to be in force');
  const deniedHttp = await call('/check/mesh-http-denied');
  assert.equal(deniedHttp.status, 403);
  assert.match(deniedHttp.head, /^x-ext-authz-check-result: denied$/im);
  assert.ok((await handshakes(8000)) >= 1);
});
