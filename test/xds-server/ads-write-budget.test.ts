import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteBudget } from '../../src/xds-server/ads-write-budget.js';

const tick = () => new Promise((r) => setImmediate(r));

test('responses beyond the write budget wait until earlier ones are written, first come first served', async () => {
  const b = new WriteBudget(100, 60_000);
  const r1 = await b.acquire(60);
  const r2 = await b.acquire(40);
  assert.equal(b.bytesInFlight, 100);
  const order: string[] = [];
  const p3 = b.acquire(50).then((r) => (order.push('third'), r));
  const p4 = b.acquire(10).then((r) => (order.push('fourth'), r));
  await tick();
  assert.deepEqual(order, [], 'nothing fits while 100 bytes are in flight');
  assert.equal(b.waiting, 2);
  r2();
  await tick();
  // 40 free: the 50-byte response is first in line, and the 10-byte one does not overtake it
  assert.deepEqual(order, []);
  r1();
  r1(); // idempotent
  const r3 = await p3;
  const r4 = await p4;
  assert.deepEqual(order, ['third', 'fourth']);
  assert.equal(b.bytesInFlight, 60);
  r3();
  r4();
  assert.equal(b.bytesInFlight, 0);
});

test('a response larger than the whole budget goes when nothing else is in flight', async () => {
  const b = new WriteBudget(10, 60_000);
  const r = await b.acquire(1000);
  assert.equal(b.bytesInFlight, 1000);
  r();
  assert.equal(b.bytesInFlight, 0);
});

test('a response does not wait longer than maxWaitMs behind a client that does not read', async () => {
  const b = new WriteBudget(100, 50);
  await b.acquire(100); // never released: its client stopped reading
  const t0 = Date.now();
  const r = await b.acquire(10);
  assert.ok(Date.now() - t0 >= 40, 'it waited');
  assert.equal(b.bytesInFlight, 110);
  assert.equal(b.waiting, 0);
  r();
});
