/**
 * AuthorizationPolicy end to end: Clew's control plane turns policies into RBAC filters on the
 * server's sidecar; requests go curl -> client sidecar (HTTP_PROXY) -> server sidecar -> app.
 * Denied HTTP is 403 `RBAC: access denied` with the matched policy in the access details; a
 * denied TCP connection is closed without a reply; a dry-run policy only counts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { applyConfig, connectTunnel, curl, planSidecar, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '67';

const WEB = 8080;
const TCP = 9000;
const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http-web, port: ${WEB}, targetPort: ${WEB}}
  - {name: tcp-echo, port: ${TCP}, targetPort: ${TCP}}
`;

let cp: ControlPlaneProc;
let client: Sidecar;
let server: Sidecar;
const servers: net.Server[] = [];

function listen(srv: net.Server, host: string): Promise<number> {
  return new Promise((resolve) => srv.listen(0, host, () => resolve((srv.address() as net.AddressInfo).port)));
}

/** status and body of a request through the client's sidecar */
async function call(path: string, args: string[] = []): Promise<{ status: number; body: string }> {
  const out = await curl(['-x', client.outboundUrl, '-w', '\n%{http_code}', ...args, `http://web:${WEB}${path}`]);
  const nl = out.lastIndexOf('\n');
  return { status: Number(out.slice(nl + 1)), body: out.slice(0, nl) };
}

/** what a TCP client gets back for "ping" through the client's sidecar ('' when the connection closed first) */
async function tcpEcho(): Promise<string> {
  const s = await connectTunnel(client.outbound, `web:${TCP}`);
  return new Promise((resolve) => {
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('ping')) s.destroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    s.write('ping');
    setTimeout(() => s.destroy(), 3000).unref();
  });
}

async function apply(yaml: string): Promise<void> {
  await applyConfig(cp, yaml);
}

/** POST /apis/v1/delete (what `clew delete -f` does) */
async function remove(name: string): Promise<void> {
  const token = readFileSync(join(cp.configDir, '.clew', 'secrets', 'admin-token'), 'utf8').trim();
  const res = await request(`${cp.debugUrl}/apis/v1/delete`, {
    method: 'POST',
    body: `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: default}\n`,
    headers: { 'content-type': 'application/yaml', authorization: `Bearer ${token}` },
  });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200, text);
}

before(async () => {
  const stateDir = tempDir('clew-e2e-authz-state-');
  const configDir = tempDir('clew-e2e-authz-config-');
  writeFileSync(join(configDir, 'web.yaml'), SERVICE);
  cp = await startControlPlane(configDir);
  const serverPlan = await planSidecar({ name: 'web', labels: { app: 'web' }, ports: [WEB, TCP], xdsAddress: cp.xdsAddress, stateDir });
  const web = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`app saw ${req.method} ${req.url}`));
  });
  const tcp = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(`tcp:${d.toString()}`));
  });
  servers.push(web, tcp);
  const appPorts = { [WEB]: await listen(web, serverPlan.address), [TCP]: await listen(tcp, serverPlan.address) };
  const clientPlan = await planSidecar({ name: 'sleep', labels: { app: 'sleep' }, xdsAddress: cp.xdsAddress, stateDir });
  [server, client] = await Promise.all([startSidecar(serverPlan, appPorts), startSidecar(clientPlan)]);
  await waitFor(async () => (await call('/').catch(() => ({ status: 0 }))).status === 200, 20_000, 'web to answer through the mesh');
}, { timeout: 60_000 });

after(() => {
  for (const s of servers) s.close();
});

test('allow-nothing (spec: {}) denies HTTP with 403 "RBAC: access denied" and closes TCP connections', async () => {
  assert.equal((await call('/')).status, 200);
  assert.equal(await tcpEcho(), 'tcp:ping');
  await apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: default}
spec: {}
`);
  await waitFor(async () => (await call('/')).status === 403, 10_000, 'the allow-nothing policy to reach the server sidecar');
  const r = await call('/productpage');
  assert.equal(r.status, 403);
  assert.equal(r.body, 'RBAC: access denied');
  assert.equal(await tcpEcho(), '', 'the TCP connection is closed without a reply');
  assert.ok((await server.stat('http.inbound_0.0.0.0_8080.rbac.denied')) >= 2);
  assert.ok((await server.stat('tcp.rbac.denied')) >= 1);
});

test('ALLOW by method, path and header condition; DENY by source ipBlocks and path wins over ALLOW', async () => {
  await apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-viewer, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - to:
    - operation: {methods: [GET], paths: ["/api/*", "/items/{*}/detail"]}
    when:
    - {key: "request.headers[x-user]", values: [alice, "bob*"]}
  - to:
    - operation: {ports: ["${TCP}"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-secret, namespace: default}
spec:
  action: DENY
  rules:
  - from:
    - source: {ipBlocks: ["${client.address}/32"]}
    to:
    # scoped by port as Istio advises: on the TCP port a DENY rule loses its paths and would
    # refuse every connection from the client pod (mesh-authz-table.test.ts shows that widening)
    - operation: {ports: ["${WEB}"], paths: ["/api/secret"]}
`);
  const alice = ['-H', 'x-user: alice'];
  await waitFor(async () => (await call('/api/list', alice)).status === 200, 10_000, 'web-viewer to allow GET /api/list');
  assert.equal((await call('/api/list', alice)).body, 'app saw GET /api/list');
  assert.equal((await call('/api/list', ['-H', 'x-user: bobby'])).status, 200, 'prefix value');
  assert.equal((await call('/items/7/detail', alice)).status, 200, 'path template {*}');
  assert.equal((await call('/items/7/8/detail', alice)).status, 403, '{*} is one segment');
  assert.equal((await call('/api/list')).status, 403, 'no x-user header');
  assert.equal((await call('/api/list', ['-H', 'x-user: mallory'])).status, 403, 'other user');
  assert.equal((await call('/api/list', [...alice, '-X', 'POST'])).status, 403, 'POST is not allowed');
  assert.equal((await call('/other', alice)).status, 403, 'path not allowed');
  // the source address decides: straight to the server sidecar's inbound listener, once from the
  // client pod's address (denied: DENY wins over ALLOW), once from another (allowed)
  const direct = async (from: string): Promise<{ status: number; body: string }> => {
    const out = await curl(['--interface', from, '-H', 'x-user: alice', '-w', '\n%{http_code}', `http://${server.address}:${WEB}/api/secret`]);
    const nl = out.lastIndexOf('\n');
    return { status: Number(out.slice(nl + 1)), body: out.slice(0, nl) };
  };
  const denied = await direct(client.address);
  assert.equal(denied.status, 403, 'DENY wins over ALLOW');
  assert.equal(denied.body, 'RBAC: access denied');
  assert.equal((await direct('127.0.0.1')).status, 200, 'another source address is not in the ipBlock');
  assert.equal(await tcpEcho(), 'tcp:ping', 'the ports rule allows the TCP port');
});

test('dry run: an istio.io/dry-run DENY only counts (shadow_denied), the request goes through', async () => {
  await apply(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: dry-deny
  namespace: default
  annotations: {istio.io/dry-run: "true"}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/api/dry"]}
`);
  const stat = 'http.inbound_0.0.0.0_8080.rbac.istio_dry_run_deny_shadow_denied';
  await waitFor(async () => {
    const r = await call('/api/dry', ['-H', 'x-user: alice']);
    assert.equal(r.status, 200, 'a dry-run policy never denies');
    return (await server.stat(stat)) >= 1;
  }, 10_000, 'the dry-run policy to count a shadow denial');
  await remove('dry-deny');
  await remove('deny-secret');
  await waitFor(async () => (await curl(['--interface', client.address, '-H', 'x-user: alice', '-o', '/dev/null', '-w', '%{http_code}', `http://${server.address}:${WEB}/api/secret`])) === '200', 10_000, 'deny-secret to be gone');
});
