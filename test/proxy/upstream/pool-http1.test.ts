/**
 * Http1Pool connection management against real servers on 127.0.0.1: keep-alive reuse, the
 * connection limit with a FIFO queue, connect failures and timeouts, idle timeout, requests per
 * connection, `connection: close` / HTTP/1.0, a server closing an idle socket, abort, close().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { heads, newPool, rawServer, send, sleep, waitFor } from './pool-http1-helpers.js';

interface HttpUp {
  port: number;
  connections: net.Socket[];
  urls: string[];
  seen: http.IncomingMessage[];
  close(): Promise<void>;
}

async function httpUp(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void, keepAliveTimeout = 30_000): Promise<HttpUp> {
  const connections: net.Socket[] = [];
  const urls: string[] = [];
  const seen: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    urls.push(req.url ?? '');
    seen.push(req);
    handler(req, res);
  });
  server.keepAliveTimeout = keepAliveTimeout;
  server.on('connection', (s: net.Socket) => connections.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    urls,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const ok = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
  res.writeHead(200, { 'content-length': '2' }).end('ok');
};

test('keep-alive: sequential requests reuse one connection; the request head carries host and repeated headers', async () => {
  const up = await httpUp(ok);
  const { pool, ev } = newPool(up.port);
  try {
    for (let i = 0; i < 3; i++) {
      const r = await send(pool, { path: `/r${i}`, headers: { host: 'svc:8080', 'x-multi': ['a', 'b'], 'x-one': 'v' } }).done;
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'ok');
      assert.deepEqual(r.calls, ['headers', 'data', 'end']);
    }
    assert.equal(up.connections.length, 1);
    assert.deepEqual(ev, { connect: 1, disconnect: 0, connectFail: 0 });
    assert.deepEqual(up.urls, ['/r0', '/r1', '/r2']);
    const h = up.seen[0].headers;
    assert.equal(h.host, 'svc:8080');
    assert.equal(h['x-multi'], 'a, b');
    assert.equal(h['x-one'], 'v');
    assert.equal(h['content-length'], undefined);
    assert.equal(h['transfer-encoding'], undefined);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('idle connections are reused last-in first-out', async () => {
  const held: http.ServerResponse[] = [];
  const up = await httpUp((_req, res) => held.push(res));
  const { pool } = newPool(up.port);
  try {
    const a = send(pool, { path: '/a' });
    const b = send(pool, { path: '/b' });
    await waitFor(() => held.length === 2, 3000, 'two held requests');
    // the first held connection frees first, then the second: the second is on top of the idle stack
    const sockOf = (i: number) => up.seen[i].socket;
    const ended = () => [a, b].filter((x) => x.result.calls.includes('end')).length;
    held[0].writeHead(200, { 'content-length': '0' }).end();
    await waitFor(() => ended() === 1, 3000, 'first response');
    held[1].writeHead(200, { 'content-length': '0' }).end();
    await waitFor(() => ended() === 2, 3000, 'second response');
    const c = send(pool, { path: '/c' });
    await waitFor(() => held.length === 3, 3000, 'third request');
    assert.equal(sockOf(2), sockOf(1));
    held[2].writeHead(200, { 'content-length': '0' }).end();
    await c.done;
  } finally {
    await pool.close();
    await up.close();
  }
});

test('at maxConnections, requests wait in order and go out as connections free', async () => {
  const held: http.ServerResponse[] = [];
  const up = await httpUp((_req, res) => held.push(res));
  const { pool, ev } = newPool(up.port, { maxConnections: 2 });
  try {
    const sent = [0, 1, 2, 3, 4].map((i) => send(pool, { path: `/${i}` }));
    await waitFor(() => held.length === 2, 3000, 'two in flight');
    await sleep(50);
    assert.equal(held.length, 2, 'no third request while both connections are busy');
    assert.equal(up.connections.length, 2);
    for (let served = 0; served < 5; served++) {
      await waitFor(() => held.length > served, 3000, `request ${served}`);
      held[served].writeHead(200, { 'content-length': '1' }).end(String(served));
      assert.equal((await sent[served].done).body.toString(), String(served));
    }
    assert.deepEqual(up.urls, ['/0', '/1', '/2', '/3', '/4']);
    assert.equal(up.connections.length, 2);
    assert.equal(ev.connect, 2);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('connection refused: error kind connect, onConnectFail, and the next request tries again', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const { pool, ev } = newPool(port);
  try {
    const r1 = await send(pool, {}).done;
    assert.equal(r1.error?.kind, 'connect');
    assert.deepEqual(r1.calls, ['error']);
    const r2 = await send(pool, {}).done;
    assert.equal(r2.error?.kind, 'connect');
    assert.deepEqual(ev, { connect: 0, disconnect: 0, connectFail: 2 });
  } finally {
    await pool.close();
  }
});

test('connect timeout: a listener that never completes the handshake gives kind connect after connectTimeoutMs', async () => {
  // A worker listens with a backlog of 1 and then blocks its event loop: once the accept queue is
  // full the kernel drops further SYNs, so a connect neither succeeds nor fails.
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const net = require('node:net'); const { parentPort, workerData } = require('node:worker_threads');
     const s = net.createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(s.address().port); Atomics.wait(workerData, 0, 0, 20000); });`,
    { eval: true, workerData: shared },
  );
  const port = await new Promise<number>((r) => worker.once('message', r));
  const fillers: net.Socket[] = [];
  try {
    for (let i = 0; i < 4; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => undefined));
    await sleep(100);
    const { pool, ev } = newPool(port, { connectTimeoutMs: 150 });
    const t0 = Date.now();
    const r = await send(pool, {}).done;
    const took = Date.now() - t0;
    assert.equal(r.error?.kind, 'connect');
    assert.match(r.error?.message ?? '', /timeout/);
    assert.ok(took >= 140 && took < 2000, `failed after ${took} ms`);
    assert.equal(ev.connectFail, 1);
    await pool.close();
  } finally {
    for (const f of fillers) f.destroy();
    Atomics.notify(shared, 0);
    await worker.terminate();
  }
});

test('idleTimeoutMs closes an idle connection; onDisconnect; the next request opens a new one', async () => {
  const up = await httpUp(ok);
  const { pool, ev } = newPool(up.port, { idleTimeoutMs: 150 });
  try {
    await send(pool, {}).done;
    const closedAt = new Promise<number>((r) => up.connections[0].once('close', () => r(Date.now())));
    const t0 = Date.now();
    const idle = (await closedAt) - t0;
    assert.ok(idle >= 100 && idle < 2000, `closed after ${idle} ms`);
    await waitFor(() => ev.disconnect === 1, 1000, 'onDisconnect');
    assert.equal((await send(pool, {}).done).status, 200);
    assert.equal(up.connections.length, 2);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('a connection reused more often than idleTimeoutMs stays open; idle time counts from its last exchange', async () => {
  const up = await httpUp(ok);
  const { pool } = newPool(up.port, { idleTimeoutMs: 150 });
  try {
    // eight exchanges 60 ms apart (about 500 ms): one connection throughout
    for (let i = 0; i < 8; i++) {
      assert.equal((await send(pool, {}).done).status, 200);
      await new Promise((r) => setTimeout(r, 60));
    }
    assert.equal(up.connections.length, 1);
    const t0 = Date.now() - 60;
    const closedAt = await new Promise<number>((r) => up.connections[0].once('close', () => r(Date.now())));
    assert.ok(closedAt - t0 >= 120 && closedAt - t0 < 2000, `closed ${closedAt - t0} ms after the last exchange`);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('a long exchange is not cut by the idle timeout', async () => {
  const up = await httpUp((_req, res) => setTimeout(() => res.writeHead(200, { 'content-length': '2' }).end('ok'), 400));
  const { pool } = newPool(up.port, { idleTimeoutMs: 150 });
  try {
    const r = await send(pool, {}).done;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'ok');
  } finally {
    await pool.close();
    await up.close();
  }
});

test('maxRequestsPerConnection 1: one request per connection, sent with connection: close', async () => {
  const up = await httpUp(ok);
  const { pool, ev } = newPool(up.port, { maxRequestsPerConnection: 1 });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await send(pool, {}).done).status, 200);
    assert.equal(up.connections.length, 3);
    assert.equal(up.seen[0].headers.connection, 'close');
    await waitFor(() => ev.disconnect === 3, 2000, 'three disconnects');
  } finally {
    await pool.close();
    await up.close();
  }
});

test('maxRequestsPerConnection 2: four requests use two connections', async () => {
  const up = await httpUp(ok);
  const { pool } = newPool(up.port, { maxRequestsPerConnection: 2 });
  try {
    for (let i = 0; i < 4; i++) assert.equal((await send(pool, {}).done).status, 200);
    assert.equal(up.connections.length, 2);
    assert.equal(up.seen[0].headers.connection, undefined);
    assert.equal(up.seen[1].headers.connection, 'close');
  } finally {
    await pool.close();
    await up.close();
  }
});

test('a server answering connection: close, or HTTP/1.0 without keep-alive, gets a new connection per request', async () => {
  for (const reply of ['HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok', 'HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok']) {
    const up = await rawServer((sock, soFar) => {
      if (heads(soFar) === 1 && soFar.endsWith('\r\n\r\n')) sock.write(reply);
    });
    const { pool, ev } = newPool(up.port);
    try {
      for (let i = 0; i < 2; i++) {
        const r = await send(pool, {}).done;
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), 'ok');
      }
      assert.equal(up.sockets.length, 2, reply);
      await waitFor(() => ev.disconnect === 2, 2000, 'both closed by the pool');
    } finally {
      await pool.close();
      await up.close();
    }
  }
});

test('a server closing an idle keep-alive socket: it leaves the idle list at once and the next request is not reset', async () => {
  const up = await httpUp(ok, 100);
  const { pool, ev } = newPool(up.port);
  try {
    await send(pool, {}).done;
    await waitFor(() => ev.disconnect === 1, 3000, 'server-side close noticed');
    const r = await send(pool, {}).done;
    assert.equal(r.status, 200);
    assert.equal(up.connections.length, 2);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('abort: a queued request is never sent; an in-flight one destroys its connection and hears nothing more', async () => {
  const held: http.ServerResponse[] = [];
  const up = await httpUp((_req, res) => {
    held.push(res);
    res.writeHead(200, { 'content-length': '10' });
    res.write('12345');
  });
  const { pool, ev } = newPool(up.port, { maxConnections: 1 });
  try {
    let gotData!: () => void;
    const first = new Promise<void>((r) => (gotData = r));
    const a = send(pool, { path: '/a' }, () => {
      gotData();
      return true;
    });
    const b = send(pool, { path: '/b' });
    const c = send(pool, { path: '/c' });
    b.control.abort();
    await first;
    a.control.abort();
    a.control.abort();
    await waitFor(() => ev.disconnect === 1, 2000, 'aborted connection closed');
    await waitFor(() => held.length === 2, 2000, 'c sent');
    held[1].end('67890');
    const rc = await c.done;
    assert.equal(rc.status, 200);
    assert.equal(rc.body.toString(), '1234567890');
    assert.deepEqual(up.urls, ['/a', '/c']);
    await sleep(50);
    assert.deepEqual(a.result.calls, ['headers', 'data']);
    assert.deepEqual(b.result.calls, []);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('close(): idle connections close at once, a busy one after its exchange; later sends fail with kind connect', async () => {
  const held: http.ServerResponse[] = [];
  const up = await httpUp((req, res) => (req.url === '/hold' ? held.push(res) : ok(req, res)));
  const { pool, ev } = newPool(up.port);
  try {
    const idle1 = send(pool, {});
    const idle2 = send(pool, {});
    await Promise.all([idle1.done, idle2.done]);
    const busy = send(pool, { path: '/hold' });
    await waitFor(() => held.length === 1, 2000, 'held');
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    await waitFor(() => ev.disconnect === 1, 2000, 'the idle connection closed');
    assert.equal(closed, false);
    const late = await send(pool, {}).done;
    assert.equal(late.error?.kind, 'connect');
    held[0].writeHead(200, { 'content-length': '0' }).end();
    assert.equal((await busy.done).status, 200);
    await closing;
    assert.equal(ev.disconnect, 2);
  } finally {
    await up.close();
  }
});

test('a server closing right after its response (no connection: close): a GET that went out on the dying connection is sent again on a fresh one', async () => {
  const up = await rawServer((sock, soFar) => {
    if (soFar.endsWith('\r\n\r\n')) sock.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  const { pool } = newPool(up.port);
  try {
    for (let i = 0; i < 5; i++) {
      await send(pool, {}).done;
      // after the FIN has been read (end) but before the close callback phase
      const r = await new Promise<Awaited<ReturnType<typeof send>['done']>>((resolve) => setImmediate(() => resolve(send(pool, {}).done)));
      assert.equal(r.status, 200, `round ${i}: ${r.error?.message}`);
    }
  } finally {
    await pool.close();
    await up.close();
  }
});

test('a handler throwing inside a parser callback fails that exchange (kind reset) without crashing the process', async () => {
  const up = await rawServer((sock, soFar) => {
    if (soFar.endsWith('\r\n\r\n')) sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  const { pool } = newPool(up.port);
  try {
    const err = await new Promise<string>((resolve) => {
      pool.send({ method: 'GET', path: '/', authority: 'up', headers: { host: 'up' }, body: null }, {
        onHeaders() {
          throw new Error('handler bug');
        },
        onData: () => true,
        onEnd: () => resolve('end'),
        onError: (e) => resolve(`${e.kind}: ${e.message}`),
      });
    });
    assert.match(err, /^reset: .*handler bug/);
    assert.equal((await send(pool, {}).done).status, 200);
  } finally {
    await pool.close();
    await up.close();
  }
});

test("a server's keep-alive: timeout=N hint: idle connections close 2 s before it (undici's rule), or are not reused at all", async () => {
  const up = await httpUp(ok, 3000); // node answers `Keep-Alive: timeout=3`
  const { pool, ev } = newPool(up.port);
  try {
    const r = await send(pool, {}).done;
    assert.equal(r.headers?.['keep-alive'], 'timeout=3');
    const t0 = Date.now();
    await waitFor(() => ev.disconnect === 1, 2500, 'the pool closing the idle connection');
    const idle = Date.now() - t0;
    assert.ok(idle >= 800 && idle < 2000, `closed after ${idle} ms (hint 3 s - 2 s)`);
  } finally {
    await pool.close();
    await up.close();
  }
  const short = await httpUp(ok, 2000);
  const p2 = newPool(short.port);
  try {
    await send(p2.pool, {}).done;
    await send(p2.pool, {}).done;
    assert.equal(short.connections.length, 2, 'a 2 s hint leaves no time to reuse');
  } finally {
    await p2.pool.close();
    await short.close();
  }
});

test('an idle timeout beyond what node timers hold (30 days) keeps connections open instead of firing at once', async () => {
  const up = await httpUp(ok);
  const { pool, ev } = newPool(up.port, { idleTimeoutMs: 30 * 86_400_000 });
  try {
    await send(pool, {}).done;
    await sleep(100);
    assert.equal(ev.disconnect, 0);
    await send(pool, {}).done;
    assert.equal(up.connections.length, 1);
  } finally {
    await pool.close();
    await up.close();
  }
});
