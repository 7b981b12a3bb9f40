/**
 * The lean AsyncResource.bind (upstream/h2-request-bind.ts) keeps Node's bind semantics: the
 * bound function runs in the resource's async scope, with the given `this` or the caller's, and
 * keeps its length; node:http2's request() (its caller on the hot path) still carries the
 * pending request's async context to the stream's start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage, AsyncResource, executionAsyncId } from 'node:async_hooks';
import * as http2 from 'node:http2';
import { installLeanAsyncResourceBind } from '../../../src/proxy/upstream/h2-request-bind.js';

installLeanAsyncResourceBind();

test('a bound function runs in the resource scope with the right this and length', () => {
  const r = new AsyncResource('clew-test');
  const seen: Array<{ id: number; self: unknown; args: unknown[] }> = [];
  function f(this: unknown, a: number, b: number): number {
    seen.push({ id: executionAsyncId(), self: this, args: [a, b] });
    return a + b;
  }
  const own = { own: true };
  // @types/node types bind(fn) only; Node's takes a thisArg too
  const withThis = (r.bind as (fn: typeof f, thisArg?: unknown) => typeof f)(f, own);
  assert.equal(withThis(1, 2), 3);
  assert.equal(withThis.length, 2);
  const callerThis = r.bind(f);
  const holder = { g: callerThis };
  assert.equal(holder.g(3, 4), 7);
  assert.deepEqual(seen.map((s) => s.id), [r.asyncId(), r.asyncId()]);
  assert.equal(seen[0].self, own);
  assert.equal(seen[1].self, holder);
  assert.deepEqual(seen[1].args, [3, 4]);
  assert.equal((callerThis as unknown as { asyncResource: AsyncResource }).asyncResource, r);
  assert.throws(() => r.bind(42 as unknown as () => void), TypeError);
  // the static form goes through the prototype's bind
  const s = AsyncResource.bind(() => executionAsyncId());
  assert.notEqual(s(), executionAsyncId());
});

test('async context crosses a bound call (AsyncLocalStorage)', () => {
  const als = new AsyncLocalStorage<string>();
  const bound = als.run('inside', () => AsyncResource.bind(() => als.getStore()));
  assert.equal(als.getStore(), undefined);
  assert.equal(bound(), 'inside');
});

test('node:http2 requests still work and keep their async context', async () => {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  const als = new AsyncLocalStorage<number>();
  try {
    // requests made before the session connected start from the pending-request binding
    const results = await Promise.all(
      [1, 2, 3].map((n) =>
        als.run(n, () =>
          new Promise<{ n: number | undefined; body: string }>((resolve, reject) => {
            const req = client.request({ ':path': '/' });
            let body = '';
            req.setEncoding('utf8');
            req.on('data', (c: string) => (body += c));
            req.on('end', () => resolve({ n: als.getStore(), body }));
            req.on('error', reject);
          }),
        ),
      ),
    );
    assert.deepEqual(results, [{ n: 1, body: 'ok' }, { n: 2, body: 'ok' }, { n: 3, body: 'ok' }]);
  } finally {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
