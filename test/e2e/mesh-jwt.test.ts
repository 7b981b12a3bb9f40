/**
 * RequestAuthentication end to end (Istio's jwt_test shapes) through real sidecars: curl ->
 * client sidecar -> server sidecar (jwt_authn + istio_authn + RBAC) -> app. Keys made with jose
 * for the test: issuer A inline (`jwks`), issuer B remote (`jwksUri`, served by the test, down at
 * first and then up: tokens work again without a restart).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { freePorts } from '../../src/local/local-ports.js';
import { applyConfig, curl, planSidecar, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '73';

const WEB = 8080;
const ISS_A = 'https://issuer-a.example';
const ISS_B = 'https://issuer-b.example';

let cp: ControlPlaneProc;
let client: Sidecar;
let server: Sidecar;
let app: http.Server;
let jwksServer: http.Server | undefined;
let jwksPort = 0;
let keyA: CryptoKey;
let keyB: CryptoKey;
let otherKey: CryptoKey;
let jwkA: JWK;
let jwkB: JWK;

async function token(key: CryptoKey, kid: string, iss: string, claims: Record<string, unknown> = {}, exp = '10m'): Promise<string> {
  return new SignJWT({ groups: ['dev'], ...claims }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(iss).setSubject('alice')
    .setAudience('web').setIssuedAt().setExpirationTime(exp).sign(key);
}

async function call(path: string, tok?: string): Promise<{ status: number; body: string }> {
  const auth = tok ? ['-H', `authorization: Bearer ${tok}`] : [];
  const out = await curl(['-x', client.outboundUrl, '-w', '\n%{http_code}', ...auth, `http://web:${WEB}${path}`]);
  const nl = out.lastIndexOf('\n');
  return { status: Number(out.slice(nl + 1)), body: out.slice(0, nl) };
}

function startJwks(): Promise<void> {
  const srv = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwkB] })));
  jwksServer = srv;
  return new Promise((r) => srv.listen(jwksPort, '127.0.0.1', () => r()));
}

before(async () => {
  const pubA = (await generateKeyPair('ES256', { extractable: true }));
  keyA = pubA.privateKey;
  jwkA = { ...(await exportJWK(pubA.publicKey)), kid: 'a1', alg: 'ES256', use: 'sig' };
  const b = await generateKeyPair('ES256', { extractable: true });
  keyB = b.privateKey;
  jwkB = { ...(await exportJWK(b.publicKey)), kid: 'b1', alg: 'ES256', use: 'sig' };
  ({ privateKey: otherKey } = await generateKeyPair('ES256'));
  [jwksPort] = await freePorts('127.0.0.1', 1);

  const stateDir = tempDir('clew-e2e-jwt-state-');
  const configDir = tempDir('clew-e2e-jwt-config-');
  writeFileSync(join(configDir, 'web.yaml'), `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http-web, port: ${WEB}, targetPort: ${WEB}}
`);
  cp = await startControlPlane(configDir);
  const serverPlan = await planSidecar({ name: 'web', labels: { app: 'web' }, ports: [WEB], xdsAddress: cp.xdsAddress, stateDir });
  app = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, headers: req.headers })));
  });
  await new Promise<void>((r) => app.listen(0, serverPlan.address, () => r()));
  const clientPlan = await planSidecar({ name: 'sleep', labels: { app: 'sleep' }, xdsAddress: cp.xdsAddress, stateDir });
  [server, client] = await Promise.all([
    startSidecar(serverPlan, { [WEB]: (app.address() as net.AddressInfo).port }),
    startSidecar(clientPlan),
  ]);
  await waitFor(async () => (await call('/').catch(() => ({ status: 0 }))).status === 200, 20_000, 'web to answer through the mesh');
  await applyConfig(cp, `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  jwtRules:
  - issuer: ${ISS_A}
    audiences: [web]
    jwks: '${JSON.stringify({ keys: [jwkA] })}'
    outputClaimToHeaders:
    - {header: x-jwt-sub, claim: sub}
  - issuer: ${ISS_B}
    jwksUri: http://127.0.0.1:${jwksPort}/jwks.json
    timeout: 1s
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from:
    - source: {requestPrincipals: ["*"]}
    to:
    - operation: {paths: ["/secure/*"]}
  - to:
    - operation: {paths: ["/admin/*"]}
    when:
    - {key: "request.auth.claims[groups]", values: [admin]}
  - to:
    - operation: {notPaths: ["/secure/*", "/admin/*"]}
`);
  await waitFor(async () => (await call('/secure/x')).status === 403, 10_000, 'the policies to reach the server sidecar');
}, { timeout: 60_000 });

after(() => {
  app?.close();
  jwksServer?.close();
});

test('a valid token: 200, principal for RBAC, claim header out, token not forwarded', async () => {
  const r = await call('/secure/x', await token(keyA, 'a1', ISS_A));
  assert.equal(r.status, 200, r.body);
  const seen = JSON.parse(r.body) as { headers: Record<string, string> };
  assert.equal(seen.headers['x-jwt-sub'], 'alice');
  assert.equal(seen.headers.authorization, undefined, 'forwardOriginalToken false: the token is stripped');
});

test('no token: passes where no principal is required, 403 where one is', async () => {
  assert.equal((await call('/public')).status, 200);
  const r = await call('/secure/x');
  assert.equal(r.status, 403);
  assert.equal(r.body, 'RBAC: access denied');
});

test('bad tokens are 401 even where none is required: bad signature, expired, wrong issuer, wrong audience', async () => {
  const cases: Array<[string, string]> = [
    ['bad signature', await token(otherKey, 'a1', ISS_A)],
    ['expired', await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'a1' }).setIssuer(ISS_A).setSubject('alice').setAudience('web').setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(keyA)],
    ['wrong issuer', await token(keyA, 'a1', 'https://evil.example')],
    ['wrong audience', await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'a1' }).setIssuer(ISS_A).setSubject('x').setAudience('other').setExpirationTime('5m').sign(keyA)],
  ];
  for (const [what, tok] of cases) {
    const r = await call('/public', tok);
    assert.equal(r.status, 401, `${what}: ${r.body}`);
  }
  assert.equal((await call('/public', await token(keyA, 'a1', ISS_A, {}, '5m'))).status, 200);
});

test('claims in when: groups must contain admin', async () => {
  assert.equal((await call('/admin/x', await token(keyA, 'a1', ISS_A))).status, 403);
  assert.equal((await call('/admin/x', await token(keyA, 'a1', ISS_A, { groups: ['dev', 'admin'] }))).status, 200);
  assert.equal((await call('/admin/x')).status, 403);
});

test('remote JWKS: down (401, logged once), then up: tokens work again without a restart', async () => {
  const tok = await token(keyB, 'b1', ISS_B);
  const down = await call('/secure/x', tok);
  assert.equal(down.status, 401);
  assert.match(down.body, /Jwks remote fetch is failed/);
  await startJwks();
  await waitFor(async () => (await call('/secure/x', tok)).status === 200, 15_000, 'the JWKS to be fetched again');
  assert.match(server.output(), /jwks http:\/\/127\.0\.0\.1:\d+\/jwks\.json: fetch failed/);
  assert.equal(server.output().split('\n').filter((l) => /jwks \S+: fetch failed/.test(l)).length, 1, 'one log line per outage');
});
