/**
 * The write API needs the admin token and refuses what a browser page could send (issue 23 item
 * 7: a text/plain cross-origin POST to /apis/v1/apply was accepted: CSRF and DNS rebinding).
 * `clew apply/delete` find the token with no flag; --token-file and $CLEW_CONTROL_PLANE_TOKEN
 * override it; --listen-address puts xDS apart from the debug/write API.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { tokenFileName } from '../../src/control-plane/admin-token.js';
import { runClew } from '../helpers/run-clew.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-auth-state-'));
process.env.CLEW_STATE_DIR = stateDir;

let cp: ControlPlane;
let dir: string;
const tmp: string[] = [stateDir];

const VS = (name: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [${name}]
  http: [{route: [{destination: {host: ${name}}}]}]
`;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-auth-'));
  tmp.push(dir);
  cp = new ControlPlane({ configDir: dir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, listenAddress: '127.0.0.2', debounceMs: 20, log: () => {} });
  await cp.start();
});

after(async () => {
  await cp.stop();
  for (const d of tmp) fs.rmSync(d, { recursive: true, force: true });
});

async function call(p: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const r = await request(`http://127.0.0.1:${cp.debugPort}${p}`, { method: (init.method ?? 'GET') as 'GET', body: init.body, headers: init.headers });
  const text = await r.body.text();
  return { status: r.statusCode, text, headers: r.headers };
}

test('a browser-style cross-origin text/plain POST is refused and changes nothing', async () => {
  const r = await call('/apis/v1/apply', {
    method: 'POST', body: VS('csrf'),
    headers: { 'content-type': 'text/plain', origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
  });
  assert.equal(r.status, 403, r.text);
  assert.match(r.text, /cross-origin write refused/);
  // even with the token, a cross-origin page cannot write
  const withToken = await call('/apis/v1/apply', {
    method: 'POST', body: VS('csrf'), headers: { 'content-type': 'application/yaml', origin: 'http://evil.example', authorization: `Bearer ${cp.adminToken}` },
  });
  assert.equal(withToken.status, 403);
  assert.equal(cp.store.get('VirtualService', 'default', 'csrf'), undefined);
});

test('DNS rebinding: a Host that is not this server is refused for reads and writes', async () => {
  for (const host of [`evil.example:${cp.debugPort}`, 'evil.example', `127.0.0.1:${cp.debugPort + 1}`]) {
    const r = await call('/debug/configz', { headers: { host } });
    assert.equal(r.status, 403, host);
    assert.match(r.text, /is not this control plane's address/);
  }
  for (const host of [`127.0.0.1:${cp.debugPort}`, `localhost:${cp.debugPort}`, 'localhost']) {
    assert.equal((await call('/debug/configz', { headers: { host } })).status, 200, host);
  }
});

test('writes need the admin token and a YAML or JSON body; reads stay open', async () => {
  const noToken = await call('/apis/v1/apply', { method: 'POST', body: VS('a'), headers: { 'content-type': 'application/yaml' } });
  assert.equal(noToken.status, 401);
  assert.match(String(noToken.headers['www-authenticate']), /^Bearer/);
  const wrong = await call('/apis/v1/apply', { method: 'POST', body: VS('a'), headers: { 'content-type': 'application/yaml', authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  const plain = await call('/apis/v1/apply', { method: 'POST', body: VS('a'), headers: { 'content-type': 'text/plain', authorization: `Bearer ${cp.adminToken}` } });
  assert.equal(plain.status, 415);
  const form = await call('/apis/v1/delete', { method: 'POST', body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${cp.adminToken}` } });
  assert.equal(form.status, 415);
  const del = await call('/apis/v1/resources/VirtualService/default/a', { method: 'DELETE' });
  assert.equal(del.status, 401);
  assert.equal(cp.store.get('VirtualService', 'default', 'a'), undefined);
  const ok = await call('/apis/v1/apply', { method: 'POST', body: VS('a'), headers: { 'content-type': 'application/yaml; charset=utf-8', authorization: `Bearer ${cp.adminToken}` } });
  assert.equal(ok.status, 200, ok.text);
  const json = await call('/apis/v1/apply', { method: 'POST', body: JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'j' }, spec: { hosts: ['j'], http: [{ route: [{ destination: { host: 'j' } }] }] } }), headers: { 'content-type': 'application/json', authorization: `Bearer ${cp.adminToken}` } });
  assert.equal(json.status, 200, json.text);
  assert.equal((await call('/apis/v1/resources?kind=VirtualService')).status, 200);
});

test('the token is created once, kept 0600 in .clew/secrets (0700) and published 0600 for this user', async () => {
  const secret = path.join(dir, '.clew', 'secrets', 'admin-token');
  assert.equal(fs.statSync(path.dirname(secret)).mode & 0o777, 0o700);
  assert.equal(fs.statSync(secret).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(secret, 'utf8').trim(), cp.adminToken);
  assert.ok(cp.adminToken.length >= 40);
  const published = path.join(stateDir, 'control-plane', tokenFileName('127.0.0.1', cp.debugPort));
  assert.equal(fs.statSync(published).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(published, 'utf8').trim(), cp.adminToken);
  const again = new ControlPlane({ configDir: dir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, publishToken: false, log: () => {} });
  assert.equal(again.adminToken, cp.adminToken);
});

test('clew apply/delete find the token with no flag; --token-file and $CLEW_CONTROL_PLANE_TOKEN override it', async () => {
  const file = path.join(dir, '..', `vs-${process.pid}.yaml`);
  fs.writeFileSync(file, VS('cli'));
  tmp.push(file);
  const base = ['--control-plane', `http://127.0.0.1:${cp.debugPort}`];
  const applied = await runClew(['apply', '-f', file, ...base]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.ok(cp.store.get('VirtualService', 'default', 'cli'));
  const badFile = path.join(dir, '..', `bad-token-${process.pid}`);
  fs.writeFileSync(badFile, 'wrong\n');
  tmp.push(badFile);
  const refused = await runClew(['delete', '-f', file, '--token-file', badFile, ...base]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /admin token/);
  assert.ok(cp.store.get('VirtualService', 'default', 'cli'));
  const envWrong = await new Promise<{ code: number; stderr: string }>((resolve) => {
    process.env.CLEW_CONTROL_PLANE_TOKEN = 'wrong';
    void runClew(['delete', 'vs', 'cli', ...base]).then((r) => {
      delete process.env.CLEW_CONTROL_PLANE_TOKEN;
      resolve(r);
    });
  });
  assert.equal(envWrong.code, 1, envWrong.stderr);
  const deleted = await runClew(['delete', 'vs', 'cli', ...base]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal(cp.store.get('VirtualService', 'default', 'cli'), undefined);
});

test('--listen-address puts xDS on its own address; the debug/write API stays on loopback 127.0.0.1', async () => {
  const onXdsAddress = (port: number, host: string) => new Promise<boolean>((resolve) => {
    const s = net.connect(port, host, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
  assert.equal(await onXdsAddress(cp.xdsPort, '127.0.0.2'), true);
  assert.equal(await onXdsAddress(cp.xdsPort, '127.0.0.1'), false);
  assert.equal(await onXdsAddress(cp.debugPort, '127.0.0.1'), true);
  assert.equal(await onXdsAddress(cp.debugPort, '127.0.0.2'), false);
});
