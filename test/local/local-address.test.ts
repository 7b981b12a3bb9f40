import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { allocateAddress, listLeases, pidAlive } from '../../src/local/local-address.js';
import { startFixture, tempStateDir } from './local-test-helpers.js';

test('two allocations get different loopback addresses that can be bound', async () => {
  const dir = tempStateDir();
  const a = await allocateAddress({ stateDir: dir });
  const b = await allocateAddress({ stateDir: dir });
  assert.match(a.address, /^127\.0\.\d+\.\d+$/);
  assert.notEqual(a.address, b.address);
  assert.ok(existsSync(a.file));
  assert.deepEqual(listLeases(dir).map((l) => l.address).sort(), [a.address, b.address].sort());
  a.release();
  b.release();
  assert.equal(existsSync(a.file), false);
});

test('a released address is reused', async () => {
  const dir = tempStateDir();
  const a = await allocateAddress({ stateDir: dir });
  const b = await allocateAddress({ stateDir: dir });
  a.release();
  const c = await allocateAddress({ stateDir: dir });
  assert.equal(c.address, a.address);
  b.release();
  c.release();
});

test('a lease whose owner died is reclaimed', async () => {
  const dir = tempStateDir();
  // pid 2^22+1 is above Linux's pid_max default range: never a live process
  const deadPid = 4194305;
  assert.equal(pidAlive(deadPid), false);
  writeFileSync(join(dir, 'addr-127.0.1.1'), JSON.stringify({ pid: deadPid }));
  const a = await allocateAddress({ stateDir: dir });
  assert.equal(a.address, '127.0.1.1');
  a.release();
});

test('an address whose probe port is taken by a stranger is skipped', async () => {
  const dir = tempStateDir();
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.1.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  try {
    const a = await allocateAddress({ stateDir: dir, probePorts: [port] });
    assert.equal(a.address, '127.0.1.2');
    assert.equal(existsSync(join(dir, 'addr-127.0.1.1')), false, 'the skipped lease is not kept');
    a.release();
  } finally {
    srv.close();
  }
});

test('two processes allocating at the same time never collide', async () => {
  const dir = tempStateDir();
  const env = { CLEW_STATE_DIR: dir, N: '25' };
  const p1 = startFixture('fixture-alloc', [], env);
  const p2 = startFixture('fixture-alloc', [], env);
  const [l1, l2] = (await Promise.all([p1.json, p2.json])) as [string[], string[]];
  assert.equal(l1.length, 25);
  assert.equal(l2.length, 25);
  const all = new Set([...l1, ...l2]);
  assert.equal(all.size, 50, `collision between ${l1} and ${l2}`);
  p1.proc.stdin!.end();
  p2.proc.stdin!.end();
  await Promise.all([p1.exited, p2.exited]);
  assert.deepEqual(listLeases(dir), [], 'leases are released when their owners exit');
});
