import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpbinServer } from '../../samples/httpbin/httpbin-app.js';
import { close, get, listen } from './sample-test-mesh.js';

const server = createHttpbinServer();
let port = 0;
before(async () => { port = await listen(server); });
after(() => close(server));

test('/get echoes args, headers (Title-Case), origin and url', async () => {
  const res = await get(port, '/get?a=1&a=2&b=x', { 'x-test-header': 'v', host: 'httpbin:8000' });
  assert.equal(res.status, 200);
  const body = JSON.parse(res.body);
  assert.deepEqual(body.args, { a: ['1', '2'], b: 'x' });
  assert.equal(body.headers['X-Test-Header'], 'v');
  assert.equal(body.headers.Host, 'httpbin:8000');
  assert.equal(body.origin, '127.0.0.1');
  assert.equal(body.url, 'http://httpbin:8000/get?a=1&a=2&b=x');
});

test('/get origin prefers X-Forwarded-For', async () => {
  const body = JSON.parse((await get(port, '/get', { 'x-forwarded-for': '10.1.2.3, 127.0.0.6' })).body);
  assert.equal(body.origin, '10.1.2.3');
});

test('/headers and /ip', async () => {
  assert.equal(JSON.parse((await get(port, '/headers', { 'end-user': 'jason' })).body).headers['End-User'], 'jason');
  assert.deepEqual(JSON.parse((await get(port, '/ip')).body), { origin: '127.0.0.1' });
});

test('/status/<code> answers that code', async () => {
  assert.equal((await get(port, '/status/503')).status, 503);
  assert.equal((await get(port, '/status/418')).status, 418);
  assert.equal((await get(port, '/status/200')).status, 200);
  const picked = (await get(port, '/status/201,202')).status;
  assert.ok(picked === 201 || picked === 202);
  assert.equal((await get(port, '/status/99')).status, 400);
});

test('/delay/<s> waits before answering', async () => {
  const t0 = Date.now();
  const res = await get(port, '/delay/0.3');
  const elapsed = Date.now() - t0;
  assert.equal(res.status, 200);
  assert.ok(elapsed >= 290 && elapsed < 2000, `elapsed ${elapsed}`);
  assert.ok(JSON.parse(res.body).url.endsWith('/delay/0.3'));
});

test('/ lists the endpoints; unknown paths are 404', async () => {
  const index = await get(port, '/');
  assert.equal(index.status, 200);
  assert.ok(index.body.includes('/status/'));
  assert.equal((await get(port, '/nope')).status, 404);
});
