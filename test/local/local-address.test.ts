import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { allocateAddress, listLeases, pidAlive } from '../../src/local/local-address.js';
import { startFixture, tempStateDir } from './local-test-helpers.js';

// this file's own address block: test files run in parallel with separate state dirs
process.env.CLEW_LOCAL_FIRST_BLOCK = '10';

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
  writeFileSync(join(dir, 'addr-127.0.10.1'), JSON.stringify({ pid: deadPid }));
  const a = await allocateAddress({ stateDir: dir });
  assert.equal(a.address, '127.0.10.1');
  a.release();
});

test('an address whose probe port is taken by a stranger is skipped', async () => {
  const dir = tempStateDir();
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.10.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  try {
    const a = await allocateAddress({ stateDir: dir, probePorts: [port] });
    assert.equal(a.address, '127.0.10.2');
    assert.equal(existsSync(join(dir, 'addr-127.0.10.1')), false, 'the skipped lease is not kept');
    a.release();
  } finally {
    srv.close();
  }
});

test('two processes allocating at the same time never collide', async () => {
  const dir = tempStateDir();
  const env = { CLEW_STATE_DIR: dir, N: '40' };
  const procs = [1, 2, 3].map(() => startFixture('fixture-alloc', [], env));
  try {
    const lists = (await Promise.all(procs.map((p) => p.json))) as string[][];
    for (const l of lists) assert.equal(l.length, 40);
    const all = lists.flat();
    const dup = all.filter((a, i) => all.indexOf(a) !== i);
    assert.deepEqual(dup, [], 'no address is leased twice');
    for (const p of procs) p.proc.stdin!.end();
    await Promise.all(procs.map((p) => p.exited));
    assert.deepEqual(listLeases(dir), [], 'leases are released when their owners exit');
  } finally {
    for (const p of procs) p.proc.kill('SIGKILL');
  }
});
