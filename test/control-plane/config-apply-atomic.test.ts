/**
 * An apply is all or nothing (issue 23 item 6): a valid 243-character name made `apply` fail with
 * a 500 after earlier documents of the same request were stored but never pushed; a config dir
 * that cannot be written (full disk) must leave nothing stored and push nothing; an Istio kind
 * Clew does not implement refuses the whole request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { ConfigStore, ConfigWriteError } from '../../src/control-plane/config-store.js';

const vs = (name: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [${name.slice(0, 40)}]
  http: [{route: [{destination: {host: reviews}}]${extra}}]
`;
const LONG = `${'a'.repeat(61)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(53)}`;

let cp: ControlPlane;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-atomic-'));
  cp = new ControlPlane({ configDir: dir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, debounceMs: 20, log: () => {} });
  await cp.start();
});

after(async () => {
  await cp.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function post(p: string, body: string): Promise<{ status: number; body: any }> {
  const r = await request(`http://127.0.0.1:${cp.debugPort}${p}`, {
    method: 'POST', body, headers: { 'content-type': 'application/yaml', authorization: `Bearer ${cp.adminToken}` },
  });
  return { status: r.statusCode, body: await r.body.json() };
}

test('a valid 243-character name is applied with the documents before it, and survives a restart', async () => {
  assert.equal(LONG.length, 243);
  const r = await post('/apis/v1/apply?file=long.yaml', `${vs('first')}---\n${vs(LONG)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.results.map((x: { action: string }) => x.action), ['created', 'created']);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.every((f) => Buffer.byteLength(f) <= 255), files.join(', '));
  assert.equal(files.length, 2);
  const again = new ConfigStore(dir);
  again.reload();
  assert.ok(again.get('VirtualService', 'default', LONG));
  assert.ok(again.get('VirtualService', 'default', 'first'));
});

test('names that would share a file name keep their own files', async () => {
  const store = new ConfigStore(fs.mkdtempSync(path.join(os.tmpdir(), 'clew-atomic-names-')));
  try {
    const a = vs('b-c').replace('metadata: {name: b-c}', 'metadata: {name: b-c, namespace: a}');
    const b = vs('c').replace('metadata: {name: c}', 'metadata: {name: c, namespace: a-b}');
    await store.apply(`${a}---\n${b}`, 'x.yaml');
    const fresh = new ConfigStore(store.dir);
    fresh.reload();
    assert.ok(fresh.get('VirtualService', 'a', 'b-c'));
    assert.ok(fresh.get('VirtualService', 'a-b', 'c'));
  } finally {
    fs.rmSync(store.dir, { recursive: true, force: true });
  }
});

test('an unsupported Istio kind in the request refuses all of it: nothing stored, nothing pushed', async () => {
  let changes = 0;
  const onChange = () => changes++;
  cp.store.on('change', onChange);
  const r = await post('/apis/v1/apply?file=mixed.yaml',
    `${vs('mixed')}---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: wasm}\nspec: {}\n`);
  assert.equal(r.status, 422);
  assert.match(r.body.messages.map((m: { text: string }) => m.text).join('\n'), /extensions\.istio\.io\/v1alpha1 WasmPlugin is not supported by Clew/);
  assert.equal(cp.store.get('VirtualService', 'default', 'mixed'), undefined);
  cp.store.off('change', onChange);
  assert.equal(changes, 0); // no change event: no push
});

test('a config dir that runs out of space mid-apply leaves nothing stored, no file behind, no change event (root: mounts a tmpfs)', async () => {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-atomic-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
  try {
    const store = new ConfigStore(mnt);
    await store.apply(vs('kept'), 'k.yaml');
    // leave about 6 KB free: the first big document fits, the second does not
    const free = () => fs.statfsSync(mnt).bavail * fs.statfsSync(mnt).bsize;
    fs.writeFileSync(path.join(mnt, '.filler'), Buffer.alloc(Math.max(0, free() - 6 * 1024)));
    const big = (name: string) => vs(name, `, headers: {request: {set: {x-pad: ${'p'.repeat(4000)}}}}`);
    let changes = 0;
    store.on('change', () => changes++);
    const before = fs.readdirSync(mnt).sort();
    await assert.rejects(() => store.apply(`${big('one')}---\n${big('two')}---\n${vs('kept', ', timeout: 2s')}`, 'big.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigWriteError, String(err));
      assert.match((err as Error).message, /ENOSPC.*nothing was changed/);
      return true;
    });
    assert.deepEqual(fs.readdirSync(mnt).sort(), before);
    assert.equal(store.get('VirtualService', 'default', 'one'), undefined);
    assert.equal((store.get('VirtualService', 'default', 'kept')!.spec as any).http[0].timeout, undefined);
    assert.equal(changes, 0);
    const fresh = new ConfigStore(mnt);
    fresh.reload();
    assert.deepEqual(fresh.all().map((r) => r.metadata.name), ['kept']);
  } finally {
    execFileSync('umount', [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  }
});
